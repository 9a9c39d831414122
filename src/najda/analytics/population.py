"""The population surface: how many people live in each H3 cell, per governorate.

Method (dasymetric, from what the importers store)
--------------------------------------------------
1. Every governorate's people are its imported ``governorate.population``.
2. Localities (``place.kind = 'locality'``) with a population place their people; a
   neighbourhood polygon (``kind = 'neighbourhood'``) belongs to the nearest populated
   locality of its governorate within :data:`CITY_RADIUS_M`. A locality that has
   neighbourhoods spreads its people over them in proportion to their area (uniform
   density across the city), and inside each polygon evenly over the H3 cells whose
   centres fall in it (a polygon smaller than one cell gives its people to the cell of
   a point inside it). A locality without neighbourhoods puts its people in the cell of
   its point.
3. A governorate with no populated locality (Doha's municipalities come with their
   population only) spreads its people over its residential streets: each H3 cell gets
   a share proportional to the length of ``residential`` and ``living_street`` roads
   whose middle (between their end nodes) lies in it and in the governorate (all
   drivable roads when the governorate has none); a street drawn both ways counts half
   in each direction. Streets are where people live, so the
   weight follows the city rather than the empty desert a municipality also holds. This
   is done only when the region's road data (the convex hull of its road nodes) covers
   at least :data:`MIN_ROAD_EXTENT_SHARE` of the governorate's area: below that the
   roads only graze its edge, and putting all its people there would invent a crowd on
   its border; its people stay unplaced.
4. When a governorate's localities hold more people than the governorate figure (the
   sources differ in date), they are scaled down to it. What the localities do not
   account for is *unplaced*: counted in the governorate's population, never covered
   (we cannot say where those people live), and reported as such.

Each governorate says how its people were placed (:attr:`Governorates.placement`):
``localities``, ``roads`` or ``none``.

A demand row is one (cell, governorate) pair; a cell crossed by a governorate boundary
keeps one row per governorate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import h3
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.spatial import ConvexHull, QhullError
from sqlalchemy import Engine, text

from najda.errors import InvalidInput, NotFound
from najda.routing.graph import RoadGraph

DEFAULT_RESOLUTION = 8
CITY_RADIUS_M = 50_000.0
MIN_ROAD_EXTENT_SHARE = 0.10
RESIDENTIAL = ("residential", "living_street")

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Governorates:
    """Governorates of a region (index ``g`` used by the demand rows)."""

    id: NDArray[np.int64]
    code: tuple[str, ...]
    name_en: tuple[str, ...]
    name_ar: tuple[str, ...]
    population: FloatArray  # the imported figure (placed people when it is missing)
    placed: FloatArray  # people put into cells
    placement: tuple[str, ...] = ()  # per governorate: localities, roads or none
    road_share: FloatArray | None = None  # share of its area inside the road data

    @property
    def unplaced(self) -> FloatArray:
        return np.maximum(self.population - self.placed, 0.0)

    def __len__(self) -> int:
        return int(self.id.size)


@dataclass(frozen=True)
class PopulationSurface:
    """People per H3 cell (one row per cell and governorate).

    Attributes
    ----------
    region, resolution
        What it was built for.
    cell
        H3 cell index (string) per row.
    lon, lat
        The cell's centre.
    population
        People in the row.
    governorate
        Index into :attr:`governorates`.
    """

    region: str
    resolution: int
    cell: NDArray[np.str_]
    lon: FloatArray
    lat: FloatArray
    population: FloatArray
    governorate: NDArray[np.int64]
    governorates: Governorates

    def __len__(self) -> int:
        return int(self.cell.size)


_GOV_SQL = """
    SELECT g.id, g.code, g.name_en, g.name_ar, g.population, ST_AsBinary(g.geom) AS wkb
    FROM governorate g JOIN region r ON r.id = g.region_id
    WHERE r.code = :region ORDER BY g.id
