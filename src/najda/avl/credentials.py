"""Device credentials: a device id and a secret token per unit, issued by an admin.

The token is 256 random bits; only its SHA-256 digest is stored (``sha256$<hex>``).
A slow password hash (scrypt) protects guessable human passwords; a random 256-bit
secret cannot be guessed, and a fast digest keeps every fix request cheap (a tracker
may report every few seconds). This is the rule the dispatch API tokens follow too.

Authentication never says whether a device id exists: an unknown device and a wrong
token raise the same :class:`DeviceUnauthorized` with the same message, after the same
work (a digest comparison against a dummy when the device is unknown).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

from najda.dispatch.auth import User, require
from najda.dispatch.store import transaction
from najda.errors import Conflict, InvalidInput, NotFound, Unauthorized

TOKEN_PREFIX = "njdd_"
_SCHEME = "sha256$"
_DEVICE_ID = re.compile(r"^[A-Za-z0-9._:-]{4,64}$")
_DUMMY_DIGEST = _SCHEME + hashlib.sha256(b"no such device").hexdigest()
UNAUTHORIZED_MESSAGE = "unknown device or wrong token"


class DeviceUnauthorized(Unauthorized):
    """The same answer for an unknown device and a wrong token."""

    def __init__(self) -> None:
        super().__init__(UNAUTHORIZED_MESSAGE)


@dataclass(frozen=True)
class DeviceUnit:
    """The unit a device speaks for."""

    unit_id: int
    call_sign: str
    device_id: str
    status: str


@dataclass(frozen=True)
class IssuedCredentials:
    unit_id: int
    call_sign: str
    device_id: str
    token: str  # shown once


def token_digest(token: str) -> str:
    return _SCHEME + hashlib.sha256(token.encode()).hexdigest()


def check_device_id(device_id: str) -> str:
    device_id = device_id.strip()
    if not _DEVICE_ID.match(device_id):
        raise InvalidInput(
            "a device id has 4 to 64 letters, digits or . _ : -", details={"field": "device_id"}
        )
    return device_id


def _new_device_id(call_sign: str) -> str:
    base = re.sub(r"[^A-Za-z0-9]+", "-", call_sign).strip("-").lower()[:40] or "unit"
    return f"{base}-{secrets.token_hex(3)}"


def issue_credentials(
    engine: Engine, *, unit_id: int, by: User, device_id: str | None = None
) -> IssuedCredentials:
    """New credentials for the unit (replacing any it had): its device id and a token.

    Raises
    ------
    NotFound
        No such unit.
    Conflict
        ``device_id`` already belongs to another unit.
    """
    require(by, "admin")
    wanted = check_device_id(device_id) if device_id is not None else None
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction(engine) as conn:
        unit = conn.execute(
            text("SELECT id, call_sign FROM unit WHERE id = :id FOR UPDATE"), {"id": unit_id}
        ).first()
        if unit is None:
            raise NotFound(f"no unit {unit_id}", details={"unit_id": unit_id})
        chosen = wanted or _new_device_id(unit.call_sign)
        taken = conn.execute(
            text("SELECT id FROM unit WHERE device_id = :d AND id <> :id"),
            {"d": chosen, "id": unit_id},
        ).first()
        if taken is not None:
            raise Conflict(
                "this device id belongs to another unit",
                code="device_id_taken",
                details={"device_id": chosen},
            )
        conn.execute(
            text("UPDATE unit SET device_id = :d, token_hash = :h WHERE id = :id"),
            {"d": chosen, "h": token_digest(token), "id": unit_id},
        )
    return IssuedCredentials(
        unit_id=unit.id, call_sign=unit.call_sign, device_id=chosen, token=token
    )


def revoke_credentials(engine: Engine, *, unit_id: int, by: User) -> None:
    """The unit's device can no longer report (its device id is kept for the record)."""
    require(by, "admin")
    with transaction(engine) as conn:
        done = conn.execute(
            text("UPDATE unit SET token_hash = NULL WHERE id = :id"), {"id": unit_id}
        ).rowcount
    if not done:
        raise NotFound(f"no unit {unit_id}", details={"unit_id": unit_id})


def authenticate(conn: Connection, device_id: str | None, token: str | None) -> DeviceUnit:
    """The unit behind ``device_id`` if ``token`` is its token, else :class:`DeviceUnauthorized`.

    Runs on the caller's connection so the fixes that follow share its transaction.
    """
    if not device_id or not token or len(device_id) > 64 or len(token) > 200:
        raise DeviceUnauthorized()
    row = conn.execute(
        text("SELECT id, call_sign, device_id, status, token_hash FROM unit WHERE device_id = :d"),
        {"d": device_id},
    ).first()
    stored = row.token_hash if row is not None and row.token_hash else _DUMMY_DIGEST
    matches = hmac.compare_digest(stored, token_digest(token))
    if row is None or row.token_hash is None or not matches:
        raise DeviceUnauthorized()
    return DeviceUnit(
        unit_id=row.id, call_sign=row.call_sign, device_id=row.device_id, status=row.status
    )


def authenticate_token(conn: Connection, token: str | None) -> DeviceUnit:
    """The unit owning ``token`` alone (the JSON API's bearer needs no device id)."""
    if not token or len(token) > 200:
        raise DeviceUnauthorized()
    row = conn.execute(
        text("SELECT id, call_sign, device_id, status FROM unit WHERE token_hash = :h"),
        {"h": token_digest(token)},
    ).first()
    if row is None:
        raise DeviceUnauthorized()
    return DeviceUnit(
        unit_id=row.id, call_sign=row.call_sign, device_id=row.device_id, status=row.status
    )


def authenticate_device(
    engine: Engine, *, token: str | None, device_id: str | None = None
) -> DeviceUnit:
    """:func:`authenticate` (with a device id) or :func:`authenticate_token`, on its own."""
    with transaction(engine) as conn:
        if device_id is None:
            return authenticate_token(conn, token)
        return authenticate(conn, device_id, token)
