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
3. When a governorate's localities hold more people than the governorate figure (the
   sources differ in date), they are scaled down to it. What the localities do not
   account for is *unplaced*: counted in the governorate's population, never covered
   (we cannot say where those people live), and reported as such.

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
import shapely
from numpy.typing import NDArray
from sqlalchemy import Engine, text

from najda.errors import InvalidInput, NotFound

DEFAULT_RESOLUTION = 8
CITY_RADIUS_M = 50_000.0

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
    SELECT g.id, g.code, g.name_en, g.name_ar, g.population
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
    engine: Engine, region: str, *, resolution: int = DEFAULT_RESOLUTION
) -> PopulationSurface:
    """Build the population surface of ``region`` at H3 ``resolution`` (see the module).

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
    gov_index = {int(g.id): i for i, g in enumerate(govs)}
    people: dict[tuple[str, int], float] = defaultdict(float)
    by_locality: dict[int, list[Any]] = defaultdict(list)
    for h in hoods:
        by_locality[int(h.locality_id)].append(h)
    for loc in locs:
        g = gov_index[int(loc.gid)]
        pieces = by_locality.get(int(loc.id))
        if pieces:
            _spread_over_polygons(people, float(loc.population), g, pieces, resolution)
        else:
            people[(h3.latlng_to_cell(loc.lat, loc.lon, resolution), g)] += float(loc.population)
    return _assemble(region, resolution, govs, people)


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
    region: str, resolution: int, govs: Sequence[Any], people: dict[tuple[str, int], float]
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


def cell_polygon(cell: str) -> dict[str, Any]:
    """GeoJSON Polygon (lon/lat) of an H3 cell."""
    ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(cell)]
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}
