"""People, roles and API tokens.

People log in with a password (hashed with werkzeug's default, scrypt); machines use API
tokens, random secrets of which only a SHA-256 digest is stored (a token carries 256
bits of entropy, so a fast digest is safe and lets a request be looked up by it).

Roles and what they may do:

============  ============================================================
planner       read everything
dispatcher    read; create and classify incidents, assign units, move the lifecycle
supervisor    what a dispatcher does; override priority, reopen incidents, take units
              out of service and back
admin         everything, plus users, tokens of others, units, catalogue
============  ============================================================
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text
from werkzeug.security import check_password_hash, generate_password_hash

from najda.dispatch.store import transaction
from najda.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized

ROLES = ("dispatcher", "supervisor", "planner", "admin")

PERMISSIONS: Mapping[str, frozenset[str]] = {
    "read": frozenset(ROLES),
    "dispatch": frozenset({"dispatcher", "supervisor", "admin"}),
    "override": frozenset({"supervisor", "admin"}),
    "unit_service": frozenset({"supervisor", "admin"}),
    "admin": frozenset({"admin"}),
}

TOKEN_PREFIX = "njd_"


@functools.cache
def _dummy_hash() -> str:
    """A hash to check unknown users against, so their answer takes as long (made once,
    on first use rather than at import)."""
    return generate_password_hash("not a real password")


_MIN_PASSWORD = 8


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    display_name: str | None = None
    agency_id: int | None = None

    def can(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "role": self.role,
            "display_name": self.display_name,
            "agency_id": self.agency_id,
        }


@dataclass(frozen=True)
class TokenInfo:
    id: int
    user_id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def require(user: User | None, permission: str) -> User:
    """The user, if allowed ``permission``; else 401 (nobody) or 403 (wrong role)."""
    if user is None:
        raise Unauthorized("log in or send an API token")
    if not user.can(permission):
        raise Forbidden(
            f"the {user.role} role may not do this",
            details={"role": user.role, "needs": sorted(PERMISSIONS[permission])},
        )
    return user


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row: Any) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        role=row["role"],
        display_name=row["display_name"],
        agency_id=row["agency_id"],
    )


_USER_COLUMNS = "u.id, u.username, u.role, u.display_name, u.agency_id"


def create_user(
    engine: Engine,
    *,
    username: str,
    role: str,
    password: str | None,
    display_name: str | None = None,
    agency_code: str | None = None,
) -> User:
    """A new person (or, without a password, a service account for API tokens)."""
    username = username.strip()
    if not username or len(username) > 100:
        raise InvalidInput("a user name is required (at most 100 characters)")
    if role not in ROLES:
        raise InvalidInput(f"unknown role: {role}", details={"known": list(ROLES)})
    if password is not None and len(password) < _MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {_MIN_PASSWORD} characters")
    hashed = generate_password_hash(password) if password is not None else None
    with transaction(engine) as conn:
        agency_id = None
        if agency_code:
            agency_id = conn.execute(
                text("SELECT id FROM agency WHERE code = :c"), {"c": agency_code}
            ).scalar()
            if agency_id is None:
                raise InvalidInput(f"unknown agency: {agency_code}")
        row = (
            conn.execute(
                text(f"""
            INSERT INTO app_user AS u (username, role, display_name, agency_id, password_hash)
            VALUES (:username, :role, :display_name, :agency_id, :hash)
            RETURNING {_USER_COLUMNS}"""),
                {
                    "username": username,
                    "role": role,
                    "display_name": display_name,
                    "agency_id": agency_id,
                    "hash": hashed,
                },
            )
            .mappings()
            .one()
        )
    return _user(row)


def set_password(engine: Engine, *, username: str, password: str) -> None:
    if len(password) < _MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {_MIN_PASSWORD} characters")
    with transaction(engine) as conn:
        done = conn.execute(
            text("UPDATE app_user SET password_hash = :h WHERE username = :u"),
            {"h": generate_password_hash(password), "u": username},
        ).rowcount
    if not done:
        raise NotFound(f"no user {username}")


def authenticate_password(engine: Engine, *, username: str, password: str) -> User:
    """The active user with this name and password, else 401 (never saying which failed)."""
    with transaction(engine) as conn:
        row = (
            conn.execute(
                text(f"""
            SELECT {_USER_COLUMNS}, u.password_hash FROM app_user u
            WHERE u.username = :u AND u.active"""),
                {"u": username},
            )
            .mappings()
            .first()
        )
    stored = row["password_hash"] if row is not None else None
    # compare even for unknown users so timing does not reveal which names exist
    ok = check_password_hash(stored or _dummy_hash(), password)
    if row is None or stored is None or not ok:
        raise Unauthorized("wrong user name or password")
    return _user(row)


def get_user(engine: Engine, user_id: int) -> User | None:
    """The active user with this id (for a logged-in session), else None."""
    with transaction(engine) as conn:
        row = conn.execute(
            text(f"SELECT {_USER_COLUMNS} FROM app_user u WHERE u.id = :id AND u.active"),
            {"id": user_id},
        )
        found = row.mappings().first()
    return _user(found) if found is not None else None


def issue_token(engine: Engine, *, user_id: int, name: str) -> tuple[TokenInfo, str]:
    """A new API token for the user: its record and the secret, shown only this once."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("a token needs a name (at most 100 characters)")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction(engine) as conn:
        row = (
            conn.execute(
                text("""
            INSERT INTO api_token (user_id, name, token_hash) VALUES (:uid, :name, :h)
            RETURNING id, user_id, name, created_at, last_used_at, revoked_at"""),
                {"uid": user_id, "name": name, "h": token_digest(secret)},
            )
            .mappings()
            .one()
        )
    return TokenInfo(**row), secret


