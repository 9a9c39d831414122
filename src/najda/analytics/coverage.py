"""Drive-time coverage from stations or available units, per governorate, and the gaps.

How a number is made
--------------------
* ONE forward multi-source search on the road graph (the routing engine's
  :func:`~najda.routing.engine.node_travel_times` from the road nodes stations are linked
  to, or :func:`~najda.routing.engine.reach` from units' snapped positions) gives every
  road node its time from the nearest source, bounded by the largest threshold.
* Each demand row of the population surface (:mod:`.population`) is tied to the road
  node nearest its cell centre, if one lies within ``access_m`` (default 500 m, the
  snapping limit); its time is that node's. Rows with no node that close are
  *off-network*: never covered.
* A row is covered within T minutes when its time is at most ``60 T`` seconds. Covered
  people are given as a share of three denominators (:data:`DENOMINATORS`), each named
  in its key: ``pct_*`` of the governorate's population (placed and unplaced people
  alike), ``pct_placed_*`` of the people the population layer places in cells, and
  ``pct_on_network_*`` of those near a road.

A station is used when the importer linked it to a road node of this graph within the
graph's snapping limit; the others are listed as left out, with their distance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree
from sqlalchemy import Engine, text

from najda.analytics.heatmap import COORD_DECIMALS, cells_shape, fine_resolution, node_cells
from najda.analytics.population import PopulationSurface, cell_polygon
from najda.errors import InvalidInput, Unprocessable
from najda.routing.engine import Reach, node_travel_times, reach
from najda.routing.graph import FloatArray, Int32Array, RoadGraph
from najda.routing.snap import Snaps

DEFAULT_THRESHOLDS_MIN: tuple[float, ...] = (4.0, 8.0, 12.0)
DEFAULT_ACCESS_M = 500.0
AREA_FINEST_RESOLUTION = 10

SourceKind = Literal["stations", "units"]

# What each percentage is a share of (the API and the page say it with every number).
DENOMINATORS = {
    "pct": "population: every resident the imported governorate figures count, "
    "whether or not the population layer could place them in a cell",
    "pct_placed": "placed: the people the population layer puts in H3 cells "
    "(the region's population layer)",
    "pct_on_network": "on_network: placed people whose cell centre is within "
    f"{DEFAULT_ACCESS_M:g} m of a road node (people near a road)",
}


@dataclass(frozen=True)
class Source:
    """A station or an available unit that coverage is computed from."""

    kind: Literal["station", "unit"]
    id: int
    code: str
    agency: str
    lon: float
    lat: float
    name_en: str | None = None
    name_ar: str | None = None
    road_node_id: int | None = None
    snap_distance_m: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "code": self.code,
            "agency": self.agency,
            "name_en": self.name_en,
            "name_ar": self.name_ar,
            "lon": self.lon,
            "lat": self.lat,
            "snap_distance_m": self.snap_distance_m,
        }


@dataclass(frozen=True)
class Demand:
    """A population surface tied to a road graph: the road node of every demand row."""

    surface: PopulationSurface
    node: Int32Array  # graph node index per row, -1 when off-network
    access_m: float

    @property
    def on_network(self) -> NDArray[np.bool_]:
        return self.node >= 0


def check_thresholds(thresholds_min: Sequence[float]) -> tuple[float, ...]:
    values = tuple(float(t) for t in thresholds_min)
    if not values or len(values) > 6 or not all(math.isfinite(t) and 0 < t <= 120 for t in values):
        raise InvalidInput(
            "thresholds must be 1 to 6 minute values in (0, 120]",
            details={"thresholds": list(thresholds_min)[:10]},
        )
    return tuple(sorted(set(values)))


def attach(
    graph: RoadGraph, surface: PopulationSurface, *, access_m: float = DEFAULT_ACCESS_M
) -> Demand:
    """Tie each demand row to the nearest road node within ``access_m`` (else -1)."""
    tree: cKDTree = graph.memo(
        ("analytics", "node_tree"), lambda: cKDTree(graph.frame.to_xy(graph.lon, graph.lat))
    )
    if len(surface) == 0:
        return Demand(surface, np.zeros(0, dtype=np.int32), access_m)
    dist, idx = tree.query(
        graph.frame.to_xy(surface.lon, surface.lat), distance_upper_bound=access_m
    )
    node = np.where(np.isfinite(dist), idx, -1).astype(np.int32)
    return Demand(surface, node, float(access_m))


# -- the result ------------------------------------------------------------------------
@dataclass(frozen=True)
class Coverage:
    """Coverage of a population surface within several thresholds.

    Attributes
    ----------
    thresholds_min
        Thresholds, ascending.
    time_s
        Per demand row: time from the nearest source (``inf`` off-network, unreachable
        or beyond the largest threshold).
    covered
        (governorates, thresholds) people covered.
    on_network
        Per governorate: people in rows tied to a road node.
    sources_used, sources_left_out
        Which sources the search started from, and which could not be used.
    reach
        The search behind it (its per-node times; drive-time areas come from it).
    """

    demand: Demand
    thresholds_min: tuple[float, ...]
    time_s: FloatArray
    covered: FloatArray
    on_network: FloatArray
    sources_used: tuple[Source, ...] = ()
    sources_left_out: tuple[Source, ...] = ()
    reach: Reach | None = field(default=None, repr=False)

    def governorate_rows(self) -> list[dict[str, Any]]:
        """One row per governorate: people, placed, on-network and covered per threshold,
        with the share of each denominator (see :data:`DENOMINATORS`)."""
        gov = self.demand.surface.governorates
        rows = []
        for g in range(len(gov)):
            row: dict[str, Any] = {
                "governorate_id": int(gov.id[g]),
                "code": gov.code[g],
                "name_en": gov.name_en[g],
                "name_ar": gov.name_ar[g],
                "placement": gov.placement[g] if gov.placement else None,
                "road_share": _round(gov.road_share[g]) if gov.road_share is not None else None,
            }
            row.update(self._numbers(self.covered[g], gov.population[g], gov.placed[g], g))
            rows.append(row)
        return rows

    def totals(self) -> dict[str, Any]:
        """The same numbers for the whole region."""
        gov = self.demand.surface.governorates
        return self._numbers(
            self.covered.sum(axis=0), gov.population.sum(), gov.placed.sum(), slice(None)
        )

    def _numbers(
        self, covered: FloatArray, population: float, placed: float, g: int | slice
    ) -> dict[str, Any]:
        on_network = float(np.sum(self.on_network[g]))
        out: dict[str, Any] = {
            "population": float(population),
            "placed": float(placed),
            "unplaced": max(float(population) - float(placed), 0.0),
            "on_network": on_network,
        }
        for k, t in enumerate(self.thresholds_min):
            label = _label(t)
            out[f"covered_{label}"] = float(covered[k])
            out[f"pct_{label}"] = _pct(covered[k], population)
            out[f"pct_placed_{label}"] = _pct(covered[k], placed)
            out[f"pct_on_network_{label}"] = _pct(covered[k], on_network)
        return out

    def areas(self) -> list[tuple[float, dict[str, Any]]]:
        """The drive-time area of each threshold, largest first, as a GeoJSON geometry.

        An area is made of H3 cells: a cell belongs to the T-minute area when one of its
        road nodes is reached within T. The resolution is the finest at which the whole
        graph fits :data:`~.heatmap.CELL_BUDGET` cells (res 10 on a district, 9 on a
        city), so a city's areas are a few hundred kilobytes; buffering every reached
        road, as a district could afford, takes minutes and gigabytes on a city.
        """
        if self.reach is None:
            return []
        graph = self.reach.graph
        cells = node_cells(graph, fine_resolution(graph, finest=AREA_FINEST_RESOLUTION))
        times = self.reach.node_times_s
        return [
            (t, cells_shape(np.unique(cells[times <= t * 60.0])))
            for t in sorted(self.thresholds_min, reverse=True)
        ]

    def gap_rows(self, threshold_min: float) -> list[dict[str, Any]]:
        """Cells with people beyond ``threshold_min`` (or off the network), most people first."""
        if threshold_min not in self.thresholds_min:
            raise InvalidInput(
                "the gap threshold must be one of the coverage thresholds",
                details={"threshold": threshold_min, "thresholds": list(self.thresholds_min)},
            )
        s = self.demand.surface
        beyond = (self.time_s > threshold_min * 60.0) & (s.population > 0)
        cells: dict[str, dict[str, Any]] = {}
        for i in np.flatnonzero(beyond):
            c = str(s.cell[i])
            row = cells.setdefault(
                c,
                {
                    "cell": c,
                    "lon": float(s.lon[i]),
                    "lat": float(s.lat[i]),
                    "population": 0.0,
                    "time_s": _finite(self.time_s[i]),
                    "reason": "beyond" if self.demand.node[i] >= 0 else "off_network",
                    "governorate": s.governorates.name_en[s.governorate[i]],
                    "governorate_ar": s.governorates.name_ar[s.governorate[i]],
                },
            )
            row["population"] += float(s.population[i])
        return sorted(cells.values(), key=lambda r: (-r["population"], r["cell"]))


def _label(t: float) -> str:
    return f"{t:g}min".replace(".", "_")


def _round(x: float) -> float:
    return round(float(x), 4)


def _pct(covered: float, population: float) -> float | None:
    return round(100.0 * float(covered) / population, 4) if population > 0 else None


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


# -- computing ---------------------------------------------------------------------------
def coverage_from_node_times(
    node_times: FloatArray, demand: Demand, thresholds_min: Sequence[float], **extra: Any
) -> Coverage:
    """Coverage from per-node times (the pure part: no search, no database)."""
    thresholds = check_thresholds(thresholds_min)
    s = demand.surface
    on = demand.node >= 0
    time_s = np.full(len(s), np.inf)
    time_s[on] = node_times[demand.node[on]]
    n_gov = len(s.governorates)
    covered = np.zeros((n_gov, len(thresholds)))
    for k, t in enumerate(thresholds):
        covered[:, k] = np.bincount(
            s.governorate, weights=s.population * (time_s <= t * 60.0), minlength=n_gov
        )
    on_network = np.bincount(s.governorate, weights=s.population * on, minlength=n_gov).astype(
        np.float64
    )
    return Coverage(
        demand=demand,
        thresholds_min=thresholds,
        time_s=time_s,
        covered=covered,
        on_network=on_network,
        **extra,
    )


def station_nodes(
    graph: RoadGraph, stations: Sequence[Source]
) -> tuple[Int32Array, list[Source], list[Source]]:
    """Node indices of the stations linked to this graph within its snapping limit."""
    used, left, nodes = [], [], []
    known = set(graph.node_id.tolist()) if stations else set()
    for s in stations:
        ok = (
            s.road_node_id is not None
            and s.road_node_id in known
            and (s.snap_distance_m or 0.0) <= graph.snap_limit_m
        )
        if ok:
            nodes.append(int(graph.node_index([s.road_node_id])[0]))
            used.append(s)
        else:
            left.append(s)
    return np.asarray(nodes, dtype=np.int32), used, left


def coverage_from_stations(
    graph: RoadGraph,
    demand: Demand,
    stations: Sequence[Source],
    *,
    thresholds_min: Sequence[float] = DEFAULT_THRESHOLDS_MIN,
    extra_nodes: Sequence[int] = (),
) -> Coverage:
    """Coverage from the stations' road nodes (plus ``extra_nodes``: proposed sites)."""
    thresholds = check_thresholds(thresholds_min)
    nodes, used, left = station_nodes(graph, stations)
    nodes = np.concatenate([nodes, np.asarray(extra_nodes, dtype=np.int32)])
    limit = max(thresholds) * 60.0
    if nodes.size == 0:
        times = np.full(graph.node_count, np.inf)
    else:
        times = node_travel_times(graph, np.unique(nodes), limit_s=limit)
    return coverage_from_node_times(
        times,
        demand,
        thresholds,
        sources_used=tuple(used),
        sources_left_out=tuple(left),
        reach=_reach_of(graph, times, limit),
    )


