"""Snapping points (incidents, unit positions, stations) to the nearest road edge.

The index (:mod:`najda.routing.snap_grid`) buckets every segment of the edge geometries
in a uniform grid and searches it ring by ring until no unseen segment can be nearer:
the result is the exact nearest edge, not an approximation. Distances are metric in a
frame scaled at the query's own latitude.

Two-way roads are two directed edges with the same geometry; the lower edge index wins
the tie and :attr:`Snaps.twin` names the other direction, which routing also uses.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from najda.errors import Unprocessable
from najda.routing.graph import FloatArray, Int32Array, RoadGraph
from najda.routing.snap_grid import CELL_M, SnapIndex, build_arrays

_ON_NODE = 1e-9


class OffNetwork(Unprocessable):
    """A point is farther from every road than the snapping limit allows."""

    code = "off_network"


@dataclass(frozen=True)
class Snaps:
    """Road positions of many points (vectorised; index ``i`` is the ``i``-th point).

    Attributes
    ----------
    edge
        Edge index of the nearest edge (-1 where ``ok`` is False).
    fraction
        Position along that edge from tail (0) to head (1), by length.
    distance_m
        Metric distance from the point to the edge.
    lon, lat
        The snapped position on the edge.
    twin
        The opposite-direction edge of the same road, or -1.
    ok
        Within the snapping limit.
    """

    edge: Int32Array
    fraction: FloatArray
    distance_m: FloatArray
    lon: FloatArray
    lat: FloatArray
    twin: Int32Array
    ok: NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.edge.size)

    def item(self, graph: RoadGraph, i: int) -> Snap:
        """The ``i``-th position as a :class:`Snap` (base travel times)."""
        e = int(self.edge[i])
        f = float(self.fraction[i])
        t = float(graph.travel_time_s[e])
        return Snap(
            edge=e,
            edge_id=int(graph.edge_id[e]),
            fraction=f,
            distance_m=float(self.distance_m[i]),
            lon=float(self.lon[i]),
            lat=float(self.lat[i]),
            twin=int(self.twin[i]),
            time_from_tail_s=f * t,
            time_to_head_s=(1.0 - f) * t,
        )


@dataclass(frozen=True)
class Snap:
    """One point's road position.

    Attributes
    ----------
    edge, edge_id
        Edge index in the graph and its ``road_edge.id``.
    fraction
        Position along the edge (0 = tail node, 1 = head node).
    distance_m
        Distance from the point to the road.
    lon, lat
        The snapped position.
    twin
        Opposite-direction edge of the same road, or -1 (one-way).
    time_from_tail_s, time_to_head_s
        Base travel time from the tail node to the position and from it to the head.
    """

    edge: int
    edge_id: int
    fraction: float
    distance_m: float
    lon: float
    lat: float
    twin: int
    time_from_tail_s: float
    time_to_head_s: float


def snap_index(graph: RoadGraph, *, cell_m: float = CELL_M) -> SnapIndex:
    """The graph's snapping index, built on first use and kept with the graph."""

    def build() -> SnapIndex:
        arrays, meta = graph.derived(
            f"snap-{cell_m:g}m",
            lambda: build_arrays(graph.geom_xy, graph.geom_offsets, graph.twin, cell_m=cell_m),
        )
        return SnapIndex(arrays, meta)

    index: SnapIndex = graph.memo(("snap", cell_m), build)
    return index


