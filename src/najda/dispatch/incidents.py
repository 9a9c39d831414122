"""Incidents: creation (numbered, placed), reading, the lifecycle, priority, timeline.

Every change is published as a live event (:func:`najda.events.publish`) inside the
transaction that makes it, so an event is delivered if and only if the change commits:
``incident.created`` and ``incident.updated`` carry ``id`` (the incident), ``number``,
``status`` and ``priority``; ``incident.updated`` also says what ``change`` it was
(``transition``, ``reopen``, ``priority``) and, for a status change, ``from_status``.
``assignment.created`` / ``assignment.released`` carry ``id`` (the assignment),
``incident_id`` and ``unit_id``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text

from najda import events
from najda.dispatch import lifecycle
from najda.dispatch.auth import User, require
from najda.dispatch.catalogue import IncidentType, incident_type_by_code, incident_type_from
from najda.dispatch.placement import check_coordinates, next_incident_number, place_point
from najda.dispatch.store import transaction
from najda.dispatch.timefmt import local_year, utcnow
from najda.errors import Conflict, InvalidInput, NotFound, Unprocessable
from najda.routing.graph import GraphRef, make_graph_ref

_CALLER = re.compile(r"^\+?[0-9 ()-]{3,32}$")
# When the call was answered (the console's moment, or the telephony's): a clock a little
# ahead of the server's is accepted (and counted as answered at creation); older than a
# shift's worth of hours is a mistake, not a call.
CALL_CLOCK_SKEW = timedelta(seconds=30)
CALL_MAX_AGE = timedelta(hours=6)
CALL_SOURCE = "manual"  # incident_call.source allows cti, manual, simulated (migration 0004)
_TEXT_LIMITS = {"address": 500, "description": 4000, "priority_reason": 500}


@dataclass(frozen=True)
class NewIncident:
    type_code: str
    lon: float
    lat: float
    priority: int | None = None
    priority_reason: str | None = None
    address: str | None = None
    caller_number: str | None = None
    description: str | None = None
    call_answered_at: datetime | None = None  # timezone-aware


@dataclass(frozen=True)
class AssignmentView:
    id: int
    unit_id: int
    call_sign: str
    agency_code: str
    capability: str | None
    eta_s: float | None
    distance_m: float | None
    route: list[list[float]] | None
    assigned_at: datetime
    released_at: datetime | None
    release_reason: str | None
    en_route_at: datetime | None  # this unit's own progress (its first report)
    on_scene_at: datetime | None
    # how eta_s was made (road, straight_line, none) and why not by road (migration
    # 0008; None for assignments made before methods were recorded)
    eta_method: str | None = None
    eta_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.released_at is None


@dataclass(frozen=True)
class Incident:
    id: int
    number: str
    status: str
    priority: int
    priority_reason: str | None
    type: IncidentType
    lon: float
    lat: float
    address: str | None
    caller_number: str | None
    description: str | None
    region_code: str
    timezone: str
    governorate: dict[str, Any] | None
    jurisdictions: list[dict[str, Any]]
    timestamps: dict[str, datetime | None]
    assignments: list[AssignmentView] = field(default_factory=list)
    call_answered_at: datetime | None = None  # incident_call.answered_at
    # the region's road graph as it is now (read with the incident, so routing needs no
    # query of its own to know which graph to use)
    road_graph: GraphRef | None = None

    def jurisdiction_by_agency(self) -> dict[int, int]:
        return {j["agency_id"]: j["id"] for j in self.jurisdictions}


@dataclass(frozen=True)
class Event:
    id: int
    at: datetime
    actor: str | None
    kind: str
    from_status: str | None
    to_status: str | None
    details: dict[str, Any]


def _clean_text(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text", details={"field": name})
    value = value.strip()
    limit = _TEXT_LIMITS.get(name, 500)
    if len(value) > limit:
        raise InvalidInput(f"{name} is longer than {limit} characters", details={"field": name})
    return value or None


def _check_priority(priority: object) -> int:
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 5:
        raise InvalidInput(
            "priority must be an integer from 1 (most urgent) to 5", details={"field": "priority"}
        )
    return priority


def _resolve_priority(new: NewIncident, itype: IncidentType) -> tuple[int, str | None]:
    reason = _clean_text("priority_reason", new.priority_reason)
    if new.priority is None:
        return itype.default_priority, None
    priority = _check_priority(new.priority)
    if priority != itype.default_priority and not reason:
        raise InvalidInput(
            f"priority {priority} differs from the type's default "
            f"{itype.default_priority}: give a priority_reason",
            code="priority_reason_required",
            details={"field": "priority_reason", "default_priority": itype.default_priority},
        )
    return priority, reason if priority != itype.default_priority else None


def record_event(
    conn: Connection,
    incident_id: int,
    kind: str,
    *,
    by: User | None,
    from_status: str | None = None,
    to_status: str | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Append one line to the incident's timeline (the table refuses edits)."""
    conn.execute(
        text("""
        INSERT INTO incident_event (incident_id, at, actor_id, actor, kind, from_status,
                                    to_status, details)
        VALUES (:iid, coalesce(:at, now()), :aid, :actor, :kind, :from_s, :to_s,
                CAST(:details AS jsonb))"""),
        {
            "iid": incident_id,
            "at": at,
            "aid": by.id if by else None,
            "actor": by.username if by else None,
            "kind": kind,
            "from_s": from_status,
            "to_s": to_status,
            "details": json.dumps(details or {}, ensure_ascii=False),
        },
    )


