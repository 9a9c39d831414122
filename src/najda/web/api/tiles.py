"""Vector tiles of a region's map and the street names of its close zooms.

``GET /tiles/{layer}/{z}/{x}/{y}.mvt?region=R`` answers a Mapbox Vector Tile made by
PostGIS (:mod:`najda.web.tile_queries`); ``GET /tiles/labels/{z}/{x}/{y}.json`` the road
labels of one tile (z >= 15). Both need a signed-in caller of any role, like the other
geodata.

Caching: each answer carries an ETag derived from the region's map version (its graph
version and the time of its last layer import), so a re-import changes every tag, and a
matching ``If-None-Match`` is answered 304 without touching the tile. A URL that names the
current version (``v=``, given by ``GET /regions`` as ``map_version``) may be kept by the
browser for a week; any other is revalidated each time.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from flask import Response, current_app, jsonify, request

from najda.errors import InvalidInput, NotFound
from najda.web import params as p
from najda.web import tile_queries as tq
from najda.web.api import bp
from najda.web.api import openapi as doc
from najda.web.api.auth import authorized
from najda.web.geo_queries import ROAD_CLASS_ORDER
from najda.web.state import engine

_AGENCY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
KEPT_S = 7 * 24 * 3600
CACHE_KEY = "najda.tiles"


def _region() -> str:
    region = p.parse_region(request.args.get("region"))
    if region is None:
        raise InvalidInput(
            "region is required (a region code such as doha).", details={"parameter": "region"}
        )
    return region


def _agency(layer: str) -> str | None:
    raw = request.args.get("agency")
    if layer != "jurisdictions":
        return None
    if raw is None or not _AGENCY.match(raw):
        raise InvalidInput(
            "agency is required for jurisdictions (an agency code such as police).",
            details={"parameter": "agency"},
        )
    return raw


def _cache() -> tq.TileCache:
    cache = current_app.extensions.get(CACHE_KEY)
    if cache is None:
        cache = current_app.extensions.setdefault(CACHE_KEY, tq.TileCache())
    return cache


def _etag(*parts: object) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()[:20]


def _matches(etag: str) -> bool:
    """Whether the request's If-None-Match names ``etag`` (a compressed answer's tag has
    the encoding appended, ``"tag:gzip"``)."""
    return any(tag.split(":", 1)[0] == etag for tag in request.if_none_match.as_set())


def _cached_answer(response: Response, *, etag: str, version: str) -> Response:
    response.set_etag(etag)
    current = request.args.get("v") == version
    response.headers["Cache-Control"] = (
        f"private, max-age={KEPT_S}, immutable" if current else "private, no-cache"
    )
    return response


@bp.get("/tiles/<layer>/<z>/<x>/<y>.mvt")
def tile(layer: str, z: str, x: str, y: str) -> Response:
    """A vector tile of ``layer`` (roads, boundaries or one agency's jurisdictions)."""
    authorized("read")
    if layer not in tq.LAYERS:
        raise NotFound(
            f"No tile layer {layer!r}.",
            code="unknown_layer",
            details={"layer": layer[:40], "layers": list(tq.LAYERS)},
        )
    address = tq.parse_tile(z, x, y)
    region, agency = _region(), _agency(layer)
    version = tq.map_version(engine(), region=region)
    etag = _etag(layer, region, version.version, address.z, address.x, address.y, agency)
    if _matches(etag):
        return _cached_answer(Response(status=304), etag=etag, version=version.version)
    key = (version.region_id, version.version, layer, address.z, address.x, address.y, agency)
    data = _cache().get(key)
    if data is None:
        data = tq.render_tile(
            engine(), layer=layer, region_id=version.region_id, tile=address, agency=agency
        )
        _cache().put(key, address.z, data)
    return _cached_answer(
        Response(data, mimetype=tq.MVT_MEDIA_TYPE), etag=etag, version=version.version
    )


@bp.get("/tiles/labels/<z>/<x>/<y>.json")
def tile_labels(z: str, x: str, y: str) -> Response:
    """Street names to write along the roads of one tile (z >= 15)."""
    authorized("read")
    address = tq.parse_tile(z, x, y, min_zoom=tq.LABEL_MIN_ZOOM)
    region = _region()
    version = tq.map_version(engine(), region=region)
    etag = _etag("labels", region, version.version, address.z, address.x, address.y)
    if _matches(etag):
        return _cached_answer(Response(status=304), etag=etag, version=version.version)
    labels = tq.road_labels(
        engine(), region_id=version.region_id, tile=address, class_order=list(ROAD_CLASS_ORDER)
    )
    return _cached_answer(
        jsonify({"z": address.z, "x": address.x, "y": address.y, "labels": labels}),
        etag=etag,
        version=version.version,
    )


# -- OpenAPI ----------------------------------------------------------------------------------
def _tile_params(*, with_layer: bool) -> list[dict[str, Any]]:
    def coordinate(name: str, high: int, description: str) -> dict[str, Any]:
        return {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 0, "maximum": high},
            "description": description,
        }

    params = [
        coordinate("z", tq.MAX_ZOOM, "zoom"),
        coordinate("x", 2**tq.MAX_ZOOM - 1, "column, below 2**z"),
        coordinate("y", 2**tq.MAX_ZOOM - 1, "row from the north, below 2**z"),
        {**doc.query("region", doc.REGION, "region code, e.g. doha"), "required": True},
        doc.query("v", doc.STR, "the region's map_version: lets the browser keep the tile"),
    ]
    if with_layer:
        layer = {"type": "string", "enum": list(tq.LAYERS)}
        params.insert(0, {"name": "layer", "in": "path", "required": True, "schema": layer})
        params.append(
            doc.query("agency", doc.CODE, "the agency whose jurisdictions (that layer only)")
        )
    return params


def _label_schema() -> dict[str, Any]:
    label = doc.obj(
        {
            "name_en": doc.nullable(doc.STR),
            "name_ar": doc.nullable(doc.STR),
            "class": doc.STR,
            "lonlat": {"type": "array", "items": doc.NUM, "minItems": 2, "maxItems": 2},
            "angle": {"type": "number", "minimum": -90, "maximum": 90},
            "length_px": doc.INT,
        }
    )
    return doc.obj(
        {"z": doc.INT, "x": doc.INT, "y": doc.INT, "labels": {"type": "array", "items": label}}
    )


def openapi_paths() -> dict[str, Any]:
    """This module's part of the OpenAPI document (called by :mod:`.openapi`)."""
    errors = doc.error_answers("400", "401", "403", "404", "503")
    not_modified = {"304": {"description": "the tile has not changed (If-None-Match)"}}
    binary = {"type": "string", "format": "binary"}
    return {
        "/tiles/{layer}/{z}/{x}/{y}.mvt": {
            "get": doc.operation(
                "A Mapbox Vector Tile of the region: roads (classes by zoom), boundaries "
                "(governorates, places from z11) or one agency's jurisdictions",
                {**doc.ok(binary, media=tq.MVT_MEDIA_TYPE), **not_modified, **errors},
                tag="geo",
                params=_tile_params(with_layer=True),
            )
        },
        "/tiles/labels/{z}/{x}/{y}.json": {
            "get": doc.operation(
                "Street names of one tile (z >= 15): Arabic and English, anchor and angle",
                {**doc.ok(_label_schema()), **not_modified, **errors},
                tag="geo",
                params=_tile_params(with_layer=False),
            )
        },
    }
