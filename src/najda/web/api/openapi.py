"""The OpenAPI 3.0 document of ``/api/v1``, served at ``/api/v1/openapi.json``.

Written by hand from the views (a test runs schemathesis against it and checks that
every answer matches it, and that every route of the blueprint is described). Every
failure uses the one error shape, ``Error``.

The core (geodata, search, incidents, the unit listing, auth) is described here; the
units (the admin's changes), catalogue, AVL, analytics and events modules describe their
own paths with an ``openapi_paths()``
function, which :func:`openapi_document` calls each time it builds the document. A new
module does the same and is added to :func:`_self_described_paths`.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from najda.dispatch.auth import ROLES
from najda.dispatch.lifecycle import STATUSES
from najda.dispatch.plans import POLICIES
from najda.web.api import bp

JSON = "application/json"
GEOJSON = "application/geo+json"
UNIT_STATUSES = ["available", "dispatched", "en_route", "on_scene", "returning", "out_of_service"]


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


STR, INT, NUM, BOOL = (
    {"type": "string"},
    {"type": "integer"},
    {"type": "number"},
    {"type": "boolean"},
)
TIME = {"type": "string", "format": "date-time", "nullable": True}
OBJ = {"type": "object", "additionalProperties": True}


def obj(
    props: dict[str, Any], required: list[str] | None = None, *, extra: bool = False
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": extra}
    if required is None:
        required = list(props)
    if required:
        schema["required"] = required
    return schema


def collection(
    feature_props: dict[str, Any] | None = None, geometry: dict[str, Any] | None = None
) -> dict[str, Any]:
    props = obj(feature_props, extra=True) if feature_props else OBJ
    feature = obj(
        {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"oneOf": [INT, STR]},
            "geometry": geometry or nullable(OBJ),
            "properties": props,
        },
        ["type", "geometry", "properties"],
        extra=True,
    )
    return obj(
        {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": feature},
        },
        ["type", "features"],
        extra=True,
    )


POINT = obj(
    {
        "type": {"type": "string", "enum": ["Point"]},
        "coordinates": {"type": "array", "items": NUM, "minItems": 2, "maxItems": 3},
    }
)
LINE = nullable(
    obj(
        {
            "type": {"type": "string", "enum": ["LineString"]},
            "coordinates": {"type": "array", "items": {"type": "array", "items": NUM}},
        }
    )
)
LONLAT = obj(
    {
        "lon": {"type": "number", "minimum": -180, "maximum": 180},
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
    }
)
NAMED = obj({"id": INT, "code": STR, "name_en": STR, "name_ar": STR}, extra=True)

SCHEMAS: dict[str, Any] = {
    "Error": obj({"error": obj({"code": STR, "message": STR, "details": OBJ})}),
    "User": obj(
        {
            "id": INT,
            "username": STR,
            "role": {"type": "string", "enum": list(ROLES)},
            "display_name": nullable(STR),
            "agency_id": nullable(INT),
        }
    ),
    "Token": obj(
        {
            "id": INT,
            "name": STR,
            "user_id": INT,
            "created_at": TIME,
            "last_used_at": TIME,
            "revoked_at": TIME,
            "token": STR,
        },
        ["id", "name", "user_id", "created_at", "last_used_at", "revoked_at"],
    ),
    "Requirement": obj({"capability": STR, "count": {"type": "integer", "minimum": 1}}),
    "IncidentType": obj(
        {
            "code": STR,
            "category": STR,
            "name_en": STR,
            "name_ar": STR,
            "default_priority": INT,
            "response_plan": {"type": "array", "items": ref("Requirement")},
        }
    ),
    "Assignment": obj(
        {
            "id": INT,
            "unit_id": INT,
            "call_sign": STR,
            "agency": STR,
            "capability": nullable(STR),
            "eta_s": nullable(NUM),
            "distance_m": nullable(NUM),
            "route": LINE,
            "active": BOOL,
            "assigned_at": TIME,
            "released_at": TIME,
            "release_reason": nullable(STR),
            "en_route_at": TIME,
            "on_scene_at": TIME,
            "estimate": ref("EtaMethod"),
        }
    ),
    "Incident": obj(
        {
            "id": INT,
            "number": {"type": "string", "example": "RYD-2026-000123"},
            "status": {"type": "string", "enum": list(STATUSES)},
            "priority": {"type": "integer", "minimum": 1, "maximum": 5},
            "priority_reason": nullable(STR),
            "type": ref("IncidentType"),
            "location": LONLAT,
            "address": nullable(STR),
            "caller_number": nullable(STR),
            "description": nullable(STR),
            "region": STR,
            "timezone": STR,
            "governorate": nullable(NAMED),
            "jurisdictions": {
                "type": "array",
                "items": obj(
                    {"id": INT, "code": STR, "name_en": STR, "name_ar": STR, "agency": STR}
                ),
            },
            "timestamps": obj({s: TIME for s in STATUSES}),
            "call_answered_at": {
                **TIME,
                "description": "when the call was answered (call handling starts there)",
            },
            "assignments": {"type": "array", "items": ref("Assignment")},
        }
    ),
    "NewIncident": obj(
        {
            "type": {"type": "string", "description": "incident type code"},
            "location": LONLAT,
            "priority": {
                "type": "integer",
                "minimum": 1,
                "maximum": 5,
                "description": "default: the type's; another value needs a reason",
            },
            "priority_reason": STR,
            "address": {"type": "string", "maxLength": 500},
            "caller_number": {"type": "string", "pattern": r"^\+?[0-9 ()-]{3,32}$"},
            "description": {"type": "string", "maxLength": 4000},
            "call_answered_at": {
                "type": "string",
                "format": "date-time",
                "description": "when the call was answered, with its UTC offset: not after "
                "the incident's creation (a clock up to 30 s ahead counts as the creation), "
                "not more than 6 hours before it (else 422); kept for the call-handling KPI",
            },
        },
        ["type", "location"],
    ),
    "Candidate": obj(
        {
            "unit_id": INT,
            "call_sign": STR,
            "agency": STR,
            "unit_type": STR,
            "capabilities": {"type": "array", "items": STR},
            "eta_s": NUM,
            "distance_m": {
                **NUM,
                "description": "road distance; the great-circle distance for a "
                "straight-line estimate",
            },
            "straight_line_m": nullable(NUM),
            "estimate": ref("EtaMethod"),
            "snap_distance_m": nullable(NUM),
            "position": LONLAT,
            "position_source": {"type": "string", "enum": ["gps", "posted", "station"]},
            "route": LINE,
        }
    ),
    "EtaMethod": obj(
        {
            "method": {
                "type": "string",
                "enum": ["road", "straight_line", "none"],
                "nullable": True,
                "description": "how the ETA was made (null: an assignment made before "
                "this was recorded)",
            },
            "reason": {
                **nullable(STR),
                "description": "why not by road: off_network (the incident is beyond "
                "the snapping limit), no_road_graph, unit_off_network, unreachable, "
                "no_position",
            },
        }
    ),
    "EtaBasis": obj(
        {
            "method": {"type": "string", "enum": ["road", "straight_line"]},
            "reason": nullable(STR),
            "incident_road_distance_m": nullable(NUM),
            "snap_limit_m": nullable(NUM),
            "speed_kph": nullable(NUM),
            "detour_factor": nullable(NUM),
        }
    ),
    "Recommendation": obj(
        {
            "incident_id": INT,
            "number": STR,
            "policy": {"type": "string", "enum": list(POLICIES)},
            "complete": BOOL,
            "estimate": ref("EtaBasis"),
            "requirements": {
                "type": "array",
                "items": obj(
                    {
                        "capability": STR,
                        "count": INT,
                        "units": {"type": "array", "items": ref("Candidate")},
                        "missing": INT,
                        "excluded": {"type": "object", "additionalProperties": INT},
                    }
                ),
            },
            "unfilled": {
                "type": "array",
                "items": obj(
                    {
                        "capability": STR,
                        "missing": INT,
                        "excluded": {"type": "object", "additionalProperties": INT},
                    }
                ),
            },
        }
    ),
    "Event": obj(
        {
            "id": INT,
            "at": TIME,
            "actor": nullable(STR),
            "kind": STR,
            "from_status": nullable(STR),
            "to_status": nullable(STR),
            "details": OBJ,
        }
    ),
    "FeatureCollection": collection(),
    "Units": collection(
        {
            "id": INT,
            "call_sign": STR,
            "agency": STR,
            "unit_type": STR,
            "capabilities": {"type": "array", "items": STR},
            "status": {"type": "string", "enum": UNIT_STATUSES},
            "station": nullable(STR),
            "position_source": nullable({"type": "string", "enum": ["gps", "posted", "station"]}),
            "last_fix_at": TIME,
            "stale": BOOL,
            "incident": nullable(obj({"id": INT, "number": STR})),
        },
        nullable(POINT),
    ),
}

ERRORS = {
    "400": "invalid input or malformed JSON",
    "401": "not logged in / bad token",
    "403": "the role may not do this",
    "404": "not found",
    "409": "conflict (invalid transition, unit already assigned ...)",
    "415": "the body is not JSON",
    "422": "understood but not possible",
    "503": "a dependency (database) is unavailable",
}


def error_answers(*codes: str) -> dict[str, Any]:
    return {
        c: {"description": ERRORS[c], "content": {JSON: {"schema": ref("Error")}}} for c in codes
    }


def ok(
    schema: dict[str, Any], *, status: str = "200", media: str = JSON, description: str = "OK"
) -> dict[str, Any]:
    return {status: {"description": description, "content": {media: {"schema": schema}}}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": schema}}}


def query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def path_param(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": 2_147_483_647},
    }


READ_ERRORS = ("400", "401", "403", "503")
WRITE_ERRORS = ("400", "401", "403", "404", "409", "415", "422", "503")
PUBLIC: list[dict[str, Any]] = []
CODE = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$"}
REGION = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}
BBOX = {"type": "string", "example": "46.63,24.72,46.67,24.76"}


def operation(
    summary: str,
    responses: dict[str, Any],
    *,
    tag: str,
    public: bool = False,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = _body(body)
    if public:
        op["security"] = PUBLIC
    return op


def _incident_paths() -> dict[str, Any]:
    iid = [path_param("incident_id")]
    incident = ref("Incident")
    return {
        "/incident-types": {
            "get": operation(
                "The incident types and their response plans",
                {
                    **ok(obj({"incident_types": {"type": "array", "items": ref("IncidentType")}})),
                    **error_answers(*READ_ERRORS),
                },
                tag="incidents",
            )
        },
        "/incidents": {
            "get": operation(
                "The incident queue, by priority then age",
                {
                    **ok(obj({"incidents": {"type": "array", "items": incident}})),
                    **error_answers(*READ_ERRORS),
                },
                tag="incidents",
                params=[
                    query("status", STR, "comma-separated statuses"),
                    query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
                ],
            ),
            "post": operation(
                "Take a call: create, number and place an incident",
                {
                    **ok(incident, status="201", description="Created"),
                    **error_answers("400", "401", "403", "415", "422", "503"),
                },
                tag="incidents",
                body=ref("NewIncident"),
            ),
        },
        "/incidents/{incident_id}": {
            "get": operation(
                "One incident",
                {**ok(incident), **error_answers("400", "401", "403", "404", "503")},
                tag="incidents",
                params=iid,
            )
        },
        "/incidents/{incident_id}/recommendations": {
            "get": operation(
                "The outstanding response plan filled with the fastest eligible units",
                {
                    **ok(ref("Recommendation")),
                    **error_answers("400", "401", "403", "404", "422", "503"),
                },
                tag="incidents",
                params=[*iid, query("policy", {"type": "string", "enum": list(POLICIES)})],
            )
        },
        "/incidents/{incident_id}/assignments": {
            "post": operation(
                "Assign units, all or none (409 names the incident holding a busy unit)",
                {
                    **ok(incident, status="201", description="Assigned"),
                    **error_answers(*WRITE_ERRORS),
                },
                tag="incidents",
                params=iid,
                body=obj(
                    {
                        "units": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 20,
                            "items": obj(
                                {"unit_id": {"type": "integer", "minimum": 1}, "capability": STR},
                                ["unit_id"],
                            ),
                        }
                    }
                ),
            )
        },
        "/incidents/{incident_id}/assignments/{assignment_id}/release": {
            "post": operation(
                "Release one unit from the incident",
                {**ok(incident), **error_answers(*WRITE_ERRORS)},
                tag="incidents",
                params=[*iid, path_param("assignment_id")],
                body=obj({"reason": STR}, []),
            )
        },
        "/incidents/{incident_id}/transitions": {
            "post": operation(
                "Move the incident through its lifecycle (409 carries the current status)",
                {**ok(incident), **error_answers(*WRITE_ERRORS)},
                tag="incidents",
                params=iid,
                body=obj(
                    {"status": {"type": "string", "enum": list(STATUSES)}, "note": STR}, ["status"]
                ),
            )
        },
        "/incidents/{incident_id}/priority": {
            "post": operation(
                "Override the priority (supervisor; a reason is required)",
                {**ok(incident), **error_answers(*WRITE_ERRORS)},
                tag="incidents",
                params=iid,
                body=obj(
                    {
                        "priority": {"type": "integer", "minimum": 1, "maximum": 5},
                        "reason": {"type": "string", "minLength": 1},
                    }
                ),
            )
        },
        "/incidents/{incident_id}/timeline": {
            "get": operation(
                "The append-only timeline: who did what, when",
                {
                    **ok(
                        obj(
                            {"incident_id": INT, "events": {"type": "array", "items": ref("Event")}}
                        )
                    ),
                    **error_answers("400", "401", "403", "404", "503"),
                },
                tag="incidents",
                params=iid,
            )
        },
    }


def _unit_and_auth_paths() -> dict[str, Any]:
    token_id = [path_param("token_id")]
    return {
        "/units": {
            "get": operation(
                "Units with status, position and staleness (GeoJSON)",
                {**ok(ref("Units"), media=GEOJSON), **error_answers(*READ_ERRORS)},
                tag="units",
                params=[
                    query("status", {"type": "string", "enum": UNIT_STATUSES}),
                    query("agency", CODE),
                ],
            )
        },
        "/jurisdictions": {
            "get": operation(
                "Agency jurisdictions (GeoJSON)",
                {**ok(ref("FeatureCollection"), media=GEOJSON), **error_answers(*READ_ERRORS)},
                tag="units",
                params=[query("region", REGION), query("agency", CODE)],
            )
        },
        "/auth/login": {
            "post": operation(
                "Log in (sets a session cookie)",
                {**ok(obj({"user": ref("User")})), **error_answers("400", "401", "415", "503")},
                tag="auth",
                public=True,
                body=obj({"username": STR, "password": STR}),
            )
        },
        "/auth/logout": {
            "post": operation("Log out", {**ok(obj({"logged_out": BOOL}))}, tag="auth", public=True)
        },
        "/auth/me": {
            "get": operation(
                "Who am I",
                {**ok(obj({"user": ref("User")})), **error_answers(*READ_ERRORS)},
                tag="auth",
            )
        },
        "/auth/tokens": {
            "get": operation(
                "My API tokens",
                {
                    **ok(obj({"tokens": {"type": "array", "items": ref("Token")}})),
                    **error_answers(*READ_ERRORS),
                },
                tag="auth",
            ),
            "post": operation(
                "Issue an API token (the secret is shown only in this answer)",
                {
                    **ok(ref("Token"), status="201", description="Issued"),
                    **error_answers("400", "401", "403", "415", "503"),
                },
                tag="auth",
                body=obj({"name": {"type": "string", "minLength": 1, "maxLength": 100}}),
            ),
        },
        "/auth/tokens/{token_id}": {
            "delete": operation(
                "Revoke an API token",
                {**ok(ref("Token")), **error_answers("400", "401", "403", "404", "409", "503")},
                tag="auth",
                params=token_id,
            )
        },
        "/users": {
            "get": operation(
                "Users (admin)",
                {
                    **ok(obj({"users": {"type": "array", "items": ref("User")}})),
                    **error_answers(*READ_ERRORS),
                },
                tag="auth",
            ),
            "post": operation(
                "Create a user (admin)",
                {
                    **ok(obj({"user": ref("User")}), status="201", description="Created"),
                    **error_answers("400", "401", "403", "409", "415", "503"),
                },
                tag="auth",
                body=obj(
                    {
                        "username": STR,
                        "role": {"type": "string", "enum": list(ROLES)},
                        "password": {"type": "string", "minLength": 8},
                        "display_name": STR,
                        "agency": STR,
                    },
                    ["username", "role"],
                ),
            ),
        },
    }


def _geo_paths() -> dict[str, Any]:
    region = query("region", REGION, "region code, e.g. riyadh")
    simplify = query(
        "simplify",
        {"type": "number", "minimum": 0, "maximum": 10000},
        "simplification tolerance in metres",
    )
    geo_errors = error_answers("400", "401", "403", "404", "503")
    return {
        "/regions": {
            "get": operation(
                "Loaded regions with extents and counts",
                {**ok(obj({"regions": {"type": "array", "items": OBJ}})), **geo_errors},
                tag="geo",
            )
        },
        "/governorates": {
            "get": operation(
                "Governorates (GeoJSON, Arabic and English names)",
                {**ok(ref("FeatureCollection"), media=GEOJSON), **geo_errors},
                tag="geo",
                params=[
                    region,
                    simplify,
                    query("geometry", {"type": "boolean"}, "false: properties only"),
                ],
            )
        },
        "/roads": {
            "get": operation(
                "Road edges (GeoJSON)",
                {**ok(ref("FeatureCollection"), media=GEOJSON), **geo_errors},
                tag="geo",
                params=[
                    region,
                    query("bbox", BBOX, "minLon,minLat,maxLon,maxLat"),
                    query("classes", STR, "comma-separated OSM highway classes"),
                    simplify,
                    query("limit", {"type": "integer", "minimum": 1, "maximum": 50000}),
                    query("directed", {"type": "boolean"}),
                ],
            )
        },
        "/stations": {
            "get": operation(
                "Stations (GeoJSON)",
                {**ok(ref("FeatureCollection"), media=GEOJSON), **geo_errors},
                tag="geo",
                params=[region, query("bbox", BBOX)],
            )
        },
    }


def _search_paths() -> dict[str, Any]:
    from najda.web.api.search import KINDS, MAX_LIMIT, MAX_QUERY

    result = obj(
        {
            "kind": {"type": "string", "enum": list(KINDS)},
            "id": STR,
            "name_en": nullable(STR),
            "name_ar": nullable(STR),
            "region": nullable(STR),
            "agency": nullable(STR),
            "lon": NUM,
            "lat": NUM,
            "bbox": nullable({"type": "array", "items": NUM}),
            "match": {"type": "string", "enum": ["exact", "prefix", "word", "contains"]},
        },
        extra=True,
    )
    return {
        "/search": {
            "get": operation(
                "Places to fly to, by Arabic or English name",
                {
                    **ok(
                        obj(
                            {
                                "query": STR,
                                "normalised": STR,
                                "results": {"type": "array", "items": result},
                            }
                        )
                    ),
                    **error_answers("400", "401", "403", "404", "503"),
                },
                tag="geo",
                params=[
                    {
                        **query("q", {"type": "string", "minLength": 1, "maxLength": MAX_QUERY}),
                        "required": True,
                    },
                    query("kinds", STR, "comma-separated: " + ", ".join(KINDS)),
                    query("region", REGION),
                    query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
                ],
            )
        }
    }


def _self_described_paths() -> dict[str, Any]:
    """The path items the units, catalogue, AVL, analytics, events and tiles modules describe
    themselves (a path both here and there, ``/units``, gets the methods of both)."""
    # imported here: those modules import this one's helpers
    from najda.web.api import analytics, avl, catalogue, events, incidents, tiles, units

    paths = {**avl.openapi_paths(), **analytics.openapi_paths(), **events.openapi_paths()}
    paths.update(incidents.openapi_paths())
    paths.update(tiles.openapi_paths())
    return {**paths, **catalogue.openapi_paths(), **units.openapi_paths()}


def _merged(*groups: dict[str, Any]) -> dict[str, Any]:
    """Path items merged method by method (two modules may serve one path)."""
    out: dict[str, Any] = {}
    for group in groups:
        for path, item in group.items():
            out[path] = {**out.get(path, {}), **item}
    return out


def openapi_document() -> dict[str, Any]:
    """The whole document (a fresh dict each call)."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Najda API",
            "version": "1",
            "description": "Incidents, recommendations and unit assignment for a "
            "unified emergency operations centre. Every failure is "
            'answered as {"error": {"code", "message", '
            '"details"}}. Times are ISO 8601 in the region\'s zone '
            "(Asia/Riyadh).",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        "paths": {
            **_geo_paths(),
            **_search_paths(),
            **_incident_paths(),
            **_merged(_unit_and_auth_paths(), _self_described_paths()),
            "/openapi.json": {
                "get": operation("This document", {**ok(OBJ)}, tag="meta", public=True)
            },
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API token from POST /auth/tokens",
                },
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())