def snap_points(graph: RoadGraph, lon: Any, lat: Any, *, limit_m: float | None = None) -> Snaps:
    """Snap many lon/lat points to their nearest road edges.

    Parameters
    ----------
    graph
        The road graph.
    lon, lat
        Coordinates (arrays of equal length, or scalars).
    limit_m
        Points farther than this from every road get ``ok = False`` (default: the
        graph's ``snap_limit_m``).

    Returns
    -------
    Snaps
        One road position per point.
    """
    limit = graph.snap_limit_m if limit_m is None else float(limit_m)
    lon = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    if lon.shape != lat.shape or lon.ndim != 1:
        raise ValueError("lon and lat must be 1-D arrays of equal length")
    n = lon.size
    if n == 0 or graph.edge_count == 0:
        return _empty(n)
    index = snap_index(graph)
    q = graph.frame.to_xy(lon, lat)
    seg, dist, pos = index.nearest(graph.geom_xy, q, _x_scale(graph, lat), limit)
    edge = index.seg_edge[seg]
    a = graph.geom_xy[index.seg_start[seg]]
    ab = graph.geom_xy[index.seg_start[seg] + 1] - a
    along = index.seg_along[seg] + pos * np.hypot(*ab.T)
    glen = index.edge_geom_len[edge]
    fraction = np.clip(np.divide(along, glen, out=np.zeros_like(along), where=glen > 0), 0, 1)
    # on a node: exactly 0 or 1, so routing can leave or reach it from the node itself
    fraction[fraction < _ON_NODE] = 0.0
    fraction[fraction > 1.0 - _ON_NODE] = 1.0
    point = a + ab * pos[:, None]
    lonlat = graph.to_lonlat(point)
    ok = np.isfinite(dist) & (dist <= limit)
    return Snaps(
        edge=np.where(ok, edge, -1).astype(np.int32),
        fraction=fraction,
        distance_m=dist,
        lon=lonlat[:, 0],
        lat=lonlat[:, 1],
        twin=np.where(ok, graph.twin[edge], -1).astype(np.int32),
        ok=ok,
    )


def snap_point(graph: RoadGraph, lon: float, lat: float, *, limit_m: float | None = None) -> Snap:
    """Snap one point; :class:`OffNetwork` when it is beyond the limit.

    Raises
    ------
    OffNetwork
        No road within ``limit_m`` (default: the graph's ``snap_limit_m``).
    """
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise OffNetwork("the location has no valid coordinates", details={"lon": lon, "lat": lat})
    limit = graph.snap_limit_m if limit_m is None else float(limit_m)
    snaps = snap_points(graph, lon, lat, limit_m=limit)
    if not bool(snaps.ok[0]):
        if graph.edge_count:
            snaps = snap_points(graph, lon, lat, limit_m=math.inf)
        raise OffNetwork(
            f"the location is {_metres(snaps.distance_m[0])} from the nearest road; "
            f"the limit is {limit:.0f} m",
            details={
                "lon": lon,
                "lat": lat,
                "distance_m": _finite(snaps.distance_m[0]),
                "limit_m": limit,
            },
        )
    return snaps.item(graph, 0)


def _metres(d: float) -> str:
    return f"{d:.0f} m" if math.isfinite(d) else "far"


def _finite(d: float) -> float | None:
    return float(d) if math.isfinite(d) else None


def _x_scale(graph: RoadGraph, lat: FloatArray) -> FloatArray:
    """Factor turning frame x into metres east at each query's own latitude."""
    c0 = math.cos(math.radians(graph.frame.lat0))
    return np.cos(np.radians(lat)) / c0


def _empty(n: int) -> Snaps:
    return Snaps(
        edge=np.full(n, -1, dtype=np.int32),
        fraction=np.zeros(n),
        distance_m=np.full(n, np.inf),
        lon=np.full(n, np.nan),
        lat=np.full(n, np.nan),
        twin=np.full(n, -1, dtype=np.int32),
        ok=np.zeros(n, dtype=bool),
    )


# -- unit positions, snapped once per position -------------------------------------------------