def coverage_from_points(
    graph: RoadGraph,
    demand: Demand,
    sources: Sequence[Source],
    *,
    thresholds_min: Sequence[float] = DEFAULT_THRESHOLDS_MIN,
) -> Coverage:
    """Coverage from positions (available units): one search from their snapped places."""
    thresholds = check_thresholds(thresholds_min)
    limit = max(thresholds) * 60.0
    if not sources:
        return coverage_from_node_times(
            np.full(graph.node_count, np.inf),
            demand,
            thresholds,
            reach=_reach_of(graph, np.full(graph.node_count, np.inf), limit),
        )
    from najda.routing.snap import OffNetwork

    try:
        r = reach(graph, [(s.lon, s.lat) for s in sources], limit_s=limit)
    except OffNetwork:
        return coverage_from_node_times(
            np.full(graph.node_count, np.inf), demand, thresholds, sources_left_out=tuple(sources)
        )
    used = tuple(s for s, ok in zip(sources, r.sources.ok, strict=True) if ok)
    left = tuple(s for s, ok in zip(sources, r.sources.ok, strict=True) if not ok)
    return coverage_from_node_times(
        r.node_times_s, demand, thresholds, sources_used=used, sources_left_out=left, reach=r
    )


def _reach_of(graph: RoadGraph, times: FloatArray, limit_s: float) -> Reach:
    """A :class:`Reach` around node times computed from nodes (no snapped sources)."""
    empty = Snaps(
        edge=np.zeros(0, dtype=np.int32),
        fraction=np.zeros(0),
        distance_m=np.zeros(0),
        lon=np.zeros(0),
        lat=np.zeros(0),
        twin=np.zeros(0, dtype=np.int32),
        ok=np.zeros(0, dtype=bool),
    )
    return Reach(graph, times, empty, "from", limit_s, graph.travel_time_s, "free_flow", None)


