"""Thin adapter from dispatch's plain data to the routing engine (najda.routing).

Dispatch never computes travel times itself: it hands eligible units to
:func:`najda.routing.engine.rank_units` (one reverse search from the incident) and maps
the answer back onto its own types. Unit road positions come from the graph's unit snap
cache (:func:`najda.routing.snap.unit_snap_cache`), so a unit is snapped again only when
it has moved.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, overload

from sqlalchemy import Engine

from najda.dispatch.plans import Located, Policy, Ranked, Requirement, UnitState, is_own
from najda.errors import NotFound, Unprocessable

if TYPE_CHECKING:
    from najda.routing.engine import Quota


class GraphSource(Protocol):
    """Gives the current road graph of a region (e.g. a routing ``GraphCache``)."""

    def get(self, engine: Engine, region: str) -> Any: ...


def road_graph(graphs: GraphSource, engine: Engine, region: str) -> Any:
    try:
        return graphs.get(engine, region)
    except NotFound as exc:
        raise Unprocessable(
            f"region {region} has no road network to route on",
            code="no_road_graph",
            details={"region": region},
        ) from exc


class RouteCoords(Sequence[tuple[float, float]]):
    """A ranked unit's route as (lon, lat) pairs, built from the engine's route only
    when first read (most ranked units are never shown)."""

    __slots__ = ("_coords", "_route")

    def __init__(self, route: Any) -> None:
        self._route = route
        self._coords: list[tuple[float, float]] | None = None

    def _list(self) -> list[tuple[float, float]]:
        if self._coords is None:
            self._coords = [(float(x), float(y)) for x, y in self._route.coords]
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
    from najda.routing.engine import UnitPosition, rank_units

    if not located:
        return [], []
    by_id = {item.unit.unit_id: item for item in located}
    positions = [
        UnitPosition(id=i, lon=item.position[0], lat=item.position[1]) for i, item in by_id.items()
    ]
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
