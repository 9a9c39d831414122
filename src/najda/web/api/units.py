"""Units (GeoJSON, for the map and the dispatcher), the admin's changes to them, and
agency jurisdictions (GeoJSON).

A created or changed unit is answered as one GeoJSON Feature, the same as an item of
``GET /units``.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, request, url_for

from najda.dispatch import admin
from najda.dispatch import units as domain
from najda.dispatch.timefmt import shown
from najda.errors import InvalidInput
from najda.web import params as p
from najda.web.api import bp, json_body
from najda.web.api import openapi as doc
from najda.web.api.auth import authorized
from najda.web.api.geo import geojson_response
from najda.web.state import engine, web_state

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def _code(raw: str | None, name: str) -> str | None:
    if raw is None or raw == "":
        return None
    if not _CODE.match(raw):
        raise InvalidInput(f"{name} must be a code such as police", details={"parameter": name})
    return raw


def _source(s: domain.UnitState) -> str | None:
    if s.last_position is not None:
        return "gps" if s.last_fix_at is not None else "posted"
    return "station" if s.station_position is not None else None


def unit_feature(item: domain.UnitListing) -> dict[str, Any]:
    s = item.state
    position = s.last_position or s.station_position
    geometry = {"type": "Point", "coordinates": [position[0], position[1]]} if position else None
    return {
        "type": "Feature",
        "id": s.unit_id,
        "geometry": geometry,
        "properties": {
            "id": s.unit_id,
            "call_sign": s.call_sign,
            "agency": s.agency_code,
            "unit_type": s.unit_type,
            "capabilities": sorted(s.capabilities),
            "status": s.status,
            "station": item.station_code,
            "position_source": _source(s),
            "last_fix_at": shown(s.last_fix_at),
            "stale": item.stale,
            "incident": item.incident,
        },
    }


@bp.get("/units")
def units() -> Response:
    user = authorized("read")
    status = _code(request.args.get("status"), "status")
    agency = _code(request.args.get("agency"), "agency")
    found = domain.list_units(
        engine(),
        by=user,
        status=status,
        agency=agency,
        max_age_s=web_state().settings.position_max_age_s,
    )
    return geojson_response(
        {"type": "FeatureCollection", "features": [unit_feature(u) for u in found]}
    )


@bp.get("/jurisdictions")
def jurisdictions() -> Response:
    user = authorized("read")
    return geojson_response(
        domain.jurisdictions_geojson(
            engine(),
            by=user,
            region=p.parse_region(request.args.get("region")),
            agency=_code(request.args.get("agency"), "agency"),
        )
    )


# -- the admin's changes -----------------------------------------------------------------
_NEW_FIELDS = {"call_sign", "unit_type", "agency", "station_id", "position"}
_CHANGE_FIELDS = {"call_sign", "unit_type", "station_id"}
_SERVICE_FIELDS = {"in_service", "reason"}
_MAX_ID = 2_147_483_647


def _only(body: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInput("unknown fields", details={"fields": unknown})
    return body


def _code_field(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not _CODE.match(value):
        raise InvalidInput(f"{name} must be a code such as fire_engine", details={"field": name})
    return value


def _station_id(body: dict[str, Any]) -> int | None:
    value = body.get("station_id")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_ID:
        raise InvalidInput("station_id must be a station's id", details={"field": "station_id"})
    return value


def _position(body: dict[str, Any]) -> tuple[object, object] | None:
    value = body.get("position")
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"lon", "lat"}:
        raise InvalidInput(
            "position must be an object with lon and lat", details={"field": "position"}
        )
    return value["lon"], value["lat"]


def _new_unit(body: dict[str, Any]) -> admin.NewUnit:
    _only(body, _NEW_FIELDS)
    unit_type = _code_field(body, "unit_type")
    if unit_type is None:
        raise InvalidInput("unit_type is required", details={"field": "unit_type"})
    return admin.NewUnit(
        call_sign=admin.check_call_sign(body.get("call_sign")),
        unit_type=unit_type,
        agency=_code_field(body, "agency"),
        station_id=_station_id(body),
        position=_position(body),
    )


def _unit_change(body: dict[str, Any]) -> admin.UnitChange:
    _only(body, _CHANGE_FIELDS)
    call_sign = body.get("call_sign")
    return admin.UnitChange(
        call_sign=admin.check_call_sign(call_sign) if call_sign is not None else None,
        unit_type=_code_field(body, "unit_type"),
        station_id=_station_id(body),
        set_station="station_id" in body,
    )


def _unit_answer(listing: domain.UnitListing, status: int = 200) -> Response:
    response = geojson_response(unit_feature(listing))
    response.status_code = status
    return response


def _max_age_s() -> float:
    return float(web_state().settings.position_max_age_s)


@bp.post("/units")
def create_unit() -> Response:
    user = authorized("admin")
    listing = admin.create_unit(engine(), _new_unit(json_body()), by=user, max_age_s=_max_age_s())
    response = _unit_answer(listing, 201)
    response.headers["Location"] = url_for("api.get_unit", unit_id=listing.state.unit_id)
    return response


@bp.get("/units/<int:unit_id>")
def get_unit(unit_id: int) -> Response:
    user = authorized("read")
    return _unit_answer(domain.get_unit(engine(), unit_id, by=user, max_age_s=_max_age_s()))


@bp.patch("/units/<int:unit_id>")
def update_unit(unit_id: int) -> Response:
    user = authorized("admin")
    change = _unit_change(json_body())
    return _unit_answer(
        admin.update_unit(engine(), unit_id, change, by=user, max_age_s=_max_age_s())
    )


@bp.post("/units/<int:unit_id>/service")
def unit_service(unit_id: int) -> Response:
    user = authorized("unit_service")
    body = _only(json_body(), _SERVICE_FIELDS)
    in_service, reason = body.get("in_service"), body.get("reason")
    if not isinstance(in_service, bool):
        raise InvalidInput("in_service must be true or false", details={"field": "in_service"})
    if reason is not None and not isinstance(reason, str):
        raise InvalidInput("reason must be text", details={"field": "reason"})
    listing = admin.set_in_service(
        engine(), unit_id, in_service=in_service, reason=reason, by=user, max_age_s=_max_age_s()
    )
    return _unit_answer(listing)


def openapi_paths() -> dict[str, Any]:
    """The admin's unit routes (``GET /units`` and ``/jurisdictions`` are in :mod:`.openapi`)."""
    feature = doc.SCHEMAS["Units"]["properties"]["features"]["items"]
    answer = doc.ok(feature, media=doc.GEOJSON)
    call_sign = {
        "type": "string",
        "minLength": 1,
        "maxLength": admin.MAX_CALL_SIGN,
        "description": "unique (without case); letters, digits, space . - /",
    }
    station = {"type": "integer", "minimum": 1, "maximum": _MAX_ID}
    uid = [doc.path_param("unit_id")]
    return {
        "/units": {
            "post": doc.operation(
                "Create a unit (admin): available, at its station or a posted position",
                {
                    **doc.ok(feature, status="201", media=doc.GEOJSON, description="Created"),
                    **doc.error_answers("400", "401", "403", "409", "415", "422", "503"),
                },
                tag="units",
                body=doc.obj(
                    {
                        "call_sign": call_sign,
                        "unit_type": doc.CODE,
                        "agency": {**doc.CODE, "description": "if given, the type's agency"},
                        "station_id": {**station, "description": "a station of its agency"},
                        "position": {**doc.LONLAT, "description": "posted position"},
                    },
                    ["call_sign", "unit_type"],
                ),
            )
        },
        "/units/{unit_id}": {
            "get": doc.operation(
                "One unit (GeoJSON Feature)",
                {**answer, **doc.error_answers("400", "401", "403", "404", "503")},
                tag="units",
                params=uid,
            ),
            "patch": doc.operation(
                "Change a unit's call sign, type or home station (admin)",
                {**answer, **doc.error_answers(*doc.WRITE_ERRORS)},
                tag="units",
                params=uid,
                body={
                    **doc.obj(
                        {
                            "call_sign": call_sign,
                            "unit_type": doc.CODE,
                            "station_id": doc.nullable({**station, "description": "null: none"}),
                        },
                        [],
                    ),
                    "minProperties": 1,
                },
            ),
        },
        "/units/{unit_id}/service": {
            "post": doc.operation(
                "Take a unit out of service or back (supervisor, admin; "
                "409 names the incident holding an assigned unit)",
                {**answer, **doc.error_answers(*doc.WRITE_ERRORS)},
                tag="units",
                params=uid,
                body=doc.obj(
                    {
                        "in_service": doc.BOOL,
                        "reason": {"type": "string", "maxLength": admin.MAX_REASON},
                    },
                    ["in_service"],
                ),
            )
        },
    }
