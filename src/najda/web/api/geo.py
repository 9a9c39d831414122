"""Geodata for maps: regions, governorates, roads and stations (GeoJSON).

Each view checks the caller may read (any signed-in role, by session or API token),
parses its query string, calls one function of :mod:`najda.web.geo_queries` and
serialises the result.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request

from najda.web import geo_queries as q
from najda.web import params as p
from najda.web.api import bp
from najda.web.api.auth import authorized
from najda.web.state import engine

GEOJSON = "application/geo+json"
MAX_ROADS = 50_000
DEFAULT_ROADS = 5_000
MAX_SIMPLIFY_M = 10_000.0
# Without an explicit ``simplify``, a bbox request keeps about this many steps across it.
DEFAULT_STEPS_ACROSS = 2_048


def geojson_response(collection: dict[str, Any]) -> Response:
    response = current_app.response_class(current_app.json.dumps(collection), mimetype=GEOJSON)
    response.headers["Cache-Control"] = "no-cache"
    return response


def _simplify_m(bbox: p.BBox | None) -> float:
    explicit = p.parse_float(
        request.args.get("simplify"), name="simplify", low=0.0, high=MAX_SIMPLIFY_M
    )
    if explicit is not None:
        return explicit
    if bbox is None:
        return 0.0
    return bbox.width_deg * q.METRES_PER_DEGREE / DEFAULT_STEPS_ACROSS


@bp.get("/regions")
def regions() -> Response:
    authorized("read")
    return jsonify({"regions": q.list_regions(engine())})


@bp.get("/governorates")
def governorates() -> Response:
    authorized("read")
    region = p.parse_region(request.args.get("region"))
    simplify = (
        p.parse_float(request.args.get("simplify"), name="simplify", low=0.0, high=MAX_SIMPLIFY_M)
        or 0.0
    )
    geometry = p.parse_bool(request.args.get("geometry"), name="geometry", default=True)
    return geojson_response(
        q.governorates_geojson(engine(), region=region, simplify_m=simplify, geometry=geometry)
    )


@bp.get("/roads")
def roads() -> Response:
    """Road edges; ``bbox``, ``classes``, ``simplify`` (metres), ``limit``, ``directed``."""
    authorized("read")
    args = request.args
    bbox = p.parse_bbox(args.get("bbox"))
    query = q.RoadQuery(
        region=p.parse_region(args.get("region")),
        bbox=bbox,
        classes=p.parse_classes(args.get("classes")),
        simplify_m=_simplify_m(bbox),
        limit=p.parse_int(
            args.get("limit"), name="limit", default=DEFAULT_ROADS, low=1, high=MAX_ROADS
        ),
        directed=p.parse_bool(args.get("directed"), name="directed", default=False),
    )
    return geojson_response(q.roads_geojson(engine(), query))


@bp.get("/stations")
def stations() -> Response:
    authorized("read")
    args = request.args
    return geojson_response(
        q.stations_geojson(
            engine(), region=p.parse_region(args.get("region")), bbox=p.parse_bbox(args.get("bbox"))
        )
    )