"""
_LOC_SQL = """
    SELECT p.id, p.population, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat, gv.id AS gid
    FROM place p JOIN region r ON r.id = p.region_id
    JOIN LATERAL (SELECT g.id FROM governorate g
                  WHERE g.region_id = r.id AND ST_Covers(g.geom, p.geom)
                  ORDER BY ST_Area(g.geom), g.id LIMIT 1) gv ON true
    WHERE r.code = :region AND p.kind = 'locality' AND p.population > 0
    ORDER BY p.id
"""
# Each neighbourhood polygon and the populated locality of the same governorate nearest
# to it (within the city radius).
_HOOD_SQL = """
    WITH loc AS (
        SELECT p.id, p.geom, gv.id AS gid FROM place p JOIN region r ON r.id = p.region_id
        JOIN LATERAL (SELECT g.id FROM governorate g
                      WHERE g.region_id = r.id AND ST_Covers(g.geom, p.geom)
                      ORDER BY ST_Area(g.geom), g.id LIMIT 1) gv ON true
        WHERE r.code = :region AND p.kind = 'locality' AND p.population > 0),
    hood AS (
        SELECT p.id, p.geom, ST_PointOnSurface(p.geom) AS inside,
               ST_Area(p.geom::geography) AS area_m2
        FROM place p JOIN region r ON r.id = p.region_id
        WHERE r.code = :region AND p.kind = 'neighbourhood'
          AND GeometryType(p.geom) IN ('POLYGON', 'MULTIPOLYGON'))
    SELECT h.id, near.id AS locality_id, h.area_m2, ST_AsBinary(h.geom) AS wkb,
           ST_X(h.inside) AS lon, ST_Y(h.inside) AS lat
    FROM hood h
    JOIN LATERAL (SELECT g.id FROM governorate g WHERE ST_Covers(g.geom, h.inside)
                  ORDER BY ST_Area(g.geom), g.id LIMIT 1) hg ON true
    JOIN LATERAL (SELECT l.id FROM loc l WHERE l.gid = hg.id
                    AND ST_DWithin(l.geom::geography, h.inside::geography, :radius)
                  ORDER BY l.geom <-> h.inside LIMIT 1) near ON true
    ORDER BY h.id
"""


def population_surface(
    engine: Engine,
    region: str,
    *,
    resolution: int = DEFAULT_RESOLUTION,
    graph: RoadGraph | None = None,
) -> PopulationSurface:
    """Build the population surface of ``region`` at H3 ``resolution`` (see the module).

    Parameters
    ----------
    engine
        The database (governorates, localities, neighbourhoods).
    region
        Region code.
    resolution
        H3 resolution of the cells.
    graph
        The region's road graph, for governorates placed on their streets (loaded from
        the database when one is needed and none is given).

    Raises
    ------
    InvalidInput
        ``resolution`` outside 5..10.
    NotFound
        The region has no governorates.
    """
    if isinstance(resolution, bool) or not isinstance(resolution, int) or not 5 <= resolution <= 10:
        raise InvalidInput(
            "resolution must be an integer from 5 to 10", details={"resolution": resolution}
        )
    with engine.connect() as conn:
        govs = conn.execute(text(_GOV_SQL), {"region": region}).all()
        if not govs:
            raise NotFound(f"region {region} has no governorates", details={"region": region})
        locs = conn.execute(text(_LOC_SQL), {"region": region}).all()
        hoods = conn.execute(text(_HOOD_SQL), {"region": region, "radius": CITY_RADIUS_M}).all()
    people: dict[tuple[str, int], float] = defaultdict(float)
    placement = _place_localities(people, govs, locs, hoods, resolution)
    shapes = [shapely.from_wkb(bytes(g.wkb)) for g in govs]
    unplaced = [i for i, how in enumerate(placement) if how == "none"]
    if unplaced and graph is None:
        graph = _graph_if_any(engine, region)
    share = road_extent_share(graph, shapes) if graph is not None else np.zeros(len(govs))
    chosen = [i for i in unplaced if share[i] >= MIN_ROAD_EXTENT_SHARE]
    if chosen and graph is not None:
        streets = Streets.of(graph)
        for g in chosen:
            weights = streets.cell_weights(shapes[g], resolution)
            if weights:
                placement[g] = "roads"
                _spread_by_weight(people, float(govs[g].population or 0.0), g, weights)
    return _assemble(region, resolution, govs, people, placement, share)


def _place_localities(
    people: dict[tuple[str, int], float],
    govs: Sequence[Any],
    locs: Sequence[Any],
    hoods: Sequence[Any],
    resolution: int,
) -> list[str]:
    """Localities' people into cells (steps 1 and 2); per governorate, how it was placed."""
    gov_index = {int(g.id): i for i, g in enumerate(govs)}
    by_locality: dict[int, list[Any]] = defaultdict(list)
    for h in hoods:
        by_locality[int(h.locality_id)].append(h)
    placement = ["none"] * len(govs)
    for loc in locs:
        g = gov_index[int(loc.gid)]
        placement[g] = "localities"
        pieces = by_locality.get(int(loc.id))
        if pieces:
            _spread_over_polygons(people, float(loc.population), g, pieces, resolution)
        else:
            people[(h3.latlng_to_cell(loc.lat, loc.lon, resolution), g)] += float(loc.population)
    return placement