def publish_incident(conn: Connection, kind: str, incident: Incident, **extra: Any) -> None:
    """Publish ``kind`` about ``incident`` on the caller's transaction (sent on commit)."""
    events.publish(
        conn,
        kind,
        {
            "id": incident.id,
            "number": incident.number,
            "status": incident.status,
            "priority": incident.priority,
            **extra,
        },
    )


def publish_released(
    conn: Connection, incident_id: int, released: list[tuple[int, int]], *, reason: str
) -> None:
    """``assignment.released`` for each (assignment id, unit id) just released."""
    for assignment_id, unit_id in released:
        events.publish(
            conn,
            "assignment.released",
            {"id": assignment_id, "incident_id": incident_id, "unit_id": unit_id, "reason": reason},
        )


def check_call_answered(answered: datetime | None, created: datetime) -> datetime | None:
    """The call's answer time, checked against the incident's creation (422 if not plausible).

    Up to :data:`CALL_CLOCK_SKEW` after the creation is a clock slightly ahead and counts
    as answered at the creation; later than that, or more than :data:`CALL_MAX_AGE` before
    it, is refused.
    """
    if answered is None:
        return None
    if answered.tzinfo is None or answered.utcoffset() is None:
        raise InvalidInput(
            "call_answered_at needs a UTC offset", details={"field": "call_answered_at"}
        )
    if answered > created + CALL_CLOCK_SKEW:
        raise Unprocessable(
            "call_answered_at is in the future",
            code="call_answered_in_future",
            details={"field": "call_answered_at", "max_skew_s": CALL_CLOCK_SKEW.total_seconds()},
        )
    if answered < created - CALL_MAX_AGE:
        raise Unprocessable(
            "call_answered_at is too long before the incident's creation",
            code="call_answered_too_old",
            details={"field": "call_answered_at", "max_age_s": CALL_MAX_AGE.total_seconds()},
        )
    return min(answered, created)


def create_incident(engine: Engine, new: NewIncident, *, by: User) -> Incident:
    """Validate, number and place a new incident; all or nothing.

    ``new.call_answered_at`` (when the call was answered) goes to ``incident_call`` in
    the same transaction: call handling is measured from it.
    """
    require(by, "dispatch")
    lon, lat = check_coordinates(new.lon, new.lat)
    if new.caller_number is not None and (
        not isinstance(new.caller_number, str) or not _CALLER.match(new.caller_number)
    ):
        raise InvalidInput(
            "caller_number must be a telephone number", details={"field": "caller_number"}
        )
    address = _clean_text("address", new.address)
    description = _clean_text("description", new.description)
    now = utcnow()
    answered = check_call_answered(new.call_answered_at, now)
    with transaction(engine) as conn:
        itype = incident_type_by_code(conn, new.type_code)
        priority, reason = _resolve_priority(new, itype)
        where = place_point(conn, lon=lon, lat=lat)
        number = next_incident_number(
            conn,
            region_id=where.region_id,
            prefix=where.incident_prefix,
            year=local_year(now, where.timezone),
        )
        incident_id = conn.execute(
            text("""
            INSERT INTO incident (number, region_id, incident_type_id, priority,
                priority_reason, status, geom, address, caller_number, description,
                governorate_id, created_by, received_at, updated_at)
            VALUES (:number, :rid, :tid, :priority, :reason, 'received',
                ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :address, :caller, :description,
                :gid, :uid, :now, :now)
            RETURNING id"""),
            {
                "number": number,
                "rid": where.region_id,
                "tid": itype.id,
                "priority": priority,
                "reason": reason,
                "lon": lon,
                "lat": lat,
                "address": address,
                "caller": new.caller_number,
                "description": description,
                "gid": where.governorate_id,
                "uid": by.id,
                "now": now,
            },
        ).scalar_one()
        for agency_id, jurisdiction_id in where.jurisdictions.items():
            conn.execute(
                text("""INSERT INTO incident_jurisdiction
                (incident_id, agency_id, jurisdiction_id) VALUES (:i, :a, :j)"""),
                {"i": incident_id, "a": agency_id, "j": jurisdiction_id},
            )
        if answered is not None:
            conn.execute(
                text("""INSERT INTO incident_call (incident_id, answered_at, source)
                VALUES (:i, :at, :src)"""),
                {"i": incident_id, "at": answered, "src": CALL_SOURCE},
            )
        record_event(
            conn,
            incident_id,
            "created",
            by=by,
            to_status="received",
            at=now,
            details={
                "number": number,
                "type": itype.code,
                "priority": priority,
                "priority_reason": reason,
            },
        )
        created = load_incident(conn, incident_id)
        publish_incident(
            conn, "incident.created", created, type=itype.code, lon=created.lon, lat=created.lat
        )
        return created


