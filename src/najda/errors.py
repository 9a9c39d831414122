"""Domain errors. Each carries an HTTP status, a stable code and a message safe to show.

The web layer turns any :class:`NajdaError` into the one error shape
``{"error": {"code", "message", "details"}}``; the command line prints its message on one
line and exits non-zero. Nothing else (tracebacks, SQL) is shown to users.
"""

from __future__ import annotations

from typing import Any


class NajdaError(Exception):
    status = 500
    code = "internal_error"

    def __init__(
        self, message: str, *, details: dict[str, Any] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidInput(NajdaError, ValueError):
    status = 400
    code = "invalid_input"


class NotFound(NajdaError, LookupError):
    status = 404
    code = "not_found"


class Conflict(NajdaError):
    status = 409
    code = "conflict"


class Unauthorized(NajdaError):
    status = 401
    code = "unauthorized"


class Forbidden(NajdaError):
    status = 403
    code = "forbidden"


class Unprocessable(NajdaError):
    status = 422
    code = "unprocessable"


class ImportFailed(NajdaError):
    """An import could not run; nothing was changed in the database."""

    status = 422
    code = "import_failed"


class Unavailable(NajdaError):
    status = 503
    code = "unavailable"