# -- sources from the database -------------------------------------------------------------
_STATIONS_SQL = """
    SELECT s.id, s.code, a.code AS agency, s.name_en, s.name_ar, ST_X(s.geom) AS lon,
           ST_Y(s.geom) AS lat, s.road_node_id, s.snap_distance_m
    FROM station s JOIN agency a ON a.id = s.agency_id JOIN region r ON r.id = s.region_id
    WHERE r.code = :region AND (CAST(:agency AS text) IS NULL OR a.code = :agency)
    ORDER BY s.id
"""


def load_stations(engine: Engine, region: str, *, agency: str | None = None) -> list[Source]:
    """The region's stations (optionally of one agency)."""
    with engine.connect() as conn:
        rows = conn.execute(text(_STATIONS_SQL), {"region": region, "agency": agency}).all()
    return [
        Source(
            kind="station",
            id=r.id,
            code=r.code,
            agency=r.agency,
            name_en=r.name_en,
            name_ar=r.name_ar,
            lon=float(r.lon),
            lat=float(r.lat),
            road_node_id=r.road_node_id,
            snap_distance_m=r.snap_distance_m,
        )
        for r in rows
    ]


def load_available_units(
    engine: Engine,
    *,
    agency: str | None = None,
    max_age_s: float = 900.0,
    now: datetime | None = None,
) -> list[Source]:
    """Available units where dispatch would route them from (fresh fix, post or station)."""
    from najda.dispatch.plans import Located, locate
    from najda.dispatch.timefmt import utcnow
    from najda.dispatch.units import unit_states

    now = now or utcnow()
    with engine.connect() as conn:
        states = unit_states(conn, home_jurisdictions=False)
    out = []
    for u in states:
        if agency is not None and u.agency_code != agency:
            continue
        where = locate(u, now=now, max_age_s=max_age_s)
        if isinstance(where, Located):
            out.append(
                Source(
                    kind="unit",
                    id=u.unit_id,
                    code=u.call_sign,
                    agency=u.agency_code,
                    lon=where.position[0],
                    lat=where.position[1],
                )
            )
    return out


def coverage_geojson(cov: Coverage) -> dict[str, Any]:
    """Drive-time areas as a FeatureCollection (largest threshold first, for drawing)."""
    features = [
        {
            "type": "Feature",
            "geometry": area,
            "properties": {
                "threshold_min": t,
                "covered": float(cov.covered[:, cov.thresholds_min.index(t)].sum()),
            },
        }
        for t, area in cov.areas()
        if area["coordinates"]
    ]
    return {"type": "FeatureCollection", "features": features}


def gaps_geojson(cov: Coverage, threshold_min: float) -> dict[str, Any]:
    """Gap cells as H3 hexagons with their people."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": cell_polygon(r["cell"], decimals=COORD_DECIMALS),
                "properties": r,
            }
            for r in cov.gap_rows(threshold_min)
        ],
    }


def require_network(demand: Demand) -> None:
    if not demand.on_network.any():
        raise Unprocessable(
            "no populated cell is within reach of the road network",
            code="no_demand_on_network",
            details={"access_m": demand.access_m},
        )
