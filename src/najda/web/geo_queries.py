"""Read-only geodata queries returning plain data (GeoJSON dicts), with no Flask in sight.

Views parse the request, call one of these with an engine and keyword options, and
serialise the result. Database failures become :class:`najda.errors.Unavailable` here,
in one place (:func:`connection`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from najda.errors import NotFound, Unavailable
from najda.web.params import BBox

METRES_PER_DEGREE = 111_320.0
# Most important first: when a request hits its limit, the major roads are kept.
ROAD_CLASS_ORDER = (
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "motorway_link",
    "trunk_link",
    "primary_link",
    "secondary_link",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "road",
    "track",
)
COORDINATE_DECIMALS = 6  # about 0.1 m; more only inflates the payload


@dataclass(frozen=True, kw_only=True)
class RoadQuery:
    """Which road edges to return and how much detail to keep."""

    region: str | None = None
    bbox: BBox | None = None
    classes: Sequence[str] | None = None
    simplify_m: float = 0.0
    limit: int = 5000
    directed: bool = False


@contextmanager
def connection(engine: Engine) -> Iterator[Connection]:
    try:
        with engine.connect() as conn:
            yield conn
    except OperationalError as exc:
        raise Unavailable(
            "The database is not reachable.",
            code="database_unavailable",
            details={"reason": type(exc.orig).__name__},
        ) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise Unavailable(
                "The database connection was lost.", code="database_unavailable"
            ) from exc
        raise


def unknown_region(code: str) -> NotFound:
    return NotFound(
        f"No region with code {code!r} is loaded.",
        code="unknown_region",
        details={"region": code},
    )


def _region_id(conn: Connection, code: str | None) -> int | None:
    if code is None:
        return None
    rid = conn.execute(text("SELECT id FROM region WHERE code = :c"), {"c": code}).scalar()
    if rid is None:
        raise unknown_region(code)
    return int(rid)


def _feature(row: dict[str, Any]) -> dict[str, Any]:
    props = {k: v for k, v in row.items() if k not in ("geometry", "matched")}
    return {
        "type": "Feature",
        "id": row["id"],
        "geometry": json.loads(row["geometry"]) if row["geometry"] is not None else None,
        "properties": props,
    }


def feature_collection(
    rows: Sequence[dict[str, Any]], *, matched: int | None = None
) -> dict[str, Any]:
    features = [_feature(r) for r in rows]
    return {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": len(features) if matched is None else matched,
        "numberReturned": len(features),
    }


def _bbox_params(bbox: BBox | None) -> dict[str, Any]:
    if bbox is None:
        return {"has_bbox": False, "x0": 0.0, "y0": 0.0, "x1": 0.0, "y1": 0.0}
    return {
        "has_bbox": True,
        "x0": bbox.min_lon,
        "y0": bbox.min_lat,
        "x1": bbox.max_lon,
        "y1": bbox.max_lat,
    }


_BBOX_FILTER = "(NOT :has_bbox OR {geom} && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))"

# The road network's extent from its nodes: every edge ends at two of them, and the nodes
# are a third as many rows as the edge geometries (Doha: 11 ms instead of 50 ms).
_REGIONS_SQL = text("""
SELECT r.code, r.name_en, r.name_ar, r.timezone,
       (SELECT count(*) FROM governorate g WHERE g.region_id = r.id) AS governorates,
       (SELECT count(*) FROM road_edge e WHERE e.region_id = r.id) AS road_edges,
       (SELECT count(*) FROM station s WHERE s.region_id = r.id) AS stations,
       (SELECT coalesce(jsonb_object_agg(kind, n), '{}') FROM
          (SELECT kind, count(*) AS n FROM place p WHERE p.region_id = r.id GROUP BY kind) k)
         AS places,
       (SELECT coalesce(jsonb_agg(jsonb_build_object(
                    'code', a.code, 'name_en', coalesce(ra.name_en, a.name_en),
                    'name_ar', coalesce(ra.name_ar, a.name_ar), 'color', a.color)
                  ORDER BY ra.position NULLS LAST, a.id), '[]')
          FROM agency a
          LEFT JOIN region_agency ra ON ra.agency_id = a.id AND ra.region_id = r.id
          WHERE EXISTS (SELECT 1 FROM jurisdiction j
                        WHERE j.region_id = r.id AND j.agency_id = a.id))
         AS jurisdiction_agencies,
       ST_AsGeoJSON(coalesce(r.geom::box2d,
           (SELECT ST_Extent(g.geom) FROM governorate g WHERE g.region_id = r.id))::geometry)
         AS extent,
       ST_AsGeoJSON((SELECT ST_Extent(n.geom) FROM road_node n WHERE n.region_id = r.id)
         ::geometry) AS roads_extent
