"""Storing fixes: the append-only track and the unit's latest position, in one statement.

For one authenticated unit and a list of checked fixes, a single SQL statement

* inserts every fix into ``position`` (``ON CONFLICT (unit_id, fix_time) DO NOTHING``:
  a re-sent fix is stored once);
* moves ``unit.last_position`` / ``unit.last_fix_at`` to the newest fix *only if* it is
  newer than what the unit row holds (a late fix joins the track and leaves the latest
  position alone; concurrent reports of one unit serialise on the unit row and the
  re-checked condition keeps time monotonic);
* when the latest position moved, queues a ``unit.position`` event (``pg_notify``) that
  is delivered on commit.

Device authentication runs on the same connection, so a fix request costs one
transaction with two statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from najda import events
from najda.avl.credentials import DeviceUnit, authenticate, authenticate_token
from najda.avl.fixes import Fix, FixRefused, Refusal, check_fix
from najda.dispatch.store import transaction
from najda.errors import InvalidInput

#: most fixes one request may carry (Traccar Client and our simulator send far fewer)
MAX_BATCH = 500

_STORE_SQL = text("""
WITH f AS (
    SELECT * FROM unnest(CAST(:t AS timestamptz[]), CAST(:lon AS float8[]),
                         CAST(:lat AS float8[]), CAST(:speed AS float8[]),
                         CAST(:heading AS float8[]), CAST(:accuracy AS float8[]),
                         CAST(:altitude AS float8[]), CAST(:battery AS float8[]))
        AS f(fix_time, lon, lat, speed, heading, accuracy, altitude, battery)
), ins AS (
    INSERT INTO position (unit_id, fix_time, geom, speed, heading, accuracy, altitude,
                          battery)
    SELECT :unit, fix_time, ST_SetSRID(ST_MakePoint(lon, lat), 4326), speed, heading,
           accuracy, altitude, battery FROM f
    ON CONFLICT (unit_id, fix_time) DO NOTHING
    RETURNING 1
), newest AS (
    SELECT * FROM f ORDER BY fix_time DESC LIMIT 1
), moved AS (
    UPDATE unit u SET last_position = ST_SetSRID(ST_MakePoint(n.lon, n.lat), 4326),
                      last_fix_at = n.fix_time
    FROM newest n
    WHERE u.id = :unit AND (u.last_fix_at IS NULL OR u.last_fix_at < n.fix_time)
    RETURNING u.last_fix_at
)
SELECT (SELECT count(*) FROM ins) AS stored,
       (SELECT count(*) FROM moved) AS moved,
       (SELECT count(*) FROM (SELECT pg_notify(:channel, :message) FROM moved) n) AS notified
""")


@dataclass(frozen=True)
class Credentials:
    """What a device presented: a token, and (OsmAnd) the device id it claims."""

    token: str | None
    device_id: str | None = None


@dataclass(frozen=True)
class IngestResult:
    unit: DeviceUnit
    received: int
    stored: int
    duplicates: int
    latest_moved: bool
    refused: list[tuple[int, Refusal]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit_id": self.unit.unit_id,
            "call_sign": self.unit.call_sign,
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "latest_moved": self.latest_moved,
            "refused": [
                {"index": i, "code": r.code, "message": r.message} for i, r in self.refused
            ],
        }


def position_event(unit: DeviceUnit, fix: Fix) -> dict[str, Any]:
    """The payload of a ``unit.position`` event."""
    return {
        "unit_id": unit.unit_id,
        "call_sign": unit.call_sign,
        "status": unit.status,
        "lon": fix.lon,
        "lat": fix.lat,
        "fix_time": fix.time.isoformat(),
        "speed": fix.speed,
        "heading": fix.heading,
        "accuracy": fix.accuracy,
        "battery": fix.battery,
    }


def _columns(fixes: Sequence[Fix]) -> dict[str, list[Any]]:
    return {
        "t": [f.time for f in fixes],
        "lon": [f.lon for f in fixes],
        "lat": [f.lat for f in fixes],
        "speed": [f.speed for f in fixes],
        "heading": [f.heading for f in fixes],
        "accuracy": [f.accuracy for f in fixes],
        "altitude": [f.altitude for f in fixes],
        "battery": [f.battery for f in fixes],
    }


def store_fixes(conn: Connection, unit: DeviceUnit, fixes: Sequence[Fix]) -> tuple[int, bool]:
    """Store checked fixes of ``unit``: (how many were new, whether the latest moved)."""
    if not fixes:
        return 0, False
    newest = max(fixes, key=lambda f: f.time)
    message = events.message("unit.position", position_event(unit, newest))
    row = conn.execute(
        _STORE_SQL,
        {**_columns(fixes), "unit": unit.unit_id, "channel": events.CHANNEL, "message": message},
    ).one()
    return int(row.stored), bool(row.moved)


def _split(
    fixes: Sequence[Fix | Refusal], now: datetime
) -> tuple[list[Fix], list[tuple[int, Refusal]]]:
    good: dict[datetime, Fix] = {}
    refused: list[tuple[int, Refusal]] = []
    for index, item in enumerate(fixes):
        checked = check_fix(item, now=now) if isinstance(item, Fix) else item
        if isinstance(checked, Refusal):
            refused.append((index, checked))
        else:
            good.setdefault(checked.time, checked)  # the first of equal times wins
    return list(good.values()), refused


def check_batch_size(count: int) -> None:
    if count == 0:
        raise InvalidInput("send at least one fix", details={"field": "fixes"})
    if count > MAX_BATCH:
        raise InvalidInput(
            f"at most {MAX_BATCH} fixes per request",
            details={"field": "fixes", "max": MAX_BATCH, "received": count},
        )


def report(
    engine: Engine,
    credentials: Credentials,
    fixes: Sequence[Fix | Refusal],
    *,
    now: datetime | None = None,
) -> IngestResult:
    """Authenticate the device, then store its fixes; all in one transaction.

    ``fixes`` may already contain refusals (a parser's verdict); the rest are checked
    here. Refused fixes are reported, never stored.

    Raises
    ------
    DeviceUnauthorized
        Unknown device or wrong token (the same error for both).
    InvalidInput
        No fixes, or more than :data:`MAX_BATCH`.
    """
    check_batch_size(len(fixes))
    now = now or datetime.now(UTC)
    good, refused = _split(fixes, now)
    with transaction(engine) as conn:
        if credentials.device_id is None:
            unit = authenticate_token(conn, credentials.token)
        else:
            unit = authenticate(conn, credentials.device_id, credentials.token)
        stored, moved = store_fixes(conn, unit, good)
    return IngestResult(
        unit=unit,
        received=len(fixes),
        stored=stored,
        duplicates=len(fixes) - len(refused) - stored,
        latest_moved=moved,
        refused=refused,
    )


def report_one(
    engine: Engine, credentials: Credentials, fix: Fix | Refusal, *, now: datetime | None = None
) -> IngestResult:
    """:func:`report` for one fix; a refused fix raises :class:`FixRefused` (422)."""
    result = report(engine, credentials, [fix], now=now)
    if result.refused:
        refusal = result.refused[0][1]
        raise FixRefused(refusal.message, details={"reason": refusal.code})
    return result
