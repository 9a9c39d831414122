"""Vector tiles (Mapbox Vector Tile, built by PostGIS) and road labels for the map.

Plain functions over an engine, no Flask: the views in :mod:`najda.web.api.tiles` parse
the request and call these. A tile is made in one SQL statement with ``ST_AsMVT`` /
``ST_AsMVTGeom``; what it holds depends on the zoom, so a whole city's 96k road edges
never reach a browser at once:

- ``roads``: one MVT layer ``roads``; which classes a zoom shows is
  :data:`ROAD_CLASS_MIN_ZOOM` (motorways and trunks everywhere, residential streets from
  z14, service roads from z15). The edges of one class are merged and simplified to half
  a pixel, and the two directed edges of a two-way street are drawn once.
- ``boundaries``: MVT layers ``governorates`` (municipalities) and ``places``
  (neighbourhoods, zones: polygons only, from z11).
- ``jurisdictions``: the areas of one agency (MVT layer ``jurisdictions``), only asked for
  when someone turns them on.

Road labels (names in Arabic and English with an anchor and an angle) are a small JSON
per tile from z15, one label per street name and tile.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

from najda.errors import InvalidInput
from najda.web.geo_queries import connection, unknown_region

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
EXTENT = 4096  # MVT's usual grid: 16 steps per pixel of a 256-pixel tile
BUFFER = 64  # drawn past the tile's edge so strokes join across tiles
MAX_ZOOM = 22
LABEL_MIN_ZOOM = 15
MAX_LABELS_PER_TILE = 60
PLACES_MIN_ZOOM = 11
EARTH_CIRCUMFERENCE_M = 40_075_016.686
TILE_PIXELS = 256

# The zoom from which a road class is drawn; classes not named here from z15.
ROAD_CLASS_MIN_ZOOM: dict[str, int] = {
    "motorway": 0,
    "trunk": 0,
    "primary": 8,
    "motorway_link": 11,
    "trunk_link": 11,
    "secondary": 10,
    "primary_link": 12,
    "tertiary": 11,
    "secondary_link": 13,
    "tertiary_link": 13,
    "unclassified": 13,
    "residential": 14,
    "living_street": 14,
    "road": 14,
}
OTHER_CLASSES_MIN_ZOOM = 15
LAYERS = ("roads", "boundaries", "jurisdictions")


@dataclass(frozen=True, kw_only=True)
class TileAddress:
    """One tile of the Web-Mercator grid (z, x, y as in slippy-map URLs)."""

    z: int
    x: int
    y: int

    @property
    def pixel_m(self) -> float:
        """Ground metres (Web Mercator) of one screen pixel at this zoom."""
        return EARTH_CIRCUMFERENCE_M / (TILE_PIXELS * 2**self.z)

    def params(self) -> dict[str, Any]:
        return {"z": self.z, "x": self.x, "y": self.y, "extent": EXTENT, "buffer": BUFFER}


def _bad_tile(name: str, raw: str, expected: str) -> InvalidInput:
    return InvalidInput(
        f"{name} must be {expected}.",
        code="invalid_tile",
        details={"parameter": name, "value": raw[:30], "expected": expected},
    )


def _tile_int(raw: str, name: str, high: int) -> int:
    expected = f"an integer from 0 to {high}"
    if not raw.isascii() or not raw.isdigit() or len(raw) > 8:
        raise _bad_tile(name, raw, expected)
    value = int(raw)
    if value > high:
        raise _bad_tile(name, raw, expected)
    return value


def parse_tile(z: str, x: str, y: str, *, min_zoom: int = 0) -> TileAddress:
    """Check a tile address from a URL: 0 <= x, y < 2**z and ``min_zoom`` <= z <= 22."""
    zoom = _tile_int(z, "z", MAX_ZOOM)
    if zoom < min_zoom:
        raise _bad_tile("z", z, f"an integer from {min_zoom} to {MAX_ZOOM}")
    last = 2**zoom - 1
    return TileAddress(z=zoom, x=_tile_int(x, "x", last), y=_tile_int(y, "y", last))


def road_classes_at(zoom: int) -> list[str]:
    """The road classes a tile at ``zoom`` draws (every class at z15 and beyond)."""
    if zoom >= OTHER_CLASSES_MIN_ZOOM:
        return []  # empty means every class
    return [cls for cls, low in ROAD_CLASS_MIN_ZOOM.items() if zoom >= low]


# -- the region's map version: what caches are keyed on -------------------------------------
_VERSION_SQL = """
SELECT r.id, r.code,
       coalesce((SELECT max(g.version) FROM graph_version g WHERE g.region_id = r.id), 0)
         AS graph,
       coalesce((SELECT floor(extract(epoch FROM max(l.imported_at)) * 1000)::bigint
                 FROM layer_import l WHERE l.region_id = r.id), 0) AS layers
