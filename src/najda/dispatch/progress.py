"""One unit's own progress on its assignment: en route, then on scene.

A unit reports for itself (from the field, see :mod:`najda.avl.status`): its status and
its assignment's time (``assignment_progress``) move, and no other unit's. The incident
follows its *first* unit: the first unit en route moves a dispatched incident en route,
the first on scene moves it on scene (a lifecycle step, time-stamped on the incident, in
the timeline and published). A later unit only adds a ``unit_status`` line to the
timeline. A unit never goes back (on scene, then en route is a 409 carrying its status);
reporting the status it already has changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

from najda.dispatch import lifecycle
from najda.dispatch.auth import User, require
from najda.dispatch.incidents import (
    Incident,
    UnitRef,
    apply_step,
    load_incident,
    record_event,
    stamp_progress,
)
from najda.dispatch.store import transaction
from najda.dispatch.timefmt import utcnow
from najda.errors import Conflict, InvalidInput

REPORTABLE = ("en_route", "on_scene")


@dataclass(frozen=True)
class Progress:
    unit_id: int
    unit_status: str
    incident_id: int
    incident_status: str
    changed: bool  # the unit's status moved


def _active(conn: Connection, unit_id: int) -> tuple[int, int] | None:
    row = conn.execute(
        text("""SELECT id, incident_id FROM assignment
                               WHERE unit_id = :u AND released_at IS NULL"""),
        {"u": unit_id},
    ).first()
    return (int(row.id), int(row.incident_id)) if row else None


def _no_assignment(unit: UnitRef, status: str) -> Conflict:
    return Conflict(
        f"unit {unit.call_sign} has no incident to be {status} for",
        code="no_assignment",
        details={"unit_id": unit.id},
    )


def _check_unit_step(current: str, target: str) -> bool:
    """Whether the unit moves (False: it is there already); 409 when it would go back."""
    if current not in lifecycle.UNIT_PROGRESS:
        raise Conflict(
            f"a unit that is {current} cannot report {target}",
            code="invalid_transition",
            details={"current_status": current, "requested": target},
        )
    order = lifecycle.UNIT_PROGRESS.index
    if order(current) > order(target):
        raise Conflict(
            f"cannot move a unit from {current} back to {target}",
            code="invalid_transition",
            details={
                "current_status": current,
                "requested": target,
                "allowed": list(lifecycle.UNIT_PROGRESS[order(current) :]),
            },
        )
    return current != target


def _incident_follows(incident: Incident, target: str) -> bool:
    order = lifecycle.UNIT_PROGRESS
    return incident.status in order and order.index(incident.status) < order.index(target)


def report_progress(engine: Engine, unit: UnitRef, status: str, *, by: User) -> Progress:
    """Move ``unit`` (and, if it is the first to get there, its incident) to ``status``."""
    require(by, "dispatch")
    if status not in REPORTABLE:
        raise InvalidInput(
            f"a unit reports one of {', '.join(REPORTABLE)}",
            details={"field": "status", "known": list(REPORTABLE)},
        )
    with transaction(engine) as conn:
        held = _active(conn, unit.id)
        if held is None:
            raise _no_assignment(unit, status)
        # the incident's lock first, as every writer of its assignments takes it
        incident = load_incident(conn, held[1], lock=True)
        held = _active(conn, unit.id)
        if held is None or held[1] != incident.id:
            raise _no_assignment(unit, status)
        current = str(
            conn.execute(text("SELECT status FROM unit WHERE id = :u"), {"u": unit.id}).scalar_one()
        )
        if not _check_unit_step(current, status):
            return Progress(unit.id, current, incident.id, incident.status, False)
        now = utcnow()
        conn.execute(text("UPDATE unit SET status = :s WHERE id = :u"), {"s": status, "u": unit.id})
        stamp_progress(conn, [held[0]], status, now)
        if _incident_follows(incident, status):
            apply_step(
                conn, incident, lifecycle.step(incident.status, status), by=by, led_by=unit, at=now
            )
            incident_status = status
        else:
            record_event(
                conn,
                incident.id,
                "unit_status",
                by=by,
                at=now,
                details={"unit_id": unit.id, "call_sign": unit.call_sign, "status": status},
            )
            incident_status = incident.status
        return Progress(unit.id, status, incident.id, incident_status, True)