class UnitSnapCache:
    """Road positions of units, snapped when a unit's position changes, not per ranking.

    Entries are keyed by unit id and hold the ``(lon, lat, limit)`` they were snapped
    for: a lookup with the same position and limit returns the stored road position
    (exactly what :func:`snap_points` returned for it), any other position snaps again
    and replaces the entry, so a unit that moves is re-snapped on its next ranking.

    A cache belongs to one :class:`RoadGraph`, i.e. one region at one graph version
    (get it with :func:`unit_snap_cache`): when ``graph_version`` changes,
    :class:`~najda.routing.graph.GraphCache` loads a new graph, which starts with an
    empty cache, and the old one goes away with the old graph.

    Parameters
    ----------
    maxsize
        Units kept at most; when a lookup would exceed it the cache starts afresh.
    """

    def __init__(self, *, maxsize: int = 200_000) -> None:
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._reset(64)

    def _reset(self, capacity: int) -> None:
        self._count = 0
        # unit ids by slot, and the slots in id order: a lookup is one searchsorted
        self._ids = np.zeros(capacity, dtype=np.int64)
        self._by_id = np.zeros(0, dtype=np.int64)
        self._key = np.full((capacity, 3), np.nan)  # lon, lat, limit snapped for
        self._edge = np.full(capacity, -1, dtype=np.int32)
        self._twin = np.full(capacity, -1, dtype=np.int32)
        self._fraction = np.zeros(capacity)
        self._distance = np.full(capacity, np.inf)
        self._lon = np.full(capacity, np.nan)
        self._lat = np.full(capacity, np.nan)
        self._ok = np.zeros(capacity, dtype=bool)

    def __len__(self) -> int:
        return self._count

    def _grow(self, capacity: int) -> None:
        for name in (
            "_ids",
            "_key",
            "_edge",
            "_twin",
            "_fraction",
            "_distance",
            "_lon",
            "_lat",
            "_ok",
        ):
            old = getattr(self, name)
            new = np.empty((capacity, *old.shape[1:]), dtype=old.dtype)
            new[: old.shape[0]] = old
            setattr(self, name, new)

    def clear(self) -> None:
        with self._lock:
            self._reset(64)

    def _slots_of(self, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Slot of each id, -1 for ids not held."""
        if self._by_id.size == 0:
            return np.full(ids.size, -1, dtype=np.int64)
        known = self._ids[self._by_id]
        pos = np.minimum(np.searchsorted(known, ids), known.size - 1)
        return np.where(known[pos] == ids, self._by_id[pos], -1)

    def snaps(
        self, graph: RoadGraph, ids: Any, lon: Any, lat: Any, *, limit_m: float | None = None
    ) -> Snaps:
        """Road positions of units ``ids`` at ``lon``/``lat`` (ids unique), as
        :func:`snap_points` gives them; only units not seen at that position are snapped.
        """
        limit = graph.snap_limit_m if limit_m is None else float(limit_m)
        ids = np.asarray(ids, dtype=np.int64).ravel()
        lon = np.asarray(lon, dtype=np.float64).ravel()
        lat = np.asarray(lat, dtype=np.float64).ravel()
        if not (ids.shape == lon.shape == lat.shape):
            raise ValueError("ids, lon and lat must have equal length")
        with self._lock:
            if self._count + ids.size > self.maxsize:
                self._reset(64)
            slots = self._slots_of(ids)
            key = self._key[np.maximum(slots, 0)]
            fresh = (slots >= 0) & (key[:, 0] == lon) & (key[:, 1] == lat) & (key[:, 2] == limit)
            miss = np.flatnonzero(~fresh)
            if miss.size:
                self._store(graph, ids, lon, lat, limit, slots, miss)
            self.hits += ids.size - miss.size
            self.misses += miss.size
            return Snaps(
                edge=self._edge[slots],
                fraction=self._fraction[slots],
                distance_m=self._distance[slots],
                lon=self._lon[slots],
                lat=self._lat[slots],
                twin=self._twin[slots],
                ok=self._ok[slots],
            )

    def _store(
        self,
        graph: RoadGraph,
        ids: NDArray[np.int64],
        lon: FloatArray,
        lat: FloatArray,
        limit: float,
        slots: NDArray[np.int64],
        miss: NDArray[np.intp],
    ) -> None:
        new = miss[slots[miss] < 0]
        if new.size:
            first = self._count
            if first + new.size > self._ids.shape[0]:
                self._grow(max(2 * self._ids.shape[0], first + new.size))
            slots[new] = np.arange(first, first + new.size)
            self._ids[slots[new]] = ids[new]
            self._count = first + new.size
            self._by_id = np.argsort(self._ids[: self._count], kind="stable")
        s = slots[miss]
        snapped = snap_points(graph, lon[miss], lat[miss], limit_m=limit)
        self._key[s] = np.column_stack([lon[miss], lat[miss], np.full(miss.size, limit)])
        self._edge[s], self._twin[s], self._ok[s] = snapped.edge, snapped.twin, snapped.ok
        self._fraction[s], self._distance[s] = snapped.fraction, snapped.distance_m
        self._lon[s], self._lat[s] = snapped.lon, snapped.lat


def unit_snap_cache(graph: RoadGraph) -> UnitSnapCache:
    """The :class:`UnitSnapCache` of ``graph`` (made on first use, kept with the graph)."""
    cache: UnitSnapCache = graph.memo(("unit_snaps",), UnitSnapCache)
    return cache
