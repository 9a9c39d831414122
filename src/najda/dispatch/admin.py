"""The fleet as an admin keeps it: create units, change them, take them out of service.

Creating and changing a unit needs the admin role; taking it out of service and back
needs ``unit_service`` (supervisor or admin). Every change is checked completely before
anything is written: the unit type must exist, an ``agency`` given with it must be the
type's, a home station must exist and belong to the unit's agency, a posted position
must lie inside an imported region, and the call sign must be free (compared without
case: on the radio ``p-1`` is ``P-1``). A unit holding an active assignment cannot be
taken out of service (409 naming the incident; release it first).

There is no audit table for units (the timeline is per incident), so every change is
published as a ``unit.updated`` live event on the transaction that makes it (delivered
if and only if it commits) and logged after the commit. The payload carries ``id`` and
``unit_id`` (the unit), ``call_sign``, ``status``, ``agency``, ``unit_type``,
``station`` (code), ``change`` (``created``, ``updated``, ``out_of_service``,
``in_service``), ``changes`` (``{field: [before, after]}``), ``by`` (user name) and, for
the service toggle, ``reason``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

from najda import events
from najda.dispatch.auth import User, require
from najda.dispatch.placement import check_coordinates, place_point
from najda.dispatch.store import UnitBusy, transaction
from najda.dispatch.units import UnitListing, unit_listing
from najda.errors import Conflict, InvalidInput, NotFound, Unprocessable

log = logging.getLogger(__name__)

MAX_CALL_SIGN = 40
MAX_REASON = 200
# letters and digits of any script, then also space . - /  (what a radio operator says)
_CALL_SIGN = re.compile(rf"^[^\W_][\w .\-/]{{0,{MAX_CALL_SIGN - 1}}}$")


@dataclass(frozen=True)
class NewUnit:
    call_sign: str
    unit_type: str
    agency: str | None = None
    station_id: int | None = None
    #: a posted position (lon, lat): where the unit stands until its tracker reports
    position: tuple[object, object] | None = None


@dataclass(frozen=True)
class UnitChange:
    call_sign: str | None = None
    unit_type: str | None = None
    #: with ``set_station``, the new home station (None: no station)
    station_id: int | None = None
    set_station: bool = False

    def empty(self) -> bool:
        return self.call_sign is None and self.unit_type is None and not self.set_station


@dataclass(frozen=True)
class _Type:
    id: int
    code: str
    agency_id: int
    agency_code: str


def check_call_sign(raw: object) -> str:
    """The call sign, stripped, if it is one a radio operator can say; else 400."""
    value = raw.strip() if isinstance(raw, str) else None
    if not value or not _CALL_SIGN.match(value):
        raise InvalidInput(
            f"call_sign must be 1 to {MAX_CALL_SIGN} letters, digits, spaces, '.', '-' or '/'",
            details={"field": "call_sign"},
        )
    return value


def create_unit(engine: Engine, new: NewUnit, *, by: User, max_age_s: float) -> UnitListing:
    """Validate and store a new, available unit; all or nothing."""
    require(by, "admin")
    call_sign = check_call_sign(new.call_sign)
    position = check_coordinates(*new.position) if new.position is not None else None
    with transaction(engine) as conn:
        unit_type = _unit_type(conn, new.unit_type)
        if new.agency is not None and new.agency != unit_type.agency_code:
            raise Unprocessable(
                f"unit type {unit_type.code} belongs to agency {unit_type.agency_code}",
                code="agency_mismatch",
                details={"field": "agency", "agency": unit_type.agency_code},
            )
        if new.station_id is not None:
            _check_station(conn, new.station_id, unit_type)
        if position is not None:
            place_point(conn, lon=position[0], lat=position[1])  # 422 outside every region
        _check_free(conn, call_sign)
        unit_id = conn.execute(
            text("""
            INSERT INTO unit (call_sign, unit_type_id, agency_id, station_id, last_position)
            VALUES (:cs, :tid, :aid, :sid,
                    CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL
                         ELSE ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) END)
            RETURNING id"""),
            {
                "cs": call_sign,
                "tid": unit_type.id,
                "aid": unit_type.agency_id,
                "sid": new.station_id,
                "lon": position[0] if position else None,
                "lat": position[1] if position else None,
            },
        ).scalar_one()
        listing = unit_listing(conn, unit_id, max_age_s=max_age_s)
        changes = {
            "call_sign": [None, call_sign],
            "unit_type": [None, unit_type.code],
            "station": [None, listing.station_code],
        }
        _publish(conn, listing, "created", by=by, changes=changes)
    log.info("unit %s (%d) created by %s", call_sign, unit_id, by.username)
    return listing


def update_unit(
    engine: Engine, unit_id: int, change: UnitChange, *, by: User, max_age_s: float
) -> UnitListing:
    """Change a unit's call sign, type (and with it its agency) or home station."""
    require(by, "admin")
    if change.empty():
        raise InvalidInput("name at least one of call_sign, unit_type, station_id")
    call_sign = check_call_sign(change.call_sign) if change.call_sign is not None else None
    with transaction(engine) as conn:
        before = _locked_unit(conn, unit_id)
        unit_type = _unit_type(conn, change.unit_type or before.unit_type)
        station_id = change.station_id if change.set_station else before.station_id
        if station_id is not None and (change.set_station or change.unit_type is not None):
            _check_station(conn, station_id, unit_type)
        call_sign = call_sign or before.call_sign
        if call_sign != before.call_sign:
            _check_free(conn, call_sign, unit_id=unit_id)
        conn.execute(
            text("""
            UPDATE unit SET call_sign = :cs, unit_type_id = :tid, agency_id = :aid,
                            station_id = :sid
            WHERE id = :id"""),
            {
                "cs": call_sign,
                "tid": unit_type.id,
                "aid": unit_type.agency_id,
                "sid": station_id,
                "id": unit_id,
            },
        )
        listing = unit_listing(conn, unit_id, max_age_s=max_age_s)
        changes = _differences(before, listing)
        if changes:
            _publish(conn, listing, "updated", by=by, changes=changes)
    if changes:
        log.info("unit %d updated by %s: %s", unit_id, by.username, changes)
    return listing