FROM region r
"""
_ONE_VERSION_SQL = text(_VERSION_SQL + " WHERE r.code = :code")
_ALL_VERSIONS_SQL = text(_VERSION_SQL)


@dataclass(frozen=True, kw_only=True)
class RegionVersion:
    """A region's id and the version of its map data (graph version, last layer import)."""

    region_id: int
    version: str


def _version_text(row: Any) -> str:
    return f"{int(row['graph'])}-{int(row['layers']):x}"


def region_versions(conn: Connection) -> dict[str, str]:
    """The map version of every region, by code."""
    return {r["code"]: _version_text(r) for r in conn.execute(_ALL_VERSIONS_SQL).mappings()}


def map_version(engine: Engine, *, region: str) -> RegionVersion:
    """The version of ``region``'s map data; a re-import of any layer changes it."""
    with connection(engine) as conn:
        row = conn.execute(_ONE_VERSION_SQL, {"code": region}).mappings().first()
    if row is None:
        raise unknown_region(region)
    return RegionVersion(region_id=int(row["id"]), version=_version_text(row))


# -- the tiles -------------------------------------------------------------------------------
_BOUNDS = """
bounds AS (
  SELECT ST_TileEnvelope(:z, :x, :y) AS merc,
         ST_Transform(ST_TileEnvelope(:z, :x, :y,
                                      margin => CAST(:buffer AS float) / :extent), 4326) AS box
)"""

# Two-way streets are two directed edges with one geometry: keep the one with u < v (and
# any edge without a reverse twin, such as a one-way street).
_ONE_OF_TWINS = """
(e.u < e.v OR NOT EXISTS (SELECT 1 FROM road_edge r WHERE r.u = e.v AND r.v = e.u
                          AND r.osm_way_id IS NOT DISTINCT FROM e.osm_way_id))"""

_ROADS_SQL = text(f"""
WITH {_BOUNDS},
edges AS (
  SELECT e.highway, e.geom FROM road_edge e, bounds b
  WHERE e.region_id = :rid AND e.geom && b.box
    AND (cardinality(CAST(:classes AS text[])) = 0 OR e.highway = ANY(CAST(:classes AS text[])))
    AND {_ONE_OF_TWINS}
),
merged AS (
  SELECT e.highway AS class,
         ST_AsMVTGeom(ST_Simplify(ST_LineMerge(ST_Collect(ST_Transform(e.geom, 3857))), :tol),
                      b.merc, :extent, :buffer, true) AS geom
  FROM edges e, bounds b GROUP BY e.highway, b.merc
)
SELECT ST_AsMVT(merged, 'roads', :extent, 'geom') FROM merged WHERE geom IS NOT NULL
""")

_BOUNDARIES_SQL = text(f"""
WITH {_BOUNDS},
govs AS (
  SELECT g.code, g.name_en, g.name_ar, g.population,
         ST_AsMVTGeom(ST_SimplifyPreserveTopology(ST_Transform(g.geom, 3857), :tol),
                      b.merc, :extent, :buffer, true) AS geom
  FROM governorate g, bounds b WHERE g.region_id = :rid AND g.geom && b.box
),
places AS (
  SELECT p.kind, p.code, p.name_en, p.name_ar,
         ST_AsMVTGeom(ST_SimplifyPreserveTopology(ST_Transform(p.geom, 3857), :tol),
                      b.merc, :extent, :buffer, true) AS geom
  FROM place p, bounds b
  WHERE p.region_id = :rid AND :z >= :places_min_zoom AND p.geom && b.box
    AND ST_Dimension(p.geom) = 2
)
SELECT coalesce((SELECT ST_AsMVT(govs, 'governorates', :extent, 'geom')
                 FROM govs WHERE geom IS NOT NULL), ''::bytea)
    || coalesce((SELECT ST_AsMVT(places, 'places', :extent, 'geom')
                 FROM places WHERE geom IS NOT NULL), ''::bytea)
""")

_JURISDICTIONS_SQL = text(f"""
WITH {_BOUNDS},
areas AS (
  SELECT j.code, j.name_en, j.name_ar, a.code AS agency, a.color,
         ST_AsMVTGeom(ST_SimplifyPreserveTopology(ST_Transform(j.geom, 3857), :tol),
                      b.merc, :extent, :buffer, true) AS geom
  FROM jurisdiction j JOIN agency a ON a.id = j.agency_id, bounds b
  WHERE j.region_id = :rid AND a.code = :agency AND j.geom && b.box
)
SELECT ST_AsMVT(areas, 'jurisdictions', :extent, 'geom') FROM areas WHERE geom IS NOT NULL
""")