FROM region r ORDER BY r.code
""")


def _extent_bbox(geojson: str | None) -> list[float] | None:
    """[minLon, minLat, maxLon, maxLat] of an ST_AsGeoJSON box (polygon or point)."""
    if geojson is None:
        return None
    geom = json.loads(geojson)
    coords = geom["coordinates"]
    points = (
        coords[0]
        if geom["type"] == "Polygon"
        else (coords if geom["type"] == "LineString" else [coords])
    )
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return [min(xs), min(ys), max(xs), max(ys)]


def list_regions(engine: Engine) -> list[dict[str, Any]]:
    """Every loaded region with its extent, its road network's extent, layer counts, the
    agencies that have jurisdictions there and the version of its map data (what tile
    URLs carry so that browsers may keep them)."""
    from najda.web.tile_queries import region_versions

    with connection(engine) as conn:
        rows = conn.execute(_REGIONS_SQL).mappings().all()
        versions = region_versions(conn)
    return [
        {
            "code": r["code"],
            "name_en": r["name_en"],
            "name_ar": r["name_ar"],
            "timezone": r["timezone"],
            "bbox": _extent_bbox(r["extent"]),
            "roads_bbox": _extent_bbox(r["roads_extent"]),
            "counts": {
                "governorates": r["governorates"],
                "road_edges": r["road_edges"],
                "stations": r["stations"],
            },
            "place_kinds": dict(r["places"]),
            "jurisdiction_agencies": list(r["jurisdiction_agencies"]),
            "map_version": versions.get(r["code"], ""),
        }
        for r in rows
    ]


def choose_region(
    regions: Sequence[dict[str, Any]], *, wanted: str | None, default: str = ""
) -> dict[str, Any] | None:
    """The region a page shows: ``wanted`` (``?region=``) if loaded, else ``default``
    (the ``NAJDA_REGION`` setting) if loaded, else the first; None when there is none."""
    by_code = {r["code"]: r for r in regions}
    for code in (wanted, default):
        if code and code in by_code:
            return by_code[code]
    return regions[0] if regions else None


_GOVERNORATES_SQL = text(f"""
SELECT g.id, g.code, g.name_en, g.name_ar, g.population, r.code AS region,
       round((ST_Area(g.geom::geography) / 1e6)::numeric, 1)::float AS area_km2,
       ARRAY[round(ST_XMin(g.geom)::numeric, 5)::float, round(ST_YMin(g.geom)::numeric, 5)::float,
             round(ST_XMax(g.geom)::numeric, 5)::float, round(ST_YMax(g.geom)::numeric, 5)::float]
         AS bbox,
       ARRAY[round(ST_X(ST_PointOnSurface(g.geom))::numeric, 5)::float,
             round(ST_Y(ST_PointOnSurface(g.geom))::numeric, 5)::float] AS label_point,
       CASE WHEN :with_geometry THEN
         ST_AsGeoJSON(CASE WHEN :tol > 0 THEN ST_SimplifyPreserveTopology(g.geom, :tol)
                           ELSE g.geom END, {COORDINATE_DECIMALS}) END AS geometry
FROM governorate g JOIN region r ON r.id = g.region_id
WHERE (CAST(:rid AS integer) IS NULL OR g.region_id = :rid)
ORDER BY g.population DESC NULLS LAST, g.name_en
""")


def governorates_geojson(
    engine: Engine, *, region: str | None = None, simplify_m: float = 0.0, geometry: bool = True
) -> dict[str, Any]:
    """Governorate polygons with English and Arabic names, population, area, bounding box
    and a point inside each for its label; without ``geometry`` only the properties (what
    a page that draws the polygons from vector tiles needs for its list and labels)."""
    params = {"tol": simplify_m / METRES_PER_DEGREE, "with_geometry": geometry}
    with connection(engine) as conn:
        rid = _region_id(conn, region)
        rows = conn.execute(_GOVERNORATES_SQL, {"rid": rid, **params}).mappings().all()
    return feature_collection([dict(r) for r in rows])


_ROADS_SQL = text(f"""
SELECT e.id, e.u, e.v, e.highway, e.name_en, e.name_ar, e.oneway,
       round(e.length_m::numeric, 1)::float AS length_m, e.speed_kph,
       round(e.travel_time_s::numeric, 1)::float AS travel_time_s,
       ST_AsGeoJSON(CASE WHEN :tol > 0 THEN coalesce(ST_Simplify(e.geom, :tol), e.geom)
                         ELSE e.geom END, {COORDINATE_DECIMALS}) AS geometry,
       count(*) OVER () AS matched
