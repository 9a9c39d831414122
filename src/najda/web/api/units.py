"""Units (GeoJSON, for the map and the dispatcher) and agency jurisdictions (GeoJSON)."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, request

from najda.dispatch import units as domain
from najda.dispatch.timefmt import shown
from najda.errors import InvalidInput
from najda.web import params as p
from najda.web.api import bp
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