def _graph_if_any(engine: Engine, region: str) -> RoadGraph | None:
    from najda.routing.graph import load_graph

    try:
        return load_graph(engine, region)
    except NotFound:  # a region without roads: nobody can be placed on them
        return None


def road_extent_share(graph: RoadGraph, shapes: Sequence[shapely.Geometry]) -> FloatArray:
    """Per polygon: the share of its area inside the road data (convex hull of the nodes).

    Areas are taken in the graph's metric frame (a local projection: fine for a ratio).
    """
    xy = graph.frame.to_xy(graph.lon, graph.lat)
    try:
        hull = shapely.Polygon(xy[ConvexHull(xy).vertices])
    except (QhullError, ValueError):  # fewer than three nodes, or all on one line
        return np.zeros(len(shapes))
    out = np.zeros(len(shapes))
    for i, shape in enumerate(shapes):
        metric = shapely.transform(shape, lambda xy: graph.frame.to_xy(xy[:, 0], xy[:, 1]))
        area = float(metric.area)
        out[i] = float(shapely.intersection(metric, hull).area) / area if area > 0 else 0.0
    return out


@dataclass(frozen=True)
class Streets:
    """The streets of a road graph: per directed edge, its middle point (between its end
    nodes), the length it stands for (half of a street drawn both ways) and whether it
    is residential."""

    lon: FloatArray
    lat: FloatArray
    length_m: FloatArray
    residential: NDArray[np.bool_]

    @classmethod
    def of(cls, graph: RoadGraph) -> Streets:
        # a street drawn both ways is two directed edges: each counts half
        half = np.where(_has_reverse(graph), 0.5, 1.0)
        classes = np.array(graph.highway_classes, dtype=object)
        return cls(
            lon=(graph.lon[graph.edge_u] + graph.lon[graph.edge_v]) / 2.0,
            lat=(graph.lat[graph.edge_u] + graph.lat[graph.edge_v]) / 2.0,
            length_m=graph.length_m.astype(np.float64) * half,
            residential=np.isin(classes[graph.highway_code], RESIDENTIAL),
        )

    def cell_weights(self, shape: shapely.Geometry, resolution: int) -> dict[str, float]:
        """Street metres per H3 cell inside ``shape``: residential streets, or every
        street when it has none."""
        inside = shapely.contains_xy(shape, self.lon, self.lat)
        pick = inside & self.residential
        if not pick.any():
            pick = inside
        weights: dict[str, float] = defaultdict(float)
        for x, y, w in zip(
            self.lon[pick].tolist(),
            self.lat[pick].tolist(),
            self.length_m[pick].tolist(),
            strict=True,
        ):
            weights[h3.latlng_to_cell(y, x, resolution)] += w
        return dict(weights)