FROM road_edge e
WHERE (CAST(:rid AS integer) IS NULL OR e.region_id = :rid)
  AND {_BBOX_FILTER.format(geom="e.geom")}
  AND (CAST(:classes AS text[]) IS NULL OR e.highway = ANY(CAST(:classes AS text[])))
  AND (:directed OR NOT EXISTS (
        SELECT 1 FROM road_edge r
        WHERE r.u = e.v AND r.v = e.u AND r.id < e.id
          AND r.osm_way_id IS NOT DISTINCT FROM e.osm_way_id))
ORDER BY coalesce(array_position(CAST(:order AS text[]), e.highway), 999), e.id
LIMIT :limit
""")


def roads_geojson(engine: Engine, query: RoadQuery) -> dict[str, Any]:
    """Road edges as GeoJSON lines, major classes first when ``query.limit`` cuts.

    Unless ``query.directed``, the two directed edges of a two-way road are returned as
    one feature (the one with the lower id), halving what a map has to draw.
    """
    params = {
        "rid": None,
        "tol": query.simplify_m / METRES_PER_DEGREE,
        "classes": list(query.classes) if query.classes else None,
        "directed": query.directed,
        "order": list(ROAD_CLASS_ORDER),
        "limit": query.limit,
        **_bbox_params(query.bbox),
    }
    with connection(engine) as conn:
        params["rid"] = _region_id(conn, query.region)
        rows = [dict(r) for r in conn.execute(_ROADS_SQL, params).mappings()]
    matched = int(rows[0]["matched"]) if rows else 0
    collection = feature_collection(rows, matched=matched)
    collection["truncated"] = matched > len(rows)
    return collection


_STATIONS_SQL = text(f"""
SELECT s.id, s.code, s.kind, s.name_en, s.name_ar, a.code AS agency,
       a.name_en AS agency_name_en, a.name_ar AS agency_name_ar, a.color AS agency_color,
       ST_AsGeoJSON(s.geom, {COORDINATE_DECIMALS}) AS geometry
FROM station s JOIN agency a ON a.id = s.agency_id
WHERE (CAST(:rid AS integer) IS NULL OR s.region_id = :rid)
  AND {_BBOX_FILTER.format(geom="s.geom")}
ORDER BY s.id
""")


def stations_geojson(
    engine: Engine, *, region: str | None = None, bbox: BBox | None = None
) -> dict[str, Any]:
    """Stations (police, fire, ambulance ...) as points with their agency."""
    with connection(engine) as conn:
        rid = _region_id(conn, region)
        rows = conn.execute(_STATIONS_SQL, {"rid": rid, **_bbox_params(bbox)}).mappings()
        return feature_collection([dict(r) for r in rows])


_COUNT_TABLES = ("region", "governorate", "road_edge", "station", "unit")


def database_health(engine: Engine) -> dict[str, Any]:
    """Reachability, schema revision and row counts; Unavailable when not usable."""
    with connection(engine) as conn:
        has_version = conn.execute(
            text("SELECT to_regclass('alembic_version') IS NOT NULL")
        ).scalar_one()
        revision = (
            conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            if has_version
            else None
        )
        if revision is None:
            raise Unavailable(
                "The database schema is not migrated (run: najda db migrate).",
                code="schema_not_migrated",
            )
        counts = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in _COUNT_TABLES
        }
    return {
        "status": "ok",
        "database": {
            "reachable": True,
            "schema_revision": revision,
            "schema_head": schema_head(),
            "schema_up_to_date": revision == schema_head(),
        },
        "counts": counts,
    }


@lru_cache(maxsize=1)
def schema_head() -> str | None:
    """The newest migration this code ships (a database behind it needs ``najda db migrate``)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from najda.db.migrate import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()