# One statement reads an incident whole: its row, region, governorate, call, type, and
# its jurisdictions and assignments aggregated as JSON (the queue reads many at once).
_INCIDENT_SQL = """
    SELECT i.*, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, r.code AS region_code,
           r.timezone, g.code AS gov_code, g.name_en AS gov_name_en, g.name_ar AS gov_name_ar,
           c.answered_at AS call_answered_at, to_jsonb(t) AS type_row,
           (SELECT coalesce(json_agg(json_build_object(
                       'id', j.id, 'code', j.code, 'name_en', j.name_en, 'name_ar', j.name_ar,
                       'agency_id', a.id, 'agency_code', a.code) ORDER BY a.code), '[]')
            FROM incident_jurisdiction ij JOIN jurisdiction j ON j.id = ij.jurisdiction_id
            JOIN agency a ON a.id = ij.agency_id WHERE ij.incident_id = i.id) AS jurisdictions,
           (SELECT coalesce(json_agg(json_build_object(
                       'id', s.id, 'unit_id', s.unit_id, 'call_sign', u.call_sign,
                       'agency_code', a.code, 'capability', s.capability, 'eta_s', s.eta_s,
                       'distance_m', s.distance_m, 'route', ST_AsGeoJSON(s.route)::json,
                       'assigned_at', s.assigned_at, 'released_at', s.released_at,
                       'release_reason', s.release_reason, 'en_route_at', p.en_route_at,
                       'on_scene_at', p.on_scene_at, 'eta_method', s.eta_method,
                       'eta_reason', s.eta_reason) ORDER BY s.id), '[]')
            FROM assignment s JOIN unit u ON u.id = s.unit_id JOIN agency a ON a.id = u.agency_id
            LEFT JOIN assignment_progress p ON p.assignment_id = s.id
            WHERE s.incident_id = i.id) AS assignments,
           gv.version AS gv_version, gv.id AS gv_id, gv.created_at AS gv_created,
           gv.node_count AS gv_nodes, gv.edge_count AS gv_edges
    FROM incident i JOIN region r ON r.id = i.region_id
    LEFT JOIN LATERAL (SELECT * FROM graph_version WHERE region_id = r.id
                       ORDER BY version DESC LIMIT 1) gv ON true
    JOIN incident_type t ON t.id = i.incident_type_id
    LEFT JOIN governorate g ON g.id = i.governorate_id
    LEFT JOIN incident_call c ON c.incident_id = i.id
"""
_ONE = text(_INCIDENT_SQL + " WHERE i.id = :id")
_ONE_LOCKED = text(_INCIDENT_SQL + " WHERE i.id = :id FOR UPDATE OF i")
_QUEUE = text(
    _INCIDENT_SQL
    + """ WHERE (CAST(:st AS text[]) IS NULL OR i.status = ANY(:st))
    ORDER BY i.priority, i.received_at, i.id LIMIT :limit"""
)
_ASSIGNMENT_TIMES = ("assigned_at", "released_at", "en_route_at", "on_scene_at")