def set_in_service(
    engine: Engine,
    unit_id: int,
    *,
    in_service: bool,
    by: User,
    max_age_s: float,
    reason: str | None = None,
) -> UnitListing:
    """Take a unit out of service (not while it is assigned) or put it back (available).

    Asking for the state the unit is already in changes nothing and publishes nothing.
    """
    require(by, "unit_service")
    reason = _reason(reason)
    with transaction(engine) as conn:
        row = conn.execute(
            text("SELECT id, call_sign, status FROM unit WHERE id = :id FOR UPDATE"),
            {"id": unit_id},
        ).first()
        if row is None:
            raise NotFound(f"no unit {unit_id}", details={"unit_id": unit_id})
        if in_service:
            target = "available" if row.status == "out_of_service" else row.status
        else:
            _refuse_if_assigned(conn, row.id, row.call_sign)
            target = "out_of_service"
        if target != row.status:
            conn.execute(
                text("UPDATE unit SET status = :s WHERE id = :id"), {"s": target, "id": unit_id}
            )
        listing = unit_listing(conn, unit_id, max_age_s=max_age_s)
        if target != row.status:
            change = "in_service" if in_service else "out_of_service"
            _publish(
                conn,
                listing,
                change,
                by=by,
                changes={"status": [row.status, target]},
                reason=reason,
            )
    if target != row.status:
        log.info(
            "unit %s: %s -> %s by %s (%s)", row.call_sign, row.status, target, by.username, reason
        )
    return listing


# -- checks -----------------------------------------------------------------------------
def _unit_type(conn: Connection, code: str) -> _Type:
    row = conn.execute(
        text("""
        SELECT t.id, t.code, t.agency_id, a.code AS agency_code
        FROM unit_type t JOIN agency a ON a.id = t.agency_id WHERE t.code = :c"""),
        {"c": code},
    ).first()
    if row is None:
        raise Unprocessable(
            f"unknown unit type: {code}",
            code="unknown_unit_type",
            details={"field": "unit_type", "unit_type": code},
        )
    return _Type(row.id, row.code, row.agency_id, row.agency_code)


