"""Incidents: create, read, the queue, recommendations, assignments, lifecycle, timeline.

Views parse the request, call one function of :mod:`najda.dispatch`, and serialise.
Times are shown in the region's zone (Asia/Riyadh) with their offset.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, jsonify, request, url_for

from najda.dispatch import assignments as assign
from najda.dispatch import incidents as inc
from najda.dispatch import recommend as rec
from najda.dispatch.catalogue import list_incident_types
from najda.dispatch.lifecycle import STATUSES
from najda.dispatch.timefmt import DEFAULT_ZONE, shown
from najda.dispatch.travel import Basis
from najda.errors import InvalidInput
from najda.web import params as p
from najda.web.api import bp, json_body
from najda.web.api import openapi as doc
from najda.web.api.auth import authorized
from najda.web.api.routing_adapter import estimator, graph_source, straight_line
from najda.web.state import engine, web_state

_NEW_FIELDS = {
    "type",
    "location",
    "priority",
    "priority_reason",
    "address",
    "caller_number",
    "description",
    "call_answered_at",
}


# -- serialising ---------------------------------------------------------------------
def _line(route: Any) -> dict[str, Any] | None:
    if not route or len(route) < 2:
        return None
    return {"type": "LineString", "coordinates": [[float(x), float(y)] for x, y in route]}


def assignment_json(a: inc.AssignmentView, zone: str) -> dict[str, Any]:
    return {
        "id": a.id,
        "unit_id": a.unit_id,
        "call_sign": a.call_sign,
        "agency": a.agency_code,
        "capability": a.capability,
        "eta_s": a.eta_s,
        "distance_m": a.distance_m,
        "route": _line(a.route),
        "active": a.active,
        "assigned_at": shown(a.assigned_at, zone),
        "released_at": shown(a.released_at, zone),
        "release_reason": a.release_reason,
        "en_route_at": shown(a.en_route_at, zone),
        "on_scene_at": shown(a.on_scene_at, zone),
        "estimate": {"method": a.eta_method, "reason": a.eta_reason},
    }


def incident_json(i: inc.Incident) -> dict[str, Any]:
    zone = i.timezone
    return {
        "id": i.id,
        "number": i.number,
        "status": i.status,
        "priority": i.priority,
        "priority_reason": i.priority_reason,
        "type": i.type.as_dict(),
        "location": {"lon": i.lon, "lat": i.lat},
        "address": i.address,
        "caller_number": i.caller_number,
        "description": i.description,
        "region": i.region_code,
        "timezone": zone,
        "governorate": i.governorate,
        "jurisdictions": [
            {
                "id": j["id"],
                "code": j["code"],
                "name_en": j["name_en"],
                "name_ar": j["name_ar"],
                "agency": j["agency_code"],
            }
            for j in i.jurisdictions
        ],
        "timestamps": {s: shown(t, zone) for s, t in i.timestamps.items()},
        "call_answered_at": shown(i.call_answered_at, zone),
        "assignments": [assignment_json(a, zone) for a in i.assignments],
    }


def event_json(e: inc.Event, zone: str) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": shown(e.at, zone),
        "actor": e.actor,
        "kind": e.kind,
        "from_status": e.from_status,
        "to_status": e.to_status,
        "details": e.details,
    }


def basis_json(basis: Basis) -> dict[str, Any]:
    """How a set of ETAs was made (``road`` or ``straight_line``), and why not by road."""
    pace = basis.pace
    return {
        "method": basis.method,
        "reason": basis.reason,
        "incident_road_distance_m": basis.road_distance_m,
        "snap_limit_m": basis.snap_limit_m,
        "speed_kph": pace.speed_kph if pace else None,
        "detour_factor": pace.detour_factor if pace else None,
    }


def _unit_fields(u: Any) -> dict[str, Any]:
    return {
        "unit_id": u.unit_id,
        "call_sign": u.call_sign,
        "agency": u.agency_code,
        "unit_type": u.unit_type,
        "capabilities": sorted(u.capabilities),
    }


def _eta_fields(r: Any) -> dict[str, Any]:
    return {
        "eta_s": r.eta_s,
        "distance_m": r.distance_m,
        "straight_line_m": r.straight_line_m,
        "estimate": {"method": r.method, "reason": r.reason},
    }


def _position(located: Any) -> dict[str, Any] | None:
    if located is None:
        return None
    return {"lon": located.position[0], "lat": located.position[1]}


def candidate_json(r: Any) -> dict[str, Any]:
    return {
        **_unit_fields(r.unit),
        **_eta_fields(r),
        "snap_distance_m": r.snap_distance_m,
        "position": _position(r.located),
        "position_source": r.located.position_source,
        "route": _line(r.route),
    }


def recommendation_json(result: rec.Recommendation) -> dict[str, Any]:
    requirements = []
    for f in result.plan.fills:
        requirements.append(
            {
                "capability": f.requirement.capability,
                "count": f.requirement.count,
                "units": [candidate_json(r) for r in f.chosen],
                "missing": f.missing,
                "excluded": f.excluded,
            }
        )
    return {
        "incident_id": result.incident.id,
        "number": result.incident.number,
        "policy": result.plan.policy,
        "complete": result.plan.complete,
        "estimate": basis_json(result.basis),
        "requirements": requirements,
        "unfilled": [
            {"capability": f.requirement.capability, "missing": f.missing, "excluded": f.excluded}
            for f in result.plan.fills
            if f.missing > 0
        ],
    }


def available_unit_json(a: rec.AvailableUnit) -> dict[str, Any]:
    no_eta = {
        "eta_s": None,
        "distance_m": None,
        "straight_line_m": None,
        "estimate": {"method": "none", "reason": a.reason},
    }
    return {
        **_unit_fields(a.unit),
        "status": a.unit.status,
        "stale": a.stale,
        "position": _position(a.located),
        "position_source": a.located.position_source if a.located else None,
        **(_eta_fields(a.estimate) if a.estimate else no_eta),
    }


# -- parsing -------------------------------------------------------------------------
def _moment(body: dict[str, Any], name: str) -> datetime | None:
    """An optional ISO 8601 date and time with its UTC offset (400 otherwise)."""
    raw = body.get(name)
    if raw is None:
        return None
    problem = f"{name} must be an ISO 8601 date and time with its offset"
    if not isinstance(raw, str):
        raise InvalidInput(problem, details={"field": name})
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(problem, details={"field": name}) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(problem, details={"field": name})
    return moment


def _new_incident(body: dict[str, Any]) -> inc.NewIncident:
    unknown = sorted(set(body) - _NEW_FIELDS)
    if unknown:
        raise InvalidInput("unknown fields", details={"fields": unknown})
    type_code = body.get("type")
    if not isinstance(type_code, str) or not type_code:
        raise InvalidInput("type must be an incident type code", details={"field": "type"})
    location = body.get("location")
    if not isinstance(location, dict) or "lon" not in location or "lat" not in location:
        raise InvalidInput(
            "location must be an object with lon and lat", details={"field": "location"}
        )
    return inc.NewIncident(
        type_code=type_code,
        lon=location["lon"],
        lat=location["lat"],
        priority=body.get("priority"),
        priority_reason=body.get("priority_reason"),
        address=body.get("address"),
        caller_number=body.get("caller_number"),
        description=body.get("description"),
        call_answered_at=_moment(body, "call_answered_at"),
    )


def _unit_requests(body: dict[str, Any]) -> list[assign.UnitRequest]:
    units = body.get("units")
    if not isinstance(units, list):
        raise InvalidInput(
            "units must be a list of {unit_id, capability}", details={"field": "units"}
        )
    out = []
    for item in units:
        if not isinstance(item, dict):
            raise InvalidInput("each unit must be an object", details={"field": "units"})
        unit_id, capability = item.get("unit_id"), item.get("capability")
        if isinstance(unit_id, bool) or not isinstance(unit_id, int) or unit_id < 1:
            raise InvalidInput("unit_id must be a positive integer", details={"field": "units"})
        if capability is not None and not isinstance(capability, str):
            raise InvalidInput("capability must be text", details={"field": "units"})
        out.append(assign.UnitRequest(unit_id=unit_id, capability=capability))
    return out


def _statuses(raw: str | None) -> list[str] | None:
    if raw is None or not raw.strip():
        return None
    return [s.strip() for s in raw.split(",") if s.strip()]


# -- views ---------------------------------------------------------------------------
@bp.get("/incident-types")
def incident_types() -> Response:
    authorized("read")
    return jsonify({"incident_types": [t.as_dict() for t in list_incident_types(engine())]})


@bp.post("/incidents")
def create_incident() -> tuple[Response, int, dict[str, str]]:
    user = authorized("dispatch")
    created = inc.create_incident(engine(), _new_incident(json_body()), by=user)
    location = url_for("api.get_incident", incident_id=created.id)
    return jsonify(incident_json(created)), 201, {"Location": location}


@bp.get("/incidents")
def list_incidents() -> Response:
    user = authorized("read")
    limit = p.parse_int(request.args.get("limit"), name="limit", default=100, low=1, high=500)
    found = inc.list_incidents(
        engine(), by=user, statuses=_statuses(request.args.get("status")), limit=limit
    )
    return jsonify({"incidents": [incident_json(i) for i in found]})


@bp.get("/incidents/<int:incident_id>")
def get_incident(incident_id: int) -> Response:
    user = authorized("read")
    return jsonify(incident_json(inc.get_incident(engine(), incident_id, by=user)))


@bp.get("/incidents/<int:incident_id>/recommendations")
def recommendations(incident_id: int) -> Response:
    user = authorized("read")
    policy = request.args.get("policy", "nearest")
    result = rec.recommend(
        engine(),
        incident_id,
        by=user,
        policy=policy,
        graphs=graph_source(),
        max_age_s=web_state().settings.position_max_age_s,
        pace=straight_line(),
    )
    return jsonify(recommendation_json(result))


@bp.get("/incidents/<int:incident_id>/available-units")
def available_units(incident_id: int) -> Response:
    user = authorized("read")
    result = rec.available_units(
        engine(),
        incident_id,
        by=user,
        graphs=graph_source(),
        max_age_s=web_state().settings.position_max_age_s,
        pace=straight_line(),
    )
    return jsonify(
        {
            "incident_id": result.incident.id,
            "estimate": basis_json(result.basis),
            "units": [available_unit_json(a) for a in result.units],
        }
    )


@bp.post("/incidents/<int:incident_id>/assignments")
def create_assignments(incident_id: int) -> tuple[Response, int]:
    user = authorized("dispatch")
    requests = _unit_requests(json_body())
    updated = assign.assign_units(engine(), incident_id, requests, by=user, estimator=estimator())
    return jsonify(incident_json(updated)), 201


@bp.post("/incidents/<int:incident_id>/assignments/<int:assignment_id>/release")
def release_assignment(incident_id: int, assignment_id: int) -> Response:
    user = authorized("dispatch")
    reason = json_body().get("reason") or "released"
    if not isinstance(reason, str):
        raise InvalidInput("reason must be text", details={"field": "reason"})
    return jsonify(
        incident_json(
            assign.release_assignment(engine(), incident_id, assignment_id, by=user, reason=reason)
        )
    )


@bp.post("/incidents/<int:incident_id>/transitions")
def transition(incident_id: int) -> Response:
    user = authorized("dispatch")
    body = json_body()
    status, note = body.get("status"), body.get("note")
    if not isinstance(status, str) or status not in STATUSES:
        raise InvalidInput(
            "status must be one of the lifecycle statuses",
            details={"field": "status", "known": list(STATUSES)},
        )
    if note is not None and not isinstance(note, str):
        raise InvalidInput("note must be text", details={"field": "note"})
    return jsonify(
        incident_json(inc.transition(engine(), incident_id, to_status=status, by=user, note=note))
    )


@bp.post("/incidents/<int:incident_id>/priority")
def set_priority(incident_id: int) -> Response:
    user = authorized("override")
    body = json_body()
    priority, reason = body.get("priority"), body.get("reason")
    if not isinstance(reason, str):
        raise InvalidInput("reason must be text", details={"field": "reason"})
    return jsonify(
        incident_json(
            inc.set_priority(engine(), incident_id, priority=priority, reason=reason, by=user)
        )
    )


@bp.get("/incidents/<int:incident_id>/timeline")
def timeline(incident_id: int) -> Response:
    user = authorized("read")
    events = inc.timeline(engine(), incident_id, by=user)
    return jsonify(
        {"incident_id": incident_id, "events": [event_json(e, DEFAULT_ZONE) for e in events]}
    )


def openapi_paths() -> dict[str, Any]:
    """``GET /incidents/{id}/available-units`` (the other incident routes are in
    :mod:`.openapi`)."""
    unit = doc.obj(
        {
            **doc.SCHEMAS["Candidate"]["properties"],
            "status": {"type": "string", "enum": ["available"]},
            "stale": doc.BOOL,
        },
        [
            "unit_id",
            "call_sign",
            "agency",
            "unit_type",
            "capabilities",
            "status",
            "stale",
            "position",
            "position_source",
            "eta_s",
            "distance_m",
            "straight_line_m",
            "estimate",
        ],
    )
    for name in ("eta_s", "distance_m", "position", "position_source"):
        unit["properties"][name] = doc.nullable(unit["properties"][name])
    del unit["properties"]["snap_distance_m"], unit["properties"]["route"]
    return {
        "/incidents/{incident_id}/available-units": {
            "get": doc.operation(
                "Every available unit, of any agency, with its ETA to the incident (road "
                "ETAs first, then straight-line estimates, then units without a position), "
                "to assign one by hand",
                {
                    **doc.ok(
                        doc.obj(
                            {
                                "incident_id": doc.INT,
                                "estimate": doc.ref("EtaBasis"),
                                "units": {"type": "array", "items": unit},
                            }
                        )
                    ),
                    **doc.error_answers("400", "401", "403", "404", "503"),
                },
                tag="incidents",
                params=[doc.path_param("incident_id")],
            )
        }
    }
