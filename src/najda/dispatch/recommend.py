"""Recommendations: the response plan of an incident filled with the fastest units.

Loads the incident and the units that could serve its plan, keeps the eligible ones
(:func:`najda.dispatch.plans.split_eligible`), ranks them by road ETA through the
routing engine, and fills the plan (:func:`najda.dispatch.plans.fill_plan`). Units
already assigned to the incident count against its plan.

An incident the roads cannot reach (farther than the snapping limit from every road, or
in a region without roads) is not a dead end: its units are ranked by straight-line
estimates instead, and the answer says so (:class:`najda.dispatch.travel.Basis`).
:func:`available_units` gives every available unit with an ETA, for the dispatcher who
picks a unit by hand; :func:`estimate_units` the ETAs an assignment records.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from najda.dispatch.assignments import Estimate
from najda.dispatch.auth import User, require
from najda.dispatch.incidents import Incident, load_incident
from najda.dispatch.plans import (
    POLICIES,
    Located,
    PlanFill,
    Policy,
    Ranked,
    Requirement,
    UnitState,
    fill_plan,
    is_stale,
    last_known,
    split_eligible,
)
from najda.dispatch.store import transaction
from najda.dispatch.timefmt import utcnow
from najda.dispatch.travel import (
    Basis,
    GraphSource,
    StraightLine,
    estimate_all,
    rank_or_estimate,
    road_graph_or_none,
)
from najda.dispatch.units import unit_states
from najda.errors import InvalidInput


@dataclass(frozen=True)
class Recommendation:
    incident: Incident
    plan: PlanFill
    basis: Basis


def outstanding(incident: Incident) -> list[Requirement]:
    """The plan less what active assignments (by their capability) already cover."""
    covered = Counter(a.capability for a in incident.assignments if a.active and a.capability)
    out = []
    for req in incident.type.response_plan:
        left = req.count - covered[req.capability]
        covered[req.capability] = max(0, -left)
        if left > 0:
            out.append(Requirement(req.capability, left))
    return out


def recommend(
    engine: Engine,
    incident_id: int,
    *,
    by: User,
    graphs: GraphSource,
    max_age_s: float,
    pace: StraightLine,
    policy: str = "nearest",
    now: datetime | None = None,
) -> Recommendation:
    """Fill the incident's outstanding plan with the fastest eligible units.

    Ranked by road ETA; by straight-line estimate (``pace``) when the incident is off
    the road network, which the result's ``basis`` then says.
    """
    require(by, "read")
    if policy not in POLICIES:
        raise InvalidInput(
            f"unknown policy: {policy}", details={"parameter": "policy", "known": list(POLICIES)}
        )
    now = now or utcnow()
    with transaction(engine) as conn:
        incident = load_incident(conn, incident_id)
        requirements = outstanding(incident)
        capabilities = {r.capability for r in requirements}
        units = (
            unit_states(conn, capabilities=capabilities, home_jurisdictions=policy == "own_first")
            if capabilities
            else []
        )
    eligible, excluded = split_eligible(
        units, capabilities=capabilities, now=now, max_age_s=max_age_s
    )
    chosen_policy: Policy = "own_first" if policy == "own_first" else "nearest"
    jurisdictions = incident.jurisdiction_by_agency()
    graph = road_graph_or_none(graphs, engine, incident.region_code, ref=incident.road_graph)
    # bounded: only as many units are ranked by road as filling the plan needs
    ranked, unreachable, basis = rank_or_estimate(
        graph,
        (incident.lon, incident.lat),
        eligible,
        pace=pace,
        at=now,
        requirements=requirements,
        policy=chosen_policy,
        incident_jurisdictions=jurisdictions,
    )
    plan = fill_plan(
        requirements,
        ranked,
        policy=chosen_policy,
        incident_jurisdictions=jurisdictions,
        excluded=[*excluded, *unreachable],
    )
    return Recommendation(incident=incident, plan=plan, basis=basis)


def _estimates(
    engine: Engine,
    graphs: GraphSource,
    incident: Incident,
    units: list[UnitState],
    *,
    pace: StraightLine,
    now: datetime | None = None,
) -> tuple[dict[int, Ranked], dict[int, Located], Basis]:
    located = {u.unit_id: x for u in units if (x := last_known(u)) is not None}
    graph = road_graph_or_none(graphs, engine, incident.region_code, ref=incident.road_graph)
    estimates, basis = estimate_all(
        graph, (incident.lon, incident.lat), list(located.values()), pace=pace, at=now
    )
    return estimates, located, basis


def estimate_units(
    engine: Engine,
    graphs: GraphSource,
    incident: Incident,
    unit_ids: list[int],
    *,
    pace: StraightLine,
) -> dict[int, Estimate]:
    """Predicted ETA, distance, route and method of the named units (for their
    assignment), from each unit's last known position (:func:`~najda.dispatch.plans.last_known`).

    By road where both ends are on one road network, else a straight-line estimate
    that says why; a unit with no position at all gets no estimate.
    """
    with transaction(engine) as conn:
        units = unit_states(conn, unit_ids=unit_ids, home_jurisdictions=False)
    estimates, _, _ = _estimates(engine, graphs, incident, units, pace=pace)
    out = {u.unit_id: Estimate(method="none", reason="no_position") for u in units}
    for uid, r in estimates.items():
        out[uid] = Estimate(
            eta_s=r.eta_s, distance_m=r.distance_m, route=r.route, method=r.method, reason=r.reason
        )
    return out


@dataclass(frozen=True)
class AvailableUnit:
    """An available unit the dispatcher may pick by hand, with its ETA if it has one."""

    unit: UnitState
    located: Located | None
    stale: bool
    estimate: Ranked | None

    @property
    def method(self) -> str:
        return self.estimate.method if self.estimate else "none"

    @property
    def reason(self) -> str | None:
        return self.estimate.reason if self.estimate else "no_position"


@dataclass(frozen=True)
class AvailableUnits:
    incident: Incident
    basis: Basis
    units: list[AvailableUnit]


_METHOD_ORDER = {"road": 0, "straight_line": 1, "none": 2}


def available_units(
    engine: Engine,
    incident_id: int,
    *,
    by: User,
    graphs: GraphSource,
    max_age_s: float,
    pace: StraightLine,
    now: datetime | None = None,
) -> AvailableUnits:
    """Every available unit, of any agency and capability, with its ETA to the incident.

    Road ETAs come first (fastest first), then straight-line estimates, then units
    without a position: a straight-line estimate never outranks a road ETA.
    """
    require(by, "read")
    now = now or utcnow()
    with transaction(engine) as conn:
        incident = load_incident(conn, incident_id)
        units = [u for u in unit_states(conn, home_jurisdictions=False) if u.status == "available"]
    estimates, located, basis = _estimates(engine, graphs, incident, units, pace=pace, now=now)
    listed = [
        AvailableUnit(
            unit=u,
            located=located.get(u.unit_id),
            stale=is_stale(u, now=now, max_age_s=max_age_s),
            estimate=estimates.get(u.unit_id),
        )
        for u in units
    ]
    listed.sort(
        key=lambda a: (
            _METHOD_ORDER[a.method],
            a.estimate.eta_s if a.estimate else 0.0,
            a.unit.call_sign,
        )
    )
    return AvailableUnits(incident=incident, basis=basis, units=listed)