def _has_reverse(graph: RoadGraph) -> NDArray[np.bool_]:
    """Per edge: an edge runs the other way between the same two nodes with the same
    length (to 0.1 m). Unlike the graph's twins, every such edge counts, so a street
    mapped twice (two OSM ways on the same nodes) is halved consistently."""
    u, v = graph.edge_u, graph.edge_v
    rounded = np.round(graph.length_m * 10.0).astype(np.int64)
    forward = pd.MultiIndex.from_arrays([u, v, rounded])
    backward = pd.MultiIndex.from_arrays([v, u, rounded])
    found: NDArray[np.bool_] = np.asarray(backward.isin(forward)) & (u != v)
    return found


def _spread_by_weight(
    people: dict[tuple[str, int], float], total: float, g: int, weights: dict[str, float]
) -> None:
    whole = sum(weights.values())
    for cell, w in weights.items():
        people[(cell, g)] += total * w / whole


def _spread_over_polygons(
    people: dict[tuple[str, int], float], total: float, g: int, pieces: list[Any], resolution: int
) -> None:
    area = np.array([float(p.area_m2) for p in pieces])
    if area.sum() <= 0:
        area = np.ones(area.size)
    shares = total * area / area.sum()
    for piece, share in zip(pieces, shares, strict=True):
        geom = shapely.from_wkb(bytes(piece.wkb))
        cells = list(h3.geo_to_cells(geom.__geo_interface__, resolution))
        if not cells:
            cells = [h3.latlng_to_cell(piece.lat, piece.lon, resolution)]
        each = share / len(cells)
        for c in cells:
            people[(c, g)] += each


def _assemble(
    region: str,
    resolution: int,
    govs: Sequence[Any],
    people: dict[tuple[str, int], float],
    placement: Sequence[str],
    road_share: FloatArray,
) -> PopulationSurface:
    keys = sorted(people)
    cells = np.array([k[0] for k in keys], dtype=str)
    gidx = np.array([k[1] for k in keys], dtype=np.int64)
    pop = np.array([people[k] for k in keys], dtype=np.float64)
    placed = np.bincount(gidx, weights=pop, minlength=len(govs)) if keys else np.zeros(len(govs))
    figure = np.array([float(g.population) if g.population is not None else np.nan for g in govs])
    figure = np.where(np.isnan(figure), placed, figure)
    scale = np.where(placed > figure, figure / np.maximum(placed, 1e-9), 1.0)
    pop = pop * scale[gidx] if keys else pop
    placed = np.minimum(placed, figure)
    centres = [h3.cell_to_latlng(c) for c in cells]
    lat = np.array([c[0] for c in centres], dtype=np.float64)
    lon = np.array([c[1] for c in centres], dtype=np.float64)
    gov = Governorates(
        id=np.array([int(g.id) for g in govs], dtype=np.int64),
        code=tuple(str(g.code) for g in govs),
        name_en=tuple(str(g.name_en) for g in govs),
        name_ar=tuple(str(g.name_ar) for g in govs),
        population=figure,
        placed=placed,
        placement=tuple(placement),
        road_share=road_share,
    )
    return PopulationSurface(
        region=region,
        resolution=resolution,
        cell=cells,
        lon=lon,
        lat=lat,
        population=pop,
        governorate=gidx,
        governorates=gov,
    )


def cell_polygon(cell: str, *, decimals: int = 7) -> dict[str, Any]:
    """GeoJSON Polygon (lon/lat, rounded to ``decimals``) of an H3 cell."""
    ring = [[round(lng, decimals), round(lat, decimals)] for lat, lng in h3.cell_to_boundary(cell)]
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}
