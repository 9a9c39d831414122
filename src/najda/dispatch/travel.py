"""Thin adapter from dispatch's plain data to the routing engine (najda.routing).

Dispatch never computes road travel times itself: it hands eligible units to
:func:`najda.routing.engine.rank_units` (one reverse search from the incident) and maps
the answer back onto its own types. Unit road positions come from the graph's unit snap
cache (:func:`najda.routing.snap.unit_snap_cache`), so a unit is snapped again only when
it has moved.

When the roads cannot answer, dispatch does not stop there (no dead ends): an incident
farther than the snapping limit from every road (``OffNetwork``), or in a region without
a road network, gets *straight-line estimates* instead (:class:`StraightLine`: the
great-circle distance, lengthened by a detour factor, driven at a stated speed), and
every such ETA says so (:class:`Basis`, ``Ranked.method``). A recommendation never
mixes the two: either the incident is routable and units are ranked by road (units that
are not are excluded with their reason, as before), or it is not and every unit is
estimated the same way. Only for units picked by hand (:func:`estimate_all`) does a unit
the roads cannot bring get a straight-line estimate beside the others' road ETAs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, overload

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Engine

from najda.dispatch.plans import (
    Located,
    Method,
    Policy,
    Ranked,
    Requirement,
    UnitState,
    is_own,
)
from najda.errors import NotFound

if TYPE_CHECKING:
    from najda.routing.engine import Quota
    from najda.routing.graph import GraphRef


class GraphSource(Protocol):
    """Gives the current road graph of a region (e.g. a routing ``GraphCache``)."""

    def get(self, engine: Engine, region: str) -> Any: ...

    def get_ref(self, engine: Engine, ref: GraphRef) -> Any: ...


#: Mean Earth radius (IUGG), the sphere great-circle distances are measured on.
EARTH_RADIUS_M = 6_371_008.8


def great_circle_m(lon: Any, lat: Any, to_lon: float, to_lat: float) -> NDArray[np.float64]:
    """Great-circle (haversine) distances in metres from each ``lon``/``lat`` to one point."""
    lam, phi = (
        np.radians(np.asarray(lon, dtype=np.float64)),
        np.radians(np.asarray(lat, dtype=np.float64)),
    )
    lam0, phi0 = math.radians(to_lon), math.radians(to_lat)
    h = np.sin((phi - phi0) / 2) ** 2 + np.cos(phi) * math.cos(phi0) * np.sin((lam - lam0) / 2) ** 2
    return np.atleast_1d(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


@dataclass(frozen=True)
class StraightLine:
    """How a straight-line travel time is estimated where road routing cannot answer.

    ``eta_s = great-circle distance * detour_factor / speed``: the detour factor stands
    for roads and tracks not running straight (road length over straight distance is
    typically 1.2-1.4 in cities), the speed for an average emergency drive. Both come
    from the settings ``NAJDA_STRAIGHT_LINE_SPEED_KPH`` and
    ``NAJDA_STRAIGHT_LINE_DETOUR``.
    """

    speed_kph: float
    detour_factor: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.speed_kph) and self.speed_kph > 0):
            raise ValueError("the straight-line speed must be positive")
        if not (math.isfinite(self.detour_factor) and self.detour_factor >= 1):
            raise ValueError("the straight-line detour factor must be at least 1")

    def eta_s(self, distance_m: Any) -> Any:
        """Estimated travel time for a great-circle ``distance_m`` (array or scalar)."""
        return distance_m * self.detour_factor / (self.speed_kph / 3.6)


@dataclass(frozen=True)
class Basis:
    """Which method produced a set of ETAs, and why not by road.

    Attributes
    ----------
    method
        ``road`` or ``straight_line``.
    reason
        Why not by road: ``off_network`` (the incident is farther than the snapping
        limit from every road) or ``no_road_graph`` (its region has no road network);
        None for road ETAs.
    road_distance_m
        The incident's distance to the nearest road, when known.
    snap_limit_m
        The snapping limit in force, when known.
    pace
        The straight-line settings used (None for road ETAs).
    """

    method: Method = "road"
    reason: str | None = None
    road_distance_m: float | None = None
    snap_limit_m: float | None = None
    pace: StraightLine | None = None


ROAD = Basis()


def incident_basis(graph: Any, point: tuple[float, float], *, pace: StraightLine) -> Basis:
    """Road ETAs if ``point`` snaps to ``graph`` (None: no road network), else why not.

    The decision is :func:`~najda.routing.snap.snap_point`'s (the exact nearest road
    within the graph's snapping limit), made from one unlimited nearest-road query that
    also gives the distance to show: ``snap_point`` would search twice for a point
    beyond the limit (limited, then unlimited for its message). Measured on Doha, the
    unlimited query takes 0.04-0.2 ms near a road and 0.1-1.1 ms 25 km from one.
    """
    from najda.routing.snap import snap_points

    if graph is None:
        return Basis("straight_line", "no_road_graph", pace=pace)
    limit = float(graph.snap_limit_m)
    distance = float(
        snap_points(graph, float(point[0]), float(point[1]), limit_m=math.inf).distance_m[0]
    )
    if math.isfinite(distance) and distance <= limit:
        return ROAD
    return Basis(
        "straight_line",
        "off_network",
        road_distance_m=distance if math.isfinite(distance) else None,
        snap_limit_m=limit,
        pace=pace,
    )


def straight_line_ranked(
    point: tuple[float, float],
    located: Sequence[Located],
    *,
    pace: StraightLine,
    reason: str | None,
) -> list[Ranked]:
    """Every located unit with a straight-line ETA to ``point``, fastest first (ties by
    unit id); ``reason`` says why the roads were not used."""
    if not located:
        return []
    lon = np.fromiter((x.position[0] for x in located), dtype=np.float64, count=len(located))
    lat = np.fromiter((x.position[1] for x in located), dtype=np.float64, count=len(located))
    metres = great_circle_m(lon, lat, float(point[0]), float(point[1]))
    etas = pace.eta_s(metres)
    ranked = [
        Ranked(
            located=x,
            eta_s=float(eta),
            distance_m=float(d),
            method="straight_line",
            reason=reason,
            straight_line_m=float(d),
        )
        for x, d, eta in zip(located, metres, etas, strict=True)
    ]
    ranked.sort(key=lambda r: (r.eta_s, r.unit.unit_id))
    return ranked


def road_graph_or_none(
    graphs: GraphSource, engine: Engine, region: str, *, ref: GraphRef | None = None
) -> Any:
    """The region's road graph, or None when it has no road network.

    ``ref`` (read with the caller's own data, e.g. the incident) names the graph, so no
    query is needed to learn which; without it the source asks the database.
    """
    try:
        if ref is not None:
            return graphs.get_ref(engine, ref) if ref.version else None
        return graphs.get(engine, region)
    except NotFound:
        return None


class RouteCoords(Sequence[tuple[float, float]]):
    """A ranked unit's route as (lon, lat) pairs, built from the engine's route only
    when first read (most ranked units are never shown)."""

    __slots__ = ("_coords", "_route")

    def __init__(self, route: Any) -> None:
        self._route = route
        self._coords: list[tuple[float, float]] | None = None

    def _list(self) -> list[tuple[float, float]]:
        if self._coords is None:
            self._coords = [(x, y) for x, y in self._route.coords.tolist()]
        return self._coords

    @overload
    def __getitem__(self, i: int) -> tuple[float, float]: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[tuple[float, float]]: ...

    def __getitem__(self, i: int | slice) -> Any:
        return self._list()[i]

    def __len__(self) -> int:
        return len(self._list())

    def __iter__(self) -> Iterator[tuple[float, float]]:
        return iter(self._list())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"RouteCoords({self._list()!r})"


def plan_quotas(
    requirements: Sequence[Requirement],
    located: Sequence[Located],
    *,
    policy: Policy = "nearest",
    incident_jurisdictions: Mapping[int, int] | None = None,
) -> list[Quota]:
    """Stop conditions under which ranking only part of ``located`` fills the plan
    exactly as ranking all of them would (see :func:`rank_located`).

    :func:`najda.dispatch.plans.fill_plan` fills requirements in plan order, each with
    the fastest free units that have its capability. Requirement ``r`` can lose units
    only to the requirements ``q`` before it, at most ``min(count_q, units with both
    capabilities)`` to each; so once ``c_r`` = its count + those losses capable units are
    ranked, the units it takes are among them: every unranked unit is slower than every
    ranked one. With ``own_first`` it takes the incident jurisdiction's own units first,
    so also ``c_r`` own capable units must be ranked, or all of them when there are
    fewer (then outsiders fill the rest, by ETA).
    """
    from najda.routing.engine import Quota

    jur = incident_jurisdictions or {}
    quotas = []
    for i, req in enumerate(requirements):
        capable = [x for x in located if req.capability in x.unit.capabilities]
        need = req.count
        for earlier in requirements[:i]:
            both = sum(1 for x in capable if earlier.capability in x.unit.capabilities)
            need += min(earlier.count, both)
        quotas.append(Quota(frozenset(x.unit.unit_id for x in capable), need))
        if policy == "own_first":
            own = frozenset(x.unit.unit_id for x in capable if is_own(x.unit, jur))
            quotas.append(Quota(own, need))
    return quotas


def rank_located(
    graph: Any,
    point: tuple[float, float],
    located: Sequence[Located],
    *,
    at: datetime | None = None,
    requirements: Sequence[Requirement] | None = None,
    policy: Policy = "nearest",
    incident_jurisdictions: Mapping[int, int] | None = None,
) -> tuple[list[Ranked], list[tuple[UnitState, str]]]:
    """Located units by ETA to ``point`` (best first), and those that cannot come.

    Without ``requirements`` every located unit that can come is ranked. With them (the
    outstanding response plan, its ``policy`` and the incident's jurisdiction per
    agency), the search is bounded: it stops as soon as :func:`plan_quotas` are met,
    and the ranked units are the fastest ones, a prefix of the full order, on which
    :func:`najda.dispatch.plans.fill_plan` gives the same fill as on all units. The
    units that cannot come are reported in full either way.
    """
    from najda.routing.engine import UnitPositions, rank_units

    if not located:
        return [], []
    by_id = {item.unit.unit_id: item for item in located}
    n = len(by_id)
    positions = UnitPositions(
        np.fromiter(by_id, dtype=np.int64, count=n),
        np.fromiter((x.position[0] for x in by_id.values()), dtype=np.float64, count=n),
        np.fromiter((x.position[1] for x in by_id.values()), dtype=np.float64, count=n),
    )
    quotas = None
    if requirements is not None:
        quotas = plan_quotas(
            requirements,
            list(by_id.values()),
            policy=policy,
            incident_jurisdictions=incident_jurisdictions,
        )
    ranking = rank_units(graph, point, positions, len(positions), at=at, quotas=quotas)
    ranked = [
        Ranked(
            located=by_id[r.unit_id],
            eta_s=r.eta_s,
            distance_m=r.distance_m,
            route=RouteCoords(r.route),
            snap_distance_m=r.snap_distance_m,
        )
        for r in ranking.ranked
    ]
    excluded: list[tuple[UnitState, str]] = [
        (by_id[e.unit_id].unit, str(e.reason)) for e in ranking.excluded
    ]
    return ranked, excluded


def rank_or_estimate(
    graph: Any,
    point: tuple[float, float],
    located: Sequence[Located],
    *,
    pace: StraightLine,
    at: datetime | None = None,
    requirements: Sequence[Requirement] | None = None,
    policy: Policy = "nearest",
    incident_jurisdictions: Mapping[int, int] | None = None,
) -> tuple[list[Ranked], list[tuple[UnitState, str]], Basis]:
    """Units ranked by road ETA (:func:`rank_located`) where the incident is on the road
    network, else every one by straight-line estimate; and on what basis.

    ``graph`` None means the region has no road network.
    """
    basis = incident_basis(graph, point, pace=pace)
    if basis.method == "straight_line":
        return straight_line_ranked(point, located, pace=pace, reason=basis.reason), [], basis
    ranked, excluded = rank_located(
        graph,
        point,
        located,
        at=at,
        requirements=requirements,
        policy=policy,
        incident_jurisdictions=incident_jurisdictions,
    )
    return ranked, excluded, basis


#: why a unit that the roads cannot bring was estimated in a straight line instead
UNIT_REASONS = {"off_network": "unit_off_network", "unreachable": "unreachable"}


def estimate_all(
    graph: Any,
    point: tuple[float, float],
    located: Sequence[Located],
    *,
    pace: StraightLine,
    at: datetime | None = None,
) -> tuple[dict[int, Ranked], Basis]:
    """An ETA for every located unit (for units picked by hand): by road where the
    incident and the unit are both on one road network, else a straight-line estimate
    whose ``reason`` says which of them is not (``unit_off_network``, ``unreachable``,
    or the incident's own reason)."""
    ranked, excluded, basis = rank_or_estimate(graph, point, located, pace=pace, at=at)
    out = {r.unit.unit_id: r for r in ranked}
    by_id = {x.unit.unit_id: x for x in located}
    for unit, why in excluded:
        estimate = straight_line_ranked(
            point, [by_id[unit.unit_id]], pace=pace, reason=UNIT_REASONS.get(why, why)
        )
        out[unit.unit_id] = estimate[0]
    return out, basis