def authenticate_token(engine: Engine, token: str) -> User:
    """The active user owning this unrevoked token, else 401."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise Unauthorized("invalid API token")
    with transaction(engine) as conn:
        row = (
            conn.execute(
                text(f"""
            SELECT {_USER_COLUMNS}, t.id AS token_id,
                   t.last_used_at > now() - interval '60 seconds' AS used_recently
            FROM api_token t JOIN app_user u ON u.id = t.user_id
            WHERE t.token_hash = :h AND t.revoked_at IS NULL AND u.active"""),
                {"h": token_digest(token)},
            )
            .mappings()
            .first()
        )
        if row is None:
            raise Unauthorized("invalid API token")
        if row["used_recently"]:  # last use is kept to the minute: no write on most calls
            return _user(row)
        conn.execute(
            text("""
            UPDATE api_token SET last_used_at = now() WHERE id = :id
            AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')"""),
            {"id": row["token_id"]},
        )
    return _user(row)


def list_tokens(engine: Engine, *, user_id: int) -> list[TokenInfo]:
    with transaction(engine) as conn:
        rows = (
            conn.execute(
                text("""
            SELECT id, user_id, name, created_at, last_used_at, revoked_at FROM api_token
            WHERE user_id = :uid ORDER BY id"""),
                {"uid": user_id},
            )
            .mappings()
            .all()
        )
    return [TokenInfo(**r) for r in rows]


def revoke_token(engine: Engine, *, token_id: int, by: User) -> TokenInfo:
    """Revoke a token of one's own (an admin may revoke anyone's)."""
    with transaction(engine) as conn:
        row = (
            conn.execute(
                text("""
            SELECT id, user_id, name, created_at, last_used_at, revoked_at FROM api_token
            WHERE id = :id FOR UPDATE"""),
                {"id": token_id},
            )
            .mappings()
            .first()
        )
        if row is None or (row["user_id"] != by.id and not by.can("admin")):
            raise NotFound(f"no token {token_id}")
        if row["revoked_at"] is not None:
            raise Conflict("the token is already revoked", code="already_revoked")
        row = (
            conn.execute(
                text("""
            UPDATE api_token SET revoked_at = now() WHERE id = :id
            RETURNING id, user_id, name, created_at, last_used_at, revoked_at"""),
                {"id": token_id},
            )
            .mappings()
            .one()
        )
    return TokenInfo(**row)


def list_users(engine: Engine) -> list[User]:
    with transaction(engine) as conn:
        rows = conn.execute(text(f"SELECT {_USER_COLUMNS} FROM app_user u ORDER BY u.id"))
        return [_user(r) for r in rows.mappings()]