def _tile_sql(layer: str, tile: TileAddress, agency: str | None) -> tuple[Any, dict[str, Any]]:
    params = {**tile.params(), "tol": tile.pixel_m / 2}
    if layer == "roads":
        return _ROADS_SQL, {**params, "classes": road_classes_at(tile.z)}
    if layer == "boundaries":
        return _BOUNDARIES_SQL, {**params, "places_min_zoom": PLACES_MIN_ZOOM}
    if layer == "jurisdictions":
        return _JURISDICTIONS_SQL, {**params, "agency": agency}
    raise ValueError(f"unknown layer {layer!r}")


def render_tile(
    engine: Engine, *, layer: str, region_id: int, tile: TileAddress, agency: str | None = None
) -> bytes:
    """One vector tile of ``layer`` (see the module's docstring); empty where nothing is."""
    sql, params = _tile_sql(layer, tile, agency)
    with connection(engine) as conn:
        data = conn.execute(sql, {**params, "rid": region_id}).scalar()
    return bytes(data or b"")


# -- road labels ------------------------------------------------------------------------------
_LABELS_SQL = text(f"""
WITH {_BOUNDS},
named AS (
  SELECT e.highway, e.name_en, e.name_ar,
         ST_Intersection(ST_Transform(e.geom, 3857), b.merc) AS g
  FROM road_edge e, bounds b
  WHERE e.region_id = :rid AND e.geom && b.box
    AND (e.name_en IS NOT NULL OR e.name_ar IS NOT NULL) AND {_ONE_OF_TWINS}
),
pieces AS (
  SELECT highway, name_en, name_ar, (ST_Dump(ST_LineMerge(ST_Collect(g)))).geom AS g
  FROM named WHERE NOT ST_IsEmpty(g) GROUP BY highway, name_en, name_ar
),
longest AS (
  SELECT DISTINCT ON (name_en, name_ar) highway, name_en, name_ar, g, ST_Length(g) AS len
  FROM pieces WHERE GeometryType(g) = 'LINESTRING'
  ORDER BY name_en, name_ar, ST_Length(g) DESC
)
SELECT highway, name_en, name_ar, len,
       ST_AsGeoJSON(ST_Transform(ST_LineInterpolatePoint(g, 0.5), 4326), 6) AS anchor,
       degrees(ST_Azimuth(ST_LineInterpolatePoint(g, 0.4), ST_LineInterpolatePoint(g, 0.6)))
         AS azimuth
FROM longest WHERE len >= :min_len
ORDER BY coalesce(array_position(CAST(:order AS text[]), highway), 999), len DESC
LIMIT :limit
""")


def text_angle(azimuth_deg: float | None) -> float:
    """The clockwise screen rotation (degrees, above -90, at most 90) that lays text along a road whose
    direction is ``azimuth_deg`` (clockwise from north), never upside down."""
    if azimuth_deg is None:
        return 0.0
    angle = (azimuth_deg - 90.0) % 360.0
    if angle > 180.0:
        angle -= 360.0
    if angle > 90.0:
        angle -= 180.0
    elif angle <= -90.0:
        angle += 180.0
    return round(angle, 1)


def road_labels(
    engine: Engine, *, region_id: int, tile: TileAddress, class_order: list[str]
) -> list[dict[str, Any]]:
    """Street names to write along the roads of one tile: per name, the longest stretch
    inside the tile, its middle and the angle of the text; major roads first."""
    import json

    params = {
        **tile.params(),
        "rid": region_id,
        "order": class_order,
        "limit": MAX_LABELS_PER_TILE,
        "min_len": 24 * tile.pixel_m,  # shorter stretches cannot hold a word
    }
    with connection(engine) as conn:
        rows = conn.execute(_LABELS_SQL, params).mappings().all()
    return [
        {
            "name_en": r["name_en"],
            "name_ar": r["name_ar"],
            "class": r["highway"],
            "lonlat": json.loads(r["anchor"])["coordinates"],
            "angle": text_angle(r["azimuth"]),
            "length_px": round(r["len"] / tile.pixel_m),
        }
        for r in rows
    ]


# -- a small cache of the costly (low-zoom) tiles, per application ------------------------------
class TileCache:
    """Bytes of recently made tiles keyed by (region, map version, layer, tile, agency).

    Only tiles of low zoom are kept: they merge thousands of edges each, and there are
    few of them. A new map version makes new keys; old ones age out.
    """

    def __init__(self, *, max_entries: int = 1024, max_zoom: int = 12) -> None:
        self.max_entries = max_entries
        self.max_zoom = max_zoom
        self._items: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data

    def put(self, key: tuple[Any, ...], zoom: int, data: bytes) -> None:
        if zoom > self.max_zoom:
            return
        with self._lock:
            self._items[key] = data
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