def _check_station(conn: Connection, station_id: int, unit_type: _Type) -> None:
    row = conn.execute(
        text("""
        SELECT s.id, s.code, s.agency_id, a.code AS agency_code
        FROM station s JOIN agency a ON a.id = s.agency_id WHERE s.id = :id"""),
        {"id": station_id},
    ).first()
    if row is None:
        raise Unprocessable(
            f"unknown station: {station_id}",
            code="unknown_station",
            details={"field": "station_id", "station_id": station_id},
        )
    if row.agency_id != unit_type.agency_id:
        raise Unprocessable(
            f"station {row.code} belongs to agency {row.agency_code}, "
            f"a {unit_type.code} to agency {unit_type.agency_code}",
            code="station_agency_mismatch",
            details={"field": "station_id", "station_agency": row.agency_code},
        )


def _check_free(conn: Connection, call_sign: str, *, unit_id: int | None = None) -> None:
    # the unique constraint still decides a race (store translates it to the same 409)
    taken = conn.execute(
        text("""
        SELECT call_sign FROM unit
        WHERE lower(call_sign) = lower(:cs) AND id IS DISTINCT FROM CAST(:id AS integer)"""),
        {"cs": call_sign, "id": unit_id},
    ).scalar()
    if taken is not None:
        raise Conflict(
            f"a unit with call sign {taken} exists",
            code="call_sign_taken",
            details={"field": "call_sign", "call_sign": taken},
        )


def _locked_unit(conn: Connection, unit_id: int) -> Any:
    row = conn.execute(
        text("""
        SELECT u.id, u.call_sign, u.station_id, s.code AS station_code, t.code AS unit_type,
               a.code AS agency
        FROM unit u JOIN unit_type t ON t.id = u.unit_type_id
        JOIN agency a ON a.id = u.agency_id LEFT JOIN station s ON s.id = u.station_id
        WHERE u.id = :id FOR UPDATE OF u"""),
        {"id": unit_id},
    ).first()
    if row is None:
        raise NotFound(f"no unit {unit_id}", details={"unit_id": unit_id})
    return row


def _refuse_if_assigned(conn: Connection, unit_id: int, call_sign: str) -> None:
    held = conn.execute(
        text("""
        SELECT i.id, i.number FROM assignment x JOIN incident i ON i.id = x.incident_id
        WHERE x.unit_id = :u AND x.released_at IS NULL"""),
        {"u": unit_id},
    ).first()
    if held is not None:
        raise UnitBusy(
            f"unit {call_sign} is assigned to incident {held.number}; release it first",
            details={
                "unit_id": unit_id,
                "call_sign": call_sign,
                "held_by": {"incident_id": held.id, "number": held.number},
            },
        )


def _reason(raw: str | None) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or len(raw.strip()) > MAX_REASON:
        raise InvalidInput(
            f"reason must be text of at most {MAX_REASON} characters", details={"field": "reason"}
        )
    return raw.strip() or None


def _differences(before: Any, after: UnitListing) -> dict[str, list[Any]]:
    pairs = {
        "call_sign": (before.call_sign, after.state.call_sign),
        "unit_type": (before.unit_type, after.state.unit_type),
        "agency": (before.agency, after.state.agency_code),
        "station": (before.station_code, after.station_code),
    }
    return {k: [old, new] for k, (old, new) in pairs.items() if old != new}


def _publish(
    conn: Connection,
    listing: UnitListing,
    change: str,
    *,
    by: User,
    changes: dict[str, list[Any]],
    reason: str | None = None,
) -> None:
    s = listing.state
    payload: dict[str, Any] = {
        "id": s.unit_id,
        "unit_id": s.unit_id,
        "call_sign": s.call_sign,
        "status": s.status,
        "agency": s.agency_code,
        "unit_type": s.unit_type,
        "station": listing.station_code,
        "change": change,
        "changes": changes,
        "by": by.username,
    }
    if reason is not None:
        payload["reason"] = reason
    events.publish(conn, "unit.updated", payload)
