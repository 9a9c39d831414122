"""Ranking units by road travel time, their routes, and reachable areas (isochrones).

:func:`rank_units` runs ONE Dijkstra search from the incident over the reversed graph,
never one search per unit. The compiled search (:mod:`najda.routing.kernel`) follows the
units' ETAs as it settles nodes and stops as soon as the ``k`` best are certain: its bound
is the ``k``-th ETA itself. Without it, :func:`scipy.sparse.csgraph.dijkstra` runs with a
time limit (guessed from straight-line distances) that grows until they are. A unit's ETA is the time from
its snapped road position to the incident's: the rest of its own edge, the network part,
and the first part of the incident's edge (or, on the same edge and ahead of it, just
the stretch between them). Predecessors of the same search give every route; its
geometry is built only when read. Unit road positions come from the graph's
:class:`~najda.routing.snap.UnitSnapCache`, so a unit is snapped once per position, not
once per ranking. With quotas (a response plan's needs) the bound grows until every quota
is met instead of until ``k`` units are certain.

:func:`reach` and :func:`isochrone` run one forward (or backward) multi-source search
from one or many points (stations, units) and return per-node times and polygons.

All times are in seconds, distances in metres, coordinates lon/lat (EPSG:4326).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import shapely
from numpy.typing import NDArray

from najda.errors import InvalidInput
from najda.routing.graph import (
    FloatArray,
    Int32Array,
    RoadGraph,
    ScipyWalker,
    Search,
    search_for,
)
from najda.routing.kernel import Walker
from najda.routing.profiles import TravelTimeProfile, edge_weights
from najda.routing.snap import (
    OffNetwork,
    Snap,
    Snaps,
    snap_point,
    snap_points,
    unit_snap_cache,
)

_GROWTH = 2.0
_MAX_BOUNDED_SEARCHES = 5
_DETOUR = 1.6
_SLACK = 1.25

Reason = Literal["off_network", "unreachable"]


@dataclass(frozen=True)
class UnitPosition:
    """A unit that may respond: its id and last known position.

    Eligibility (status, agency, capability, fix age) is the caller's business; every
    unit passed to :func:`rank_units` is a candidate.
    """

    id: int
    lon: float
    lat: float


@dataclass(frozen=True)
class UnitPositions:
    """Many units' ids and positions as arrays: the cheap way to hand a fleet to
    :func:`rank_units` (a list of :class:`UnitPosition` is turned into this first).

    Attributes
    ----------
    id
        Unit ids (unique).
    lon, lat
        Their positions.
    """

    id: NDArray[np.int64]
    lon: FloatArray
    lat: FloatArray

    @classmethod
    def of(cls, units: UnitPositions | Sequence[UnitPosition]) -> UnitPositions:
        if isinstance(units, UnitPositions):
            return units
        n = len(units)
        return cls(
            np.fromiter((u.id for u in units), dtype=np.int64, count=n),
            np.fromiter((u.lon for u in units), dtype=np.float64, count=n),
            np.fromiter((u.lat for u in units), dtype=np.float64, count=n),
        )

    def __len__(self) -> int:
        return int(self.id.size)


class Route:
    """A drivable path from a unit's road position to the incident's.

    A ranking knows every returned unit's path (its ETA and distance come from it) but
    builds the geometry only when :attr:`coords` or :attr:`edge_ids` is first read, so
    units nobody looks at cost no geometry.

    Attributes
    ----------
    coords
        (n, 2) lon/lat vertices, unit end first.
    edge_ids
        ``road_edge.id`` of every edge used, partial end edges included, in order.
    """

    __slots__ = ("_build", "_coords", "_edge_ids")

    def __init__(
        self,
        coords: Any = None,
        edge_ids: Any = None,
        *,
        build: Callable[[], tuple[FloatArray, NDArray[np.int64]]] | None = None,
    ) -> None:
        if build is None and (coords is None or edge_ids is None):
            raise ValueError("a route needs coords and edge_ids, or a builder")
        self._coords = None if coords is None else np.asarray(coords, dtype=np.float64)
        self._edge_ids = None if edge_ids is None else np.asarray(edge_ids, dtype=np.int64)
        self._build = build

    def _built(self) -> tuple[FloatArray, NDArray[np.int64]]:
        coords, edge_ids, build = self._coords, self._edge_ids, self._build
        if coords is None or edge_ids is None:
            assert build is not None
            coords, edge_ids = build()
            self._coords, self._edge_ids, self._build = coords, edge_ids, None
        return coords, edge_ids

    @property
    def coords(self) -> FloatArray:
        return self._built()[0]

    @property
    def edge_ids(self) -> NDArray[np.int64]:
        return self._built()[1]

    @property
    def built(self) -> bool:
        """Whether the geometry has been built yet."""
        return self._build is None

    def __repr__(self) -> str:
        if not self.built:
            return "Route(<geometry not built yet>)"
        return f"Route(coords={self.coords!r}, edge_ids={self.edge_ids!r})"

    def linestring(self) -> shapely.LineString:
        return shapely.LineString(self.coords)

    def geojson(self) -> dict[str, Any]:
        return {"type": "LineString", "coordinates": self.coords.tolist()}


@dataclass(frozen=True)
class RankedUnit:
    """One of the ``k`` best units.

    Attributes
    ----------
    unit_id
        The unit's id.
    eta_s
        Travel time from its road position to the incident's.
    distance_m
        Road distance along that route.
    snap_distance_m
        Distance from the unit's position to the road it was snapped to.
    route
        The route (its geometry is built when first read).
    """

    unit_id: int
    eta_s: float
    distance_m: float
    snap_distance_m: float
    route: Route


@dataclass(frozen=True)
class ExcludedUnit:
    """A unit left out, with why: ``off_network`` (too far from any road) or
    ``unreachable`` (no road path to the incident, e.g. another network component)."""

    unit_id: int
    reason: Reason
    message: str


@dataclass(frozen=True)
class Ranking:
    """Result of :func:`rank_units`.

    Attributes
    ----------
    incident
        The incident's road position (``incident.distance_m`` is its snap distance).
    ranked
        Up to ``k`` units, best first (ETA, then unit id). Empty when no unit can come.
        With quotas: every unit certain when they were met (at most ``k``).
    excluded
        Units that cannot respond, with reasons. Units simply slower than the ``k``-th
        are in neither list. With quotas, every unit that cannot come is here.
    limit_s
        Time bound of the last search (``inf`` when it was unbounded).
    searches
        Dijkstra runs used (1 unless the bound had to grow).
    profile, hour
        Travel-time profile applied and the local hour it was applied for.
    """

    incident: Snap
    ranked: tuple[RankedUnit, ...]
    excluded: tuple[ExcludedUnit, ...]
    limit_s: float
    searches: int
    profile: str
    hour: int | None


# -- ranking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quota:
    """A stop condition for :func:`rank_units`: at least ``count`` of ``unit_ids`` ranked.

    The search stops once every quota has ``count`` of its units certain (or all of its
    units that can reach the incident, when fewer can). A response plan gives one quota
    per requirement (see :func:`najda.dispatch.travel.rank_located`).
    """

    unit_ids: Collection[int]
    count: int


def rank_units(
    graph: RoadGraph,
    point: tuple[float, float],
    units: UnitPositions | Sequence[UnitPosition],
    k: int,
    *,
    at: datetime | None = None,
    profile: TravelTimeProfile | None = None,
    snap_limit_m: float | None = None,
    quotas: Sequence[Quota] | None = None,
    cache_unit_snaps: bool = True,
) -> Ranking:
    """The ``k`` units that reach ``point`` soonest by road.

    Parameters
    ----------
    graph
        The road graph (see :class:`~najda.routing.graph.GraphCache`).
    point
        Incident location ``(lon, lat)``.
    units
        Candidate units (a list, or :class:`UnitPositions` arrays); ids must be unique.
    k
        How many to return at most (fewer when fewer can come).
    at
        Time the ranking is for, which picks the profile's hour (default: now).
    profile
        Travel-time profile (default: free flow, the stored travel times).
    snap_limit_m
        Snapping limit for the incident and the units (default: the graph's).
    quotas
        Instead of "the ``k`` best are certain", stop the search once every quota is
        met; ``ranked`` then holds every unit certain by then (at most ``k``), best
        first, which is a prefix of the full order, and ``excluded`` lists every unit
        that cannot come, exactly as ranking all units would.
    cache_unit_snaps
        Take unit road positions from the graph's
        :class:`~najda.routing.snap.UnitSnapCache` (snapping only units that moved);
        False snaps every unit afresh. Results are the same either way.

    Returns
    -------
    Ranking
        The best units with ETA, distance, snap distances and routes (geometry built
        when first read), and the units excluded with a reason.

    Raises
    ------
    OffNetwork
        The incident is farther than the snapping limit from every road.
    InvalidInput
        ``k`` < 1, a negative quota count, or duplicate unit ids.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInput("k must be a positive integer", details={"k": k})
    if quotas is not None and any(q.count < 0 for q in quotas):
        raise InvalidInput("quota counts must not be negative")
    incident = snap_point(graph, float(point[0]), float(point[1]), limit_m=snap_limit_m)
    weights, key, hour = edge_weights(graph, profile, at)
    name = profile.name if profile is not None else "free_flow"
    fleet = UnitPositions.of(units)
    ids, lon, lat = fleet.id, fleet.lon, fleet.lat
    ordered = np.sort(ids)
    if np.any(ordered[1:] == ordered[:-1]):
        raise InvalidInput("unit ids must be unique")
    if ids.size == 0:
        return Ranking(incident, (), (), 0.0, 0, name, hour)
    if cache_unit_snaps:
        snaps = unit_snap_cache(graph).snaps(graph, ids, lon, lat, limit_m=snap_limit_m)
    else:
        snaps = snap_points(graph, lon, lat, limit_m=snap_limit_m)
    excluded = _excluded_before_search(graph, incident, snaps, ids)
    search = search_for(graph, weights, key, reverse=True)
    if quotas is None:
        groups = [(np.ones(ids.size, dtype=bool), int(k))]
    else:
        groups = [
            (np.isin(ids, np.fromiter(q.unit_ids, dtype=np.int64)), int(q.count)) for q in quotas
        ]
    state = _search_until_certain(
        graph, search, weights, key, incident, snaps, groups, complete=quotas is not None
    )
    try:
        excluded += _unreachable_after(state, snaps, ids)
        chosen = _best(ids, state, k)
        ranked = _ranked_units(graph, search, snaps, state, chosen, ids)
    finally:
        state.walker.close()  # the search's arrays go back to the pool
    excluded.sort(key=lambda x: x.unit_id)
    return Ranking(incident, ranked, tuple(excluded), state.limit, state.searches, name, hour)


@dataclass
class _State:
    """One reverse search and the ETAs it implies (``dist`` and ``pred`` are the
    walker's arrays: valid until it is closed)."""

    walker: Walker | ScipyWalker
    dist: FloatArray
    pred: Int32Array
    limit: float
    searches: int
    eta: FloatArray
    via: NDArray[np.int64]
    candidate: NDArray[np.bool_]
    src_pos: list[tuple[int, float]]
    sources: list[_Source]


@dataclass(frozen=True)
class _Source:
    """Where the reverse search starts: a node, the time from it to the incident, and
    the stretch ``[f_from, f_to]`` of ``edge`` that time covers."""

    node: int
    offset: float
    edge: int
    f_from: float
    f_to: float


def _positions(edge: int, fraction: float, twin: int) -> list[tuple[int, float]]:
    """The directed (edge, fraction) places of one snapped position."""
    out = [(edge, fraction)]
    if twin >= 0:
        out.append((twin, 1.0 - fraction))
    return out


def _excluded_before_search(
    graph: RoadGraph, incident: Snap, snaps: Snaps, ids: NDArray[np.int64]
) -> list[ExcludedUnit]:
    out = [
        ExcludedUnit(int(ids[i]), "off_network", f"{_m(snaps.distance_m[i])} from the nearest road")
        for i in np.flatnonzero(~snaps.ok)
    ]
    comp = graph.component[graph.edge_u[np.maximum(snaps.edge, 0)]]
    other = snaps.ok & (comp != graph.component[graph.edge_u[incident.edge]])
    out += [
        ExcludedUnit(
            int(ids[i]), "unreachable", "on a road network not connected to the incident's"
        )
        for i in np.flatnonzero(other)
    ]
    return out


def _m(d: float) -> str:
    return f"{d:.0f} m" if math.isfinite(d) else "far"


def _incident_sources(graph: RoadGraph, w: FloatArray, incident: Snap) -> list[_Source]:
    """From each directed place's tail; from its head too when it sits on the head."""
    out = []
    for e, f in _positions(incident.edge, incident.fraction, incident.twin):
        out.append(_Source(int(graph.edge_u[e]), float(f * w[e]), e, 0.0, f))
        if f >= 1.0:
            out.append(_Source(int(graph.edge_v[e]), 0.0, e, 1.0, 1.0))
    return out


def _search_until_certain(
    graph: RoadGraph,
    search: Search,
    w: FloatArray,
    key: tuple[object, ...],
    incident: Snap,
    snaps: Snaps,
    groups: list[tuple[NDArray[np.bool_], int]],
    *,
    complete: bool,
) -> _State:
    """Search with a growing bound until every group has its count of certain units.

    A unit is certain when its ETA is within the bound: units outside are all slower.
    With ``complete``, candidates still uncertain must also be proven able to reach the
    incident (else the search runs unbounded), so the units excluded as unreachable are
    those an unbounded ranking would exclude.
    """
    src = _positions(incident.edge, incident.fraction, incident.twin)
    sources = _incident_sources(graph, w, incident)
    src_nodes = np.array([s.node for s in sources], dtype=np.int32)
    src_off = np.array([s.offset for s in sources], dtype=np.float64)
    comp = graph.component[graph.edge_u[np.maximum(snaps.edge, 0)]]
    candidate = snaps.ok & (comp == graph.component[src_nodes[0]])
    crow = _crow(graph, incident, snaps, candidate)
    pace = _pace(graph, key)
    # per group: units wanted, and the straight-line distance of the wanted-th one
    wants = []
    for mask, count in groups:
        member = mask & candidate
        need = min(count, int(member.sum()))
        if need:
            wants.append((member, need, float(np.partition(crow[member], need - 1)[need - 1])))
    binding = max(wants, key=lambda x: x[2]) if wants else None
    limit = _SLACK * pace.value * binding[2] + 5.0 if binding else 0.0
    opts = _unit_options(graph, w, snaps, src)
    searches = 0
    walker = search.walker(src_nodes, src_off)
    try:
        if wants and isinstance(walker, Walker):
            # the compiled search stops as soon as the wanted units are certain, and
            # says at which bound; the loop below checks it (and grows it if need be)
            limit = _bound_from_targets(walker, opts, wants)
        while True:
            # the compiled walker carries on from where the last bound stopped it
            walker.advance(limit)
            dist, pred = walker.dist, walker.pred
            searches += 1
            eta, via = _unit_etas(dist, opts)
            eta[~candidate] = np.inf
            certain = eta <= limit
            done = all(int(np.count_nonzero(certain & member)) >= need for member, need, _ in wants)
            if done and complete and math.isfinite(limit):
                doubtful = np.flatnonzero(candidate & ~certain)
                if doubtful.size and not _proven_reachable(graph, snaps, doubtful, src_nodes):
                    limit = math.inf
                    continue
            if done or not math.isfinite(limit):
                if binding is not None and binding[2] > 50.0 and done:
                    member, need, crow_b = binding
                    kth = float(np.partition(eta[certain & member], need - 1)[need - 1])
                    pace.learn(kth / crow_b)
                return _State(
                    walker, dist, pred, limit, searches, eta, via, candidate, src, sources
                )
            limit = limit * _GROWTH if searches < _MAX_BOUNDED_SEARCHES else math.inf
    except BaseException:
        walker.close()
        raise


def _bound_from_targets(
    walker: Walker, opts: _Options, wants: list[tuple[NDArray[np.bool_], int, float]]
) -> float:
    """The tightest bound with each group's wanted units certain (``inf`` if never)."""
    return walker.until_certain(
        opts.node,
        opts.add,
        opts.direct.min(axis=1),
        np.column_stack([member for member, _, _ in wants]),
        np.array([need for _, need, _ in wants], dtype=np.int64),
    )


def _proven_reachable(
    graph: RoadGraph, snaps: Snaps, units: NDArray[np.intp], targets: Int32Array
) -> bool:
    """Whether every one of ``units`` surely has a road path to a ``targets`` node: one
    of the nodes it can drive to lies in the strongly connected component of one."""
    scc = _strong_components(graph)
    edge, twin = snaps.edge[units], snaps.twin[units]
    goal = np.unique(scc[targets])
    ok = np.isin(scc[graph.edge_v[edge]], goal)
    ok |= (twin >= 0) & np.isin(scc[graph.edge_v[np.maximum(twin, 0)]], goal)
    ok |= (snaps.fraction[units] <= 0.0) & np.isin(scc[graph.edge_u[edge]], goal)
    return bool(ok.all())


def _strong_components(graph: RoadGraph) -> Int32Array:
    def build() -> Int32Array:
        import scipy.sparse as sp
        from scipy.sparse.csgraph import connected_components

        n = graph.node_count
        adj = sp.csr_matrix((np.ones(graph.edge_count), (graph.edge_u, graph.edge_v)), shape=(n, n))
        _, labels = connected_components(adj, directed=True, connection="strong")
        return labels.astype(np.int32)

    labels: Int32Array = graph.memo(("strong_components",), build)
    return labels


class _Pace:
    """Seconds of road time per metre of straight line, learnt from past rankings.

    Only the first search bound depends on it (how much of the graph the first search
    explores), never a result: results are exact whatever the bound.
    """

    def __init__(self, value: float) -> None:
        self.value = value

    def learn(self, observed: float) -> None:
        if math.isfinite(observed) and observed > 0:
            self.value = 0.7 * self.value + 0.3 * observed


def _pace(graph: RoadGraph, key: tuple[object, ...]) -> _Pace:
    def first() -> _Pace:
        return _Pace(_DETOUR / float(np.median(graph.length_m / graph.travel_time_s)))

    pace: _Pace = graph.memo(("pace", key), first)
    return pace


def _crow(
    graph: RoadGraph, incident: Snap, snaps: Snaps, candidate: NDArray[np.bool_]
) -> FloatArray:
    """Straight-line distance from the incident to every candidate (inf for others)."""
    frame = graph.frame
    dx = (snaps.lon - incident.lon) * frame.kx
    dy = (snaps.lat - incident.lat) * frame.ky
    return np.where(candidate, np.hypot(dx, dy), np.inf)


@dataclass(frozen=True)
class _Options:
    """How each unit can reach the incident: through node ``node[i, c]`` plus
    ``add[i, c]`` seconds (``node`` -1: not an option), for c = 0 via its edge's head,
    1 via its twin's head, 2 from its edge's tail when it sits on it; or straight along
    the incident's j-th directed place in ``direct[i, j]`` seconds."""

    node: NDArray[np.int32]
    add: FloatArray
    direct: FloatArray


def _unit_options(
    graph: RoadGraph, w: FloatArray, snaps: Snaps, src: list[tuple[int, float]]
) -> _Options:
    edge = np.maximum(snaps.edge, 0)
    twin = snaps.twin
    f = snaps.fraction
    node = np.full((edge.size, 3), -1, dtype=np.int32)
    add = np.full((edge.size, 3), np.inf)
    node[:, 0] = graph.edge_v[edge]
    add[:, 0] = (1.0 - f) * w[edge]
    has_twin = twin >= 0
    tw = np.maximum(twin, 0)
    node[has_twin, 1] = graph.edge_v[tw[has_twin]]
    add[has_twin, 1] = (f * w[tw])[has_twin]
    at_tail = f <= 0.0
    node[at_tail, 2] = graph.edge_u[edge[at_tail]]
    add[at_tail, 2] = 0.0
    direct = np.full((edge.size, len(src)), np.inf)
    for j, (e, fi) in enumerate(src):
        same = (edge == e) & (f <= fi)
        direct[same, j] = (fi - f[same]) * w[e]
        same_twin = has_twin & (tw == e) & (1.0 - f <= fi)
        direct[same_twin, j] = (fi - (1.0 - f[same_twin])) * w[e]
    return _Options(node, add, direct)


def _unit_etas(dist: FloatArray, opts: _Options) -> tuple[FloatArray, NDArray[np.int64]]:
    """ETA per unit and how: 0 = via its edge's head, 1 = via its twin's head,
    2 = from its edge's tail when it sits on it, 3 + j = straight along the incident's
    j-th directed place (see :class:`_Options`)."""
    options = np.empty((opts.node.shape[0], 3 + opts.direct.shape[1]))
    options[:, :3] = np.where(opts.node >= 0, opts.add + dist[np.maximum(opts.node, 0)], np.inf)
    options[:, 3:] = opts.direct
    via = np.argmin(options, axis=1)
    return options[np.arange(options.shape[0]), via], via


def _unreachable_after(state: _State, snaps: Snaps, ids: NDArray[np.int64]) -> list[ExcludedUnit]:
    if math.isfinite(state.limit):
        return []
    lost = state.candidate & ~np.isfinite(state.eta)
    return [
        ExcludedUnit(
            int(ids[i]),
            "unreachable",
            "no road path to the incident (one-way streets or closed roads)",
        )
        for i in np.flatnonzero(lost)
    ]


def _best(ids: NDArray[np.int64], state: _State, k: int) -> NDArray[np.int64]:
    certain = np.flatnonzero(np.isfinite(state.eta) & (state.eta <= state.limit))
    order = np.lexsort((ids[certain], state.eta[certain]))
    return certain[order[:k]]


# -- routes --------------------------------------------------------------------------------


def _ranked_units(
    graph: RoadGraph,
    search: Search,
    snaps: Snaps,
    state: _State,
    chosen: NDArray[np.int64],
    ids: NDArray[np.int64],
) -> tuple[RankedUnit, ...]:
    """The chosen units with ETA and road distance; route geometry is left to build.

    Each network path is read off the predecessors (one short walk per unit), the edges
    behind all of them found in one lookup, and the distances summed from those.
    """
    item = state.pred.item
    virtual = search.n
    plans = []  # (unit, edge, fraction the unit leaves it at, via, path nodes or None)
    walks: list[list[int]] = []
    for i in chosen.tolist():
        via = int(state.via[i])
        f = float(snaps.fraction[i])
        if via >= 3:
            e, _ = state.src_pos[via - 3]
            fu = f if e == snaps.edge[i] else 1.0 - f
            plans.append((i, e, fu, via, -1))
            continue
        e = int(snaps.edge[i]) if via != 1 else int(snaps.twin[i])
        fu = 1.0 if via == 2 else (f if via == 0 else 1.0 - f)
        x = int(graph.edge_v[e] if via != 2 else graph.edge_u[e])
        nodes = [x]
        x = item(x)
        while x != virtual and x >= 0:
            nodes.append(x)
            x = item(x)
        plans.append((i, e, fu, via, len(walks)))
        walks.append(nodes)
    mids_of: list[NDArray[np.int64]] = []
    if walks:
        heads = np.fromiter((y for w in walks for y in w[1:]), dtype=np.int32)
        tails = np.fromiter((y for w in walks for y in w[:-1]), dtype=np.int32)
        mids = search.entries_of(heads, tails).astype(np.int64)
        cuts = np.cumsum([len(w) - 1 for w in walks])[:-1]
        mids_of = np.split(mids, cuts)
    out = []
    for i, e, fu, via, walk in plans:
        length = graph.length_m
        if walk < 0:
            fi = state.src_pos[via - 3][1]
            distance = (fi - fu) * length[e]
            build = _direct_builder(graph, e, fu, fi)
        else:
            mids = mids_of[walk]
            end = _entry_source(state, walks[walk][-1])
            distance = (
                (1.0 - fu) * length[e]
                + float(length[mids].sum())
                + (end.f_to - end.f_from) * length[end.edge]
            )
            build = _path_builder(graph, e, fu, via == 2, mids, end)
        out.append(
            RankedUnit(
                int(ids[i]),
                float(state.eta[i]),
                float(distance),
                float(snaps.distance_m[i]),
                Route(build=build),
            )
        )
    return tuple(out)


RouteParts = tuple[FloatArray, NDArray[np.int64]]


def _direct_builder(graph: RoadGraph, e: int, fu: float, fi: float) -> Callable[[], RouteParts]:
    """Geometry of a route straight along the incident's own edge."""

    def build() -> RouteParts:
        xy = _piece(graph, e, fu, fi)
        return graph.to_lonlat(_join([xy])), graph.edge_id[[e]]

    return build


def _path_builder(
    graph: RoadGraph, e: int, fu: float, from_tail: bool, mids: NDArray[np.int64], end: _Source
) -> Callable[[], RouteParts]:
    """Geometry of a route: rest of the unit's edge, network edges, incident's edge."""

    def build() -> RouteParts:
        first = graph.edge_xy(e)[:1] if from_tail else _piece(graph, e, fu, 1.0)
        pieces = [first, _edges_xy(graph, mids), _piece(graph, end.edge, end.f_from, end.f_to)]
        edges = np.concatenate([[] if from_tail else [e], mids, [end.edge]]).astype(np.int64)
        return graph.to_lonlat(_join(pieces)), graph.edge_id[edges]

    return build


def _entry_source(state: _State, node: int) -> _Source:
    """The cheapest search source at ``node`` (where the route reaches the incident)."""
    return min((s for s in state.sources if s.node == node), key=lambda s: s.offset)


def _piece(graph: RoadGraph, edge: int, f0: float, f1: float) -> FloatArray:
    """Metric vertices of an edge between fractions ``f0`` <= ``f1`` of its length."""
    xy = graph.edge_xy(edge)
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    d0, d1 = f0 * cum[-1], f1 * cum[-1]
    inner = xy[(cum > d0) & (cum < d1)]
    ends = np.column_stack([np.interp([d0, d1], cum, xy[:, 0]), np.interp([d0, d1], cum, xy[:, 1])])
    return np.vstack([ends[:1], inner, ends[1:]])


def _edges_xy(graph: RoadGraph, edges: NDArray[np.integer[Any]]) -> FloatArray:
    """Vertices of consecutive edges, in one gather (no loop over edges)."""
    if edges.size == 0:
        return np.zeros((0, 2))
    starts = graph.geom_offsets[edges]
    counts = graph.geom_offsets[edges + 1] - starts
    shift = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return graph.geom_xy[shift + np.arange(int(counts.sum()))]


def _join(pieces: Sequence[FloatArray]) -> FloatArray:
    xy = np.vstack(pieces)
    keep = np.ones(len(xy), dtype=bool)
    keep[1:] = np.any(np.abs(np.diff(xy, axis=0)) > 1e-9, axis=1)
    return xy[keep]


# -- reachability and isochrones -----------------------------------------------------------


@dataclass(frozen=True)
class Reach:
    """Travel times between one or many points and every node.

    Attributes
    ----------
    node_times_s
        Per node index: time from the nearest source (``direction="from"``) or to the
        nearest target (``direction="to"``); ``inf`` beyond ``limit_s`` or unreachable.
    sources
        Road positions of the points; ``sources.ok`` is False for points left out
        because they are beyond the snapping limit.
    direction, limit_s, profile, hour
        How it was computed.
    """

    graph: RoadGraph
    node_times_s: FloatArray
    sources: Snaps
    direction: Literal["from", "to"]
    limit_s: float
    weights: FloatArray
    profile: str
    hour: int | None

    def area(self, within_s: float, *, buffer_m: float = 40.0) -> shapely.Geometry:
        """The roads reachable within ``within_s``, buffered into (Multi)Polygon lon/lat.

        Partial edges at the boundary are cut where the time runs out.
        """
        if within_s > self.limit_s:
            raise InvalidInput(
                "within_s exceeds the limit this reach was computed for",
                details={"within_s": within_s, "limit_s": self.limit_s},
            )
        lines = _reached_lines(self, within_s)
        if not lines:
            return shapely.Polygon()
        # edges have different vertex counts: build the lines from one flat coordinate array
        sizes = np.fromiter((len(line) for line in lines), dtype=np.int64, count=len(lines))
        parts = shapely.linestrings(
            np.concatenate(lines), indices=np.repeat(np.arange(len(lines)), sizes)
        )
        metric = shapely.buffer(shapely.multilinestrings(parts), buffer_m, quad_segs=4)
        return shapely.transform(metric, self.graph.to_lonlat)


@dataclass(frozen=True)
class Isochrone:
    """The area reachable within ``minutes``, and the per-node times behind it."""

    minutes: float
    polygon: shapely.Geometry
    reach: Reach


def reach(
    graph: RoadGraph,
    points: Any,
    *,
    limit_s: float = math.inf,
    direction: Literal["from", "to"] = "from",
    at: datetime | None = None,
    profile: TravelTimeProfile | None = None,
    snap_limit_m: float | None = None,
) -> Reach:
    """Times from (or to) the nearest of ``points`` for every node, in one search.

    Parameters
    ----------
    graph
        The road graph.
    points
        One ``(lon, lat)`` or a sequence / (n, 2) array of them.
    limit_s
        Stop the search at this time (``inf``: the whole network).
    direction
        ``"from"``: leaving the points (stations, units driving out); ``"to"``:
        arriving at them.
    at, profile
        Travel-time profile and the time it is applied for.
    snap_limit_m
        Points farther from any road are left out (default: the graph's limit).

    Raises
    ------
    OffNetwork
        None of the points is within the snapping limit.
    """
    xy = np.asarray(points, dtype=np.float64)
    xy = xy.reshape(1, 2) if xy.ndim == 1 else xy
    if xy.ndim != 2 or xy.shape[1] != 2 or xy.shape[0] == 0:
        raise InvalidInput("points must be (lon, lat) pairs")
    snaps = snap_points(graph, xy[:, 0], xy[:, 1], limit_m=snap_limit_m)
    if not snaps.ok.any():
        raise OffNetwork(
            "no point is within the snapping limit of a road", details={"points": int(xy.shape[0])}
        )
    w, key, hour = edge_weights(graph, profile, at)
    nodes, offsets = _sources(graph, w, snaps, forward=direction == "from")
    search = search_for(graph, w, key, reverse=direction == "to")
    dist, _ = search.run(nodes, offsets, limit=limit_s)
    return Reach(
        graph,
        dist[:-1],
        snaps,
        direction,
        float(limit_s),
        w,
        profile.name if profile is not None else "free_flow",
        hour,
    )


def isochrone(
    graph: RoadGraph,
    points: Any,
    minutes: float,
    *,
    direction: Literal["from", "to"] = "from",
    at: datetime | None = None,
    profile: TravelTimeProfile | None = None,
    buffer_m: float = 40.0,
    snap_limit_m: float | None = None,
) -> Isochrone:
    """The area reachable within ``minutes`` of one or many points (see :func:`reach`)."""
    if not minutes > 0:
        raise InvalidInput("minutes must be positive", details={"minutes": minutes})
    r = reach(
        graph,
        points,
        limit_s=minutes * 60.0,
        direction=direction,
        at=at,
        profile=profile,
        snap_limit_m=snap_limit_m,
    )
    return Isochrone(float(minutes), r.area(minutes * 60.0, buffer_m=buffer_m), r)


def _sources(
    graph: RoadGraph, w: FloatArray, snaps: Snaps, *, forward: bool
) -> tuple[Int32Array, FloatArray]:
    nodes: list[int] = []
    offsets: list[float] = []
    for i in np.flatnonzero(snaps.ok):
        for e, f in _positions(int(snaps.edge[i]), float(snaps.fraction[i]), int(snaps.twin[i])):
            nodes.append(int(graph.edge_v[e] if forward else graph.edge_u[e]))
            offsets.append(float(((1.0 - f) if forward else f) * w[e]))
    return np.asarray(nodes, dtype=np.int32), np.asarray(offsets, dtype=np.float64)


def _reached_lines(r: Reach, within_s: float) -> list[FloatArray]:
    """Metric polylines of every reached edge part."""
    g, w, t = r.graph, r.weights, r.node_times_s
    forward = r.direction == "from"
    start = t[g.edge_u] if forward else t[g.edge_v]
    share = np.clip((within_s - start) / w, 0.0, 1.0)
    full = np.flatnonzero(share >= 1.0)
    part = np.flatnonzero((share > 0.0) & (share < 1.0))
    lines = [g.edge_xy(int(e)) for e in full]
    lines += [
        _piece(g, int(e), 0.0, share[e]) if forward else _piece(g, int(e), 1.0 - share[e], 1.0)
        for e in part
    ]
    for i in np.flatnonzero(r.sources.ok):
        for e, f in _positions(
            int(r.sources.edge[i]), float(r.sources.fraction[i]), int(r.sources.twin[i])
        ):
            span = within_s / w[e]
            lines.append(
                _piece(g, e, f, min(1.0, f + span))
                if forward
                else _piece(g, e, max(0.0, f - span), f)
            )
    return lines


def node_travel_times(
    graph: RoadGraph,
    nodes: Any,
    *,
    direction: Literal["from", "to"] = "from",
    limit_s: float = math.inf,
    at: datetime | None = None,
    profile: TravelTimeProfile | None = None,
) -> FloatArray:
    """Times from (or to) the nearest of some nodes to (from) every node, in one search.

    Parameters
    ----------
    graph
        The road graph.
    nodes
        Node *indices* (see :meth:`RoadGraph.node_index` to turn ``road_node.id`` into
        indices), e.g. the nodes stations are linked to.
    direction, limit_s, at, profile
        As in :func:`reach`.

    Returns
    -------
    numpy.ndarray
        Per node index, the time; ``inf`` when unreachable or beyond ``limit_s``.
    """
    start = np.atleast_1d(np.asarray(nodes, dtype=np.int32))
    if start.size == 0 or start.min() < 0 or start.max() >= graph.node_count:
        raise InvalidInput("nodes must be valid node indices")
    w, key, _ = edge_weights(graph, profile, at)
    search = search_for(graph, w, key, reverse=direction == "to")
    dist, _ = search.run(start, np.zeros(start.size), limit=limit_s)
    return dist[:-1]
