"""Assigning units to an incident: one transaction, and the database decides races.

A unit holds at most one active assignment: the partial unique index
``ux_assignment_active_unit`` refuses a second one even when two dispatchers commit at
the same moment. Whoever loses gets a 409 naming the incident that holds the unit.

Before checking them, the transaction locks the units' rows (``FOR UPDATE``, in unit id
order so that two multi-unit requests cannot deadlock). Taking a unit out of service
locks the same row (:func:`najda.dispatch.admin.set_in_service`), so the two serialise:
an assignment that waited for the lock sees the unit out of service and is refused
(409 ``unit_unavailable``), and one that got the lock first makes the unit busy, which
the service toggle then refuses. The partial unique index stays the final guard.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

from najda import events
from najda.dispatch import lifecycle
from najda.dispatch.auth import User, require
from najda.dispatch.incidents import (
    Incident,
    apply_step,
    load_incident,
    publish_released,
    record_event,
)
from najda.dispatch.store import UnitBusy, transaction
from najda.dispatch.timefmt import utcnow
from najda.errors import Conflict, InvalidInput, NotFound

MAX_UNITS_PER_REQUEST = 20


@dataclass(frozen=True)
class UnitRequest:
    unit_id: int
    capability: str | None = None


@dataclass(frozen=True)
class Estimate:
    """The prediction for one unit (all optional).

    ``method`` is how it was made: ``road`` (the routing engine), ``straight_line`` (an
    estimate from the great-circle distance, :class:`najda.dispatch.travel.StraightLine`,
    with ``reason`` saying why not by road) or None (no estimate: recorded as ``none``).
    """

    eta_s: float | None = None
    distance_m: float | None = None
    route: Sequence[tuple[float, float]] = ()
    method: str | None = None
    reason: str | None = None

    @property
    def method_recorded(self) -> str:
        return self.method or "none"


#: computes estimates for units going to an incident: (incident, unit ids) -> by unit id
Estimator = Callable[[Incident, list[int]], dict[int, Estimate]]


def check_requests(units: Sequence[UnitRequest]) -> None:
    if not units:
        raise InvalidInput("name at least one unit", details={"field": "units"})
    if len(units) > MAX_UNITS_PER_REQUEST:
        raise InvalidInput(
            f"at most {MAX_UNITS_PER_REQUEST} units per request", details={"field": "units"}
        )
    ids = [u.unit_id for u in units]
    if len(set(ids)) != len(ids):
        raise InvalidInput("a unit is named twice", details={"field": "units"})


def assign_units(
    engine: Engine,
    incident_id: int,
    units: Sequence[UnitRequest],
    *,
    by: User,
    estimator: Estimator | None = None,
) -> Incident:
    """Assign all the units or none; a received incident becomes dispatched."""
    require(by, "dispatch")
    check_requests(units)
    estimates = _estimates(engine, incident_id, units, estimator)
    try:
        with transaction(engine) as conn:
            incident = load_incident(conn, incident_id, lock=True)
            if not lifecycle.accepts_assignments(incident.status):
                raise Conflict(
                    f"a {incident.status} incident takes no more units",
                    code="incident_not_open",
                    details={"current_status": incident.status},
                )
            locked = _lock_units(conn, [u.unit_id for u in units])
            for request in sorted(units, key=lambda u: u.unit_id):
                unit = locked[request.unit_id]
                _assign_one(conn, incident, unit, request, estimates.get(unit.id), by=by)
            if incident.status == "received":
                apply_step(conn, incident, lifecycle.step("received", "dispatched"), by=by)
            return load_incident(conn, incident_id)
    except UnitBusy as exc:
        raise _busy(engine, exc.details.get("unit_id")) from exc


def _estimates(
    engine: Engine, incident_id: int, units: Sequence[UnitRequest], estimator: Estimator | None
) -> dict[int, Estimate]:
    # Routing runs before the transaction so no lock is held while it computes.
    if estimator is None:
        return {}
    with transaction(engine) as conn:
        incident = load_incident(conn, incident_id)
    return estimator(incident, [u.unit_id for u in units])


def _lock_units(conn: Connection, unit_ids: Sequence[int]) -> dict[int, Any]:
    """Lock the units' rows, in unit id order, and return them by id (404 if one is missing).

    The fixed order keeps two multi-unit requests from deadlocking; the lock makes the
    status read here the one that holds until commit (see the module docstring).
    """
    ids = sorted(unit_ids)
    rows = conn.execute(
        text("SELECT id, call_sign, status FROM unit WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"),
        {"ids": ids},
    ).all()
    found = {row.id: row for row in rows}
    for unit_id in ids:
        if unit_id not in found:
            raise NotFound(f"no unit {unit_id}", details={"unit_id": unit_id})
    return found


def _assign_one(
    conn: Connection,
    incident: Incident,
    unit: Any,
    request: UnitRequest,
    estimate: Estimate | None,
    *,
    by: User,
) -> None:
    """Assign one unit whose row this transaction has locked (:func:`_lock_units`)."""
    holder = _holder(conn, unit.id)
    if holder is not None:
        raise _busy_error(unit.id, unit.call_sign, holder)
    if unit.status != "available":
        details = {"unit_id": unit.id, "call_sign": unit.call_sign, "unit_status": unit.status}
        if unit.status == "out_of_service":
            raise Conflict(
                f"unit {unit.call_sign} is out of service; put it back in service first",
                code="unit_unavailable",
                details=details,
            )
        raise Conflict(
            f"unit {unit.call_sign} is {unit.status}", code="unit_unavailable", details=details
        )
    est = estimate or Estimate()
    route_wkt = _linestring(est.route)
    assignment_id = conn.execute(
        text("""
        INSERT INTO assignment (incident_id, unit_id, capability, eta_s, distance_m, route,
                                eta_method, eta_reason, assigned_by, assigned_at)
        VALUES (:iid, :uid, :cap, :eta, :dist,
                CASE WHEN CAST(:route AS text) IS NULL THEN NULL
                     ELSE ST_GeomFromText(:route, 4326) END, :method, :reason, :by, :now)
        RETURNING id"""),
        {
            "iid": incident.id,
            "uid": unit.id,
            "cap": request.capability,
            "eta": est.eta_s,
            "dist": est.distance_m,
            "route": route_wkt,
            "method": est.method_recorded,
            "reason": est.reason,
            "by": by.id,
            "now": utcnow(),
        },
    ).scalar_one()
    conn.execute(text("UPDATE unit SET status = 'dispatched' WHERE id = :id"), {"id": unit.id})
    record_event(
        conn,
        incident.id,
        "unit_assigned",
        by=by,
        details={
            "assignment_id": assignment_id,
            "unit_id": unit.id,
            "call_sign": unit.call_sign,
            "capability": request.capability,
            "eta_s": est.eta_s,
            "distance_m": est.distance_m,
            "eta_method": est.method_recorded,
            "eta_reason": est.reason,
        },
    )
    events.publish(
        conn,
        "assignment.created",
        {
            "id": assignment_id,
            "incident_id": incident.id,
            "unit_id": unit.id,
            "call_sign": unit.call_sign,
            "capability": request.capability,
            "eta_s": est.eta_s,
            "eta_method": est.method_recorded,
        },
    )


def _linestring(route: Sequence[tuple[float, float]]) -> str | None:
    if len(route) < 2:
        return None
    return "LINESTRING(" + ", ".join(f"{x:.7f} {y:.7f}" for x, y in route) + ")"


def _holder(conn: Connection, unit_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        text("""
        SELECT i.id, i.number FROM assignment a JOIN incident i ON i.id = a.incident_id
        WHERE a.unit_id = :u AND a.released_at IS NULL"""),
        {"u": unit_id},
    ).first()
    return {"incident_id": row.id, "number": row.number} if row else None


def _busy_error(unit_id: int, call_sign: str | None, holder: dict[str, Any] | None) -> UnitBusy:
    where = f" to incident {holder['number']}" if holder else ""
    return UnitBusy(
        f"unit {call_sign or unit_id} is already assigned{where}",
        details={"unit_id": unit_id, "call_sign": call_sign, "held_by": holder},
    )


def _busy(engine: Engine, unit_id: int | None) -> UnitBusy:
    """The race loser's error, naming the incident that now holds the unit."""
    if unit_id is None:
        return UnitBusy("a unit is already assigned to another incident")
    with transaction(engine) as conn:
        call_sign = conn.execute(
            text("SELECT call_sign FROM unit WHERE id = :id"), {"id": unit_id}
        ).scalar()
        return _busy_error(unit_id, call_sign, _holder(conn, unit_id))


def release_assignment(
    engine: Engine, incident_id: int, assignment_id: int, *, by: User, reason: str = "released"
) -> Incident:
    """Free one unit from an incident (it becomes available again)."""
    require(by, "dispatch")
    with transaction(engine) as conn:
        incident = load_incident(conn, incident_id, lock=True)
        row = conn.execute(
            text("""
            UPDATE assignment SET released_at = now(), release_reason = :r
            WHERE id = :a AND incident_id = :i AND released_at IS NULL RETURNING unit_id"""),
            {"r": reason[:200], "a": assignment_id, "i": incident.id},
        ).first()
        if row is None:
            raise NotFound(
                f"no active assignment {assignment_id} on this incident",
                details={"assignment_id": assignment_id},
            )
        conn.execute(text("UPDATE unit SET status = 'available' WHERE id = :u"), {"u": row.unit_id})
        record_event(
            conn,
            incident.id,
            "unit_released",
            by=by,
            details={
                "unit_id": row.unit_id,
                "assignment_id": assignment_id,
                "reason": reason[:200],
            },
        )
        publish_released(conn, incident.id, [(assignment_id, row.unit_id)], reason=reason[:200])
        return load_incident(conn, incident_id)
