"""One error shape for every failure: ``{"error": {"code", "message", "details"}}``.

Domain errors (:class:`najda.errors.NajdaError`) carry their status, code and a message
safe to show; HTTP errors raised by Flask and Werkzeug (unknown route, wrong method, bad
request) are given the same shape; anything else is logged and answered with a generic
500. No traceback or exception text ever reaches the client.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from flask import Flask, Request, Response, jsonify
from werkzeug.exceptions import HTTPException, UnsupportedMediaType

from najda.errors import InvalidInput, NajdaError

log = logging.getLogger(__name__)


class MalformedJSON(InvalidInput):
    code = "malformed_json"


class NajdaRequest(Request):
    """A request whose JSON parsing failures become :class:`MalformedJSON`."""

    def on_json_loading_failed(self, e: ValueError | None) -> NoReturn:
        if e is None:
            raise UnsupportedMediaType(
                "The request body must be JSON (Content-Type: application/json)."
            )
        raise MalformedJSON(
            "The request body is not valid JSON.", details={"reason": _json_reason(e)}
        )


def _json_reason(exc: ValueError) -> str:
    # json.JSONDecodeError names the position without echoing the body back.
    msg = getattr(exc, "msg", None)
    pos = getattr(exc, "pos", None)
    return f"{msg} at character {pos}" if msg is not None else "unparsable JSON"


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _http_code(exc: HTTPException) -> str:
    return (exc.name or "error").lower().replace(" ", "_").replace("'", "")


def handle_najda_error(exc: NajdaError) -> Response:
    if exc.status >= 500:
        log.error("%s: %s %s", exc.code, exc.message, exc.details)
    return error_response(exc.status, exc.to_dict())


def handle_http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    details: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if status == 405:
        allowed = sorted(getattr(exc, "valid_methods", None) or [])
        details["allowed_methods"] = allowed
        headers["Allow"] = ", ".join(allowed)
    return error_response(
        status, error_body(_http_code(exc), exc.description or "", details), headers
    )


def handle_unexpected(exc: Exception) -> Response:
    log.exception("unhandled error")
    return error_response(
        500, error_body("internal_error", "An unexpected error occurred; it has been logged.")
    )


def init_app(app: Flask) -> None:
    app.register_error_handler(NajdaError, handle_najda_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
