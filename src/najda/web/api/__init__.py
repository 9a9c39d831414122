"""The JSON API under ``/api/v1``: one blueprint, one module per feature.

To add a feature, write ``najda/web/api/<feature>.py`` whose views use
``@bp.get(...)`` / ``@bp.post(...)`` on the blueprint imported from here, then add one
import line at the bottom of this file. Every view checks the caller's permission with
:func:`najda.web.api.auth.authorized`, and the module describes its routes in an
``openapi_paths()`` function that :mod:`najda.web.api.openapi` calls (a test fails on
any route left undescribed). Errors raised in views (any
:class:`najda.errors.NajdaError`) are answered in the one error shape by
:mod:`najda.web.errors`; :func:`json_body` reads a JSON request body.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from najda.errors import InvalidInput

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def json_body() -> dict[str, Any]:
    """The request's JSON object; malformed JSON or a non-object is a 400 in the error shape."""
    body = request.get_json(force=False, silent=False)
    if not isinstance(body, dict):
        raise InvalidInput(
            "The request body must be a JSON object.", details={"received": type(body).__name__}
        )
    return body


# Feature modules: each import registers that module's routes on ``bp``; one line each.
# isort: off
from najda.web.api import geo, tiles  # noqa: E402,F401
from najda.web.api import auth, incidents, openapi, units  # noqa: E402,F401
from najda.web.api import search  # noqa: E402,F401
from najda.web.api import avl, events  # noqa: E402,F401
from najda.web.api import catalogue  # noqa: E402,F401

# isort: on
from najda.web.api import analytics  # noqa: E402,F401