def load_incident(conn: Connection, incident_id: int, *, lock: bool = False) -> Incident:
    """The incident whole (one statement); ``lock`` takes its row lock too."""
    row = conn.execute(_ONE_LOCKED if lock else _ONE, {"id": incident_id}).mappings().first()
    if row is None:
        raise NotFound(f"no incident {incident_id}", details={"incident_id": incident_id})
    return _incident(row)


def _incident(row: Any) -> Incident:
    governorate = None
    if row["governorate_id"] is not None:
        governorate = {
            "id": row["governorate_id"],
            "code": row["gov_code"],
            "name_en": row["gov_name_en"],
            "name_ar": row["gov_name_ar"],
        }
    return Incident(
        id=row["id"],
        number=row["number"],
        status=row["status"],
        priority=row["priority"],
        priority_reason=row["priority_reason"],
        type=incident_type_from(row["type_row"]),
        lon=row["lon"],
        lat=row["lat"],
        address=row["address"],
        caller_number=row["caller_number"],
        description=row["description"],
        region_code=row["region_code"],
        timezone=row["timezone"],
        governorate=governorate,
        jurisdictions=list(row["jurisdictions"]),
        timestamps={s: row[col] for s, col in lifecycle.TIMESTAMP_COLUMN.items()},
        assignments=[_assignment(a) for a in row["assignments"]],
        call_answered_at=row["call_answered_at"],
        road_graph=make_graph_ref(
            row["region_code"],
            region_id=row["region_id"],
            version=row["gv_version"],
            row_id=row["gv_id"],
            created=row["gv_created"],
            nodes=row["gv_nodes"],
            edges=row["gv_edges"],
        ),
    )


def _assignment(values: dict[str, Any]) -> AssignmentView:
    times = {k: _moment(values[k]) for k in _ASSIGNMENT_TIMES}
    route = values["route"]["coordinates"] if values["route"] else None
    return AssignmentView(**{**values, **times, "route": route})


def _moment(value: str | None) -> datetime | None:
    """A timestamp from PostgreSQL's JSON (ISO 8601 with offset), timezone-aware."""
    return None if value is None else datetime.fromisoformat(value)


def get_incident(engine: Engine, incident_id: int, *, by: User) -> Incident:
    require(by, "read")
    with transaction(engine) as conn:
        return load_incident(conn, incident_id)


def list_incidents(
    engine: Engine, *, by: User, statuses: list[str] | None = None, limit: int = 100
) -> list[Incident]:
    """Incidents by priority then age (the dispatcher's queue)."""
    require(by, "read")
    for status in statuses or []:
        if status not in lifecycle.STATUSES:
            raise InvalidInput(f"unknown status: {status}", details={"field": "status"})
    with transaction(engine) as conn:
        rows = conn.execute(_QUEUE, {"st": statuses or None, "limit": limit}).mappings()
        return [_incident(r) for r in rows]


def transition(
    engine: Engine, incident_id: int, *, to_status: str, by: User, note: str | None = None
) -> Incident:
    """Move the incident through its lifecycle; units follow; 409 names the current state."""
    require(by, "dispatch")
    note = _clean_text("description", note)
    with transaction(engine) as conn:
        current = load_incident(conn, incident_id, lock=True)
        move = lifecycle.step(current.status, to_status)
        if move.needs_override:
            require(by, "override")
        active = [a for a in current.assignments if a.active]
        if to_status == "dispatched" and not active:
            raise Conflict(
                "assign a unit before dispatching",
                code="no_units_assigned",
                details={"current_status": current.status},
            )
        apply_step(conn, current, move, by=by, note=note)
        return load_incident(conn, incident_id)


@dataclass(frozen=True)
class UnitRef:
    id: int
    call_sign: str


def stamp_progress(conn: Connection, assignment_ids: list[int], status: str, now: datetime) -> None:
    """Record that these assignments' units reached ``status`` (the first time counts)."""
    column = lifecycle.PROGRESS_COLUMN.get(status)
    if column is None or not assignment_ids:
        return
    conn.execute(
        text(f"""
        INSERT INTO assignment_progress (assignment_id, {column})
        SELECT unnest(CAST(:ids AS integer[])), :now
        ON CONFLICT (assignment_id) DO UPDATE
        SET {column} = coalesce(assignment_progress.{column}, EXCLUDED.{column})"""),
        {"ids": assignment_ids, "now": now},
    )


