"""Status from the field: a unit says it is en route, on scene or available again.

The rules are the dispatch lifecycle's, applied by the dispatch functions themselves:

* ``en_route`` / ``on_scene``: the unit moves, and its assignment records the time
  (:func:`najda.dispatch.progress.report_progress`); the incident follows its *first*
  unit (the first crew en route moves it en route; a second crew only adds a line to
  the timeline), so turnout and travel can be measured per unit. Reporting the status
  the unit already has is accepted and changes nothing (``changed`` is false).
* ``available``: the unit's active assignment is released with
  :func:`najda.dispatch.assignments.release_assignment`; a unit with no assignment that
  was ``returning`` or ``out_of_service`` simply becomes available.

A transition the lifecycle refuses is answered 409 by dispatch, with the current state.
Dispatch functions need a :class:`~najda.dispatch.auth.User`: field reports act as the
service account :data:`FIELD_ACCOUNT` (created on first use, no password, no tokens),
named in the timeline as ``<call sign> (field)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

from najda import events
from najda.avl.credentials import DeviceUnit
from najda.dispatch import assignments
from najda.dispatch.auth import User, create_user
from najda.dispatch.incidents import UnitRef
from najda.dispatch.progress import report_progress
from najda.dispatch.store import transaction
from najda.errors import Conflict, InvalidInput

FIELD_STATUSES = ("en_route", "on_scene", "available")
FIELD_ACCOUNT = "avl-field"


@dataclass(frozen=True)
class StatusResult:
    unit_id: int
    status: str
    incident_id: int | None
    incident_status: str | None
    changed: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit_id": self.unit_id,
            "status": self.status,
            "incident_id": self.incident_id,
            "incident_status": self.incident_status,
            "changed": self.changed,
        }


def _field_account_id(engine: Engine) -> int:
    with transaction(engine) as conn:
        found = conn.execute(
            text("SELECT id FROM app_user WHERE username = :u"), {"u": FIELD_ACCOUNT}
        ).scalar()
    if found is not None:
        return int(found)
    try:
        return create_user(
            engine,
            username=FIELD_ACCOUNT,
            role="dispatcher",
            password=None,
            display_name="Field units (AVL)",
        ).id
    except Conflict:  # another worker created it first
        return _field_account_id(engine)


def field_actor(engine: Engine, unit: DeviceUnit) -> User:
    """The user dispatch sees when a unit reports its own status."""
    return User(
        id=_field_account_id(engine),
        username=f"{unit.call_sign} (field)",
        role="dispatcher",
        display_name=unit.call_sign,
    )


def _active_assignment(conn: Connection, unit_id: int) -> Any:
    return conn.execute(
        text("""
        SELECT a.id, a.incident_id, i.status AS incident_status
        FROM assignment a JOIN incident i ON i.id = a.incident_id
        WHERE a.unit_id = :u AND a.released_at IS NULL"""),
        {"u": unit_id},
    ).first()


def _unit_status(conn: Connection, unit_id: int) -> str:
    return str(
        conn.execute(text("SELECT status FROM unit WHERE id = :u"), {"u": unit_id}).scalar_one()
    )


def _publish_status(engine: Engine, unit: DeviceUnit, result: StatusResult) -> None:
    with transaction(engine) as conn:
        events.publish(conn, "unit.status", {**result.as_dict(), "call_sign": unit.call_sign})


def report_status(engine: Engine, unit: DeviceUnit, status: str) -> StatusResult:
    """Apply a field unit's status report through the dispatch lifecycle."""
    if status not in FIELD_STATUSES:
        raise InvalidInput(
            f"a field unit reports one of {', '.join(FIELD_STATUSES)}",
            details={"field": "status", "known": list(FIELD_STATUSES)},
        )
    with transaction(engine) as conn:
        held = _active_assignment(conn, unit.unit_id)
    if status == "available":
        result = _available(engine, unit, held)
    else:
        result = _moving(engine, unit, held, status)
    if result.changed:
        _publish_status(engine, unit, result)
    return result


def _moving(engine: Engine, unit: DeviceUnit, held: Any, status: str) -> StatusResult:
    if held is None:
        raise Conflict(
            f"unit {unit.call_sign} has no incident to be {status} for",
            code="no_assignment",
            details={"unit_id": unit.unit_id},
        )
    moved = report_progress(
        engine, UnitRef(unit.unit_id, unit.call_sign), status, by=field_actor(engine, unit)
    )
    return StatusResult(
        unit.unit_id, moved.unit_status, moved.incident_id, moved.incident_status, moved.changed
    )


def _available(engine: Engine, unit: DeviceUnit, held: Any) -> StatusResult:
    if held is not None:
        incident = assignments.release_assignment(
            engine,
            held.incident_id,
            held.id,
            by=field_actor(engine, unit),
            reason="unit reported available",
        )
        return StatusResult(unit.unit_id, "available", held.incident_id, incident.status, True)
    with transaction(engine) as conn:
        changed = (
            conn.execute(
                text("""
            UPDATE unit SET status = 'available' WHERE id = :u AND status <> 'available'
              AND NOT EXISTS (SELECT 1 FROM assignment
                              WHERE unit_id = :u AND released_at IS NULL)"""),
                {"u": unit.unit_id},
            ).rowcount
            > 0
        )
        now = _unit_status(conn, unit.unit_id)
    return StatusResult(unit.unit_id, now, None, None, changed)
