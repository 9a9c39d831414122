"""Who is calling: log in and out (a session cookie), API tokens (bearer), users.

Every view of the API asks :func:`authorized` for the calling user with the permission
it needs; the domain functions check again. An ``Authorization: Bearer`` header wins
over a session cookie. State-changing endpoints read a JSON body (or use DELETE), which
a browser cannot send cross-site without a CORS preflight that is never granted; only
logout takes no body, and a forged logout does no harm.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, session

from najda.dispatch import auth as domain
from najda.dispatch.auth import TokenInfo, User
from najda.dispatch.timefmt import shown
from najda.errors import InvalidInput, Unauthorized
from najda.web.api import bp, json_body
from najda.web.state import engine

_SESSION_KEY = "najda_user_id"


def current_user() -> User | None:
    """The authenticated caller, or None; a bad bearer token is a 401."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use Authorization: Bearer <API token>")
        return domain.authenticate_token(engine(), token.strip())
    user_id = session.get(_SESSION_KEY)
    if not isinstance(user_id, int):
        return None
    return domain.get_user(engine(), user_id)


def authorized(permission: str) -> User:
    """The caller if allowed ``permission``, else 401/403 in the error shape."""
    return domain.require(current_user(), permission)


def _str_field(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{name} must be a non-empty string", details={"field": name})
    return value


def token_json(info: TokenInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "user_id": info.user_id,
        "created_at": shown(info.created_at),
        "last_used_at": shown(info.last_used_at),
        "revoked_at": shown(info.revoked_at),
    }


@bp.post("/auth/login")
def login() -> Response:
    body = json_body()
    user = domain.authenticate_password(
        engine(),
        username=_str_field(body, "username") or "",
        password=_str_field(body, "password") or "",
    )
    session.clear()
    session[_SESSION_KEY] = user.id
    return jsonify({"user": user.as_dict()})


@bp.post("/auth/logout")
def logout() -> Response:
    session.clear()
    return jsonify({"logged_out": True})


@bp.get("/auth/me")
def me() -> Response:
    return jsonify({"user": authorized("read").as_dict()})


@bp.get("/auth/tokens")
def tokens() -> Response:
    user = authorized("read")
    return jsonify(
        {"tokens": [token_json(t) for t in domain.list_tokens(engine(), user_id=user.id)]}
    )


@bp.post("/auth/tokens")
def create_token() -> tuple[Response, int]:
    user = authorized("read")
    name = _str_field(json_body(), "name") or ""
    info, secret = domain.issue_token(engine(), user_id=user.id, name=name)
    return jsonify({**token_json(info), "token": secret}), 201


@bp.delete("/auth/tokens/<int:token_id>")
def revoke_token(token_id: int) -> Response:
    user = authorized("read")
    return jsonify(token_json(domain.revoke_token(engine(), token_id=token_id, by=user)))


@bp.get("/users")
def users() -> Response:
    authorized("admin")
    return jsonify({"users": [u.as_dict() for u in domain.list_users(engine())]})


@bp.post("/users")
def create_user() -> tuple[Response, int]:
    authorized("admin")
    body = json_body()
    user = domain.create_user(
        engine(),
        username=_str_field(body, "username") or "",
        role=_str_field(body, "role") or "",
        password=_str_field(body, "password", required=False),
        display_name=_str_field(body, "display_name", required=False),
        agency_code=_str_field(body, "agency", required=False),
    )
    return jsonify({"user": user.as_dict()}), 201