def apply_step(
    conn: Connection,
    incident: Incident,
    move: lifecycle.Step,
    *,
    by: User,
    note: str | None = None,
    led_by: UnitRef | None = None,
    at: datetime | None = None,
) -> None:
    """Write one lifecycle step: status, its timestamp, the units, the timeline, the event.

    Every active unit follows the incident's status, unless the step is ``led_by`` one
    unit's own report: then the caller has moved that unit and the others stay as they are.
    ``at`` is the step's time (default: now).
    """
    now = at or utcnow()
    resets = ""
    if move.kind == "reopen":
        later = [c for s, c in lifecycle.TIMESTAMP_COLUMN.items() if s != "received"]
        resets = "".join(f", {c} = NULL" for c in later)
    stamp = "" if move.kind == "reopen" else f", {move.timestamp_column} = :now"
    conn.execute(
        text(f"UPDATE incident SET status = :s, updated_at = :now{stamp}{resets} WHERE id = :id"),
        {"s": move.to_status, "now": now, "id": incident.id},
    )
    unit_status = lifecycle.UNIT_STATUS_FOR.get(move.to_status)
    if unit_status is not None and led_by is None:
        conn.execute(
            text("""UPDATE unit SET status = :st WHERE id IN (
            SELECT unit_id FROM assignment WHERE incident_id = :i AND released_at IS NULL)"""),
            {"st": unit_status, "i": incident.id},
        )
        stamp_progress(conn, [a.id for a in incident.assignments if a.active], move.to_status, now)
    released: list[tuple[int, int]] = []
    if move.releases_units:
        released = release_all(conn, incident.id, reason=move.to_status, now=now)
    details: dict[str, Any] = {"note": note} if note else {}
    if led_by is not None:
        details.update(unit_id=led_by.id, call_sign=led_by.call_sign)
    if released:
        details["released_unit_ids"] = sorted(unit for _, unit in released)
    record_event(
        conn,
        incident.id,
        move.kind,
        by=by,
        from_status=move.from_status,
        to_status=move.to_status,
        details=details,
        at=now,
    )
    events.publish(
        conn,
        "incident.updated",
        {
            "id": incident.id,
            "number": incident.number,
            "status": move.to_status,
            "priority": incident.priority,
            "change": move.kind,
            "from_status": move.from_status,
        },
    )
    publish_released(conn, incident.id, released, reason=move.to_status)


def release_all(
    conn: Connection, incident_id: int, *, reason: str, now: datetime
) -> list[tuple[int, int]]:
    """End every active assignment of the incident and make its units available.

    Returns the (assignment id, unit id) pairs released, by assignment id.
    """
    rows = conn.execute(
        text("""
        UPDATE assignment SET released_at = :now, release_reason = :reason
        WHERE incident_id = :i AND released_at IS NULL RETURNING id, unit_id"""),
        {"now": now, "reason": reason, "i": incident_id},
    ).all()
    if rows:
        conn.execute(
            text("UPDATE unit SET status = 'available' WHERE id = ANY(:ids)"),
            {"ids": [r.unit_id for r in rows]},
        )
    return sorted((int(r.id), int(r.unit_id)) for r in rows)


def set_priority(
    engine: Engine, incident_id: int, *, priority: object, reason: str, by: User
) -> Incident:
    """A supervisor's override of an incident's priority (a reason is required)."""
    require(by, "override")
    priority = _check_priority(priority)
    reason_text = _clean_text("priority_reason", reason)
    if not reason_text:
        raise InvalidInput(
            "a reason is required to override the priority",
            code="priority_reason_required",
            details={"field": "reason"},
        )
    with transaction(engine) as conn:
        current = load_incident(conn, incident_id, lock=True)
        conn.execute(
            text("""UPDATE incident SET priority = :p, priority_reason = :r,
                             updated_at = now() WHERE id = :id"""),
            {"p": priority, "r": reason_text, "id": incident_id},
        )
        record_event(
            conn,
            incident_id,
            "priority_changed",
            by=by,
            details={"from": current.priority, "to": priority, "reason": reason_text},
        )
        updated = load_incident(conn, incident_id)
        publish_incident(
            conn, "incident.updated", updated, change="priority", from_priority=current.priority
        )
        return updated


def timeline(engine: Engine, incident_id: int, *, by: User) -> list[Event]:
    require(by, "read")
    with transaction(engine) as conn:
        load_incident(conn, incident_id)
        rows = (
            conn.execute(
                text("""
            SELECT id, at, actor, kind, from_status, to_status, details FROM incident_event
            WHERE incident_id = :i ORDER BY at, id"""),
                {"i": incident_id},
            )
            .mappings()
            .all()
        )
    return [Event(**r) for r in rows]
