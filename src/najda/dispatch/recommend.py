"""Recommendations: the response plan of an incident filled with the fastest units.

Loads the incident and the units that could serve its plan, keeps the eligible ones
(:func:`najda.dispatch.plans.split_eligible`), ranks them by road ETA through the
routing engine, and fills the plan (:func:`najda.dispatch.plans.fill_plan`). Units
already assigned to the incident count against its plan.
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
    split_eligible,
)
from najda.dispatch.store import transaction
from najda.dispatch.timefmt import utcnow
from najda.dispatch.travel import GraphSource, rank_located, road_graph
from najda.dispatch.units import unit_states
from najda.errors import InvalidInput


@dataclass(frozen=True)
class Recommendation:
    incident: Incident
    plan: PlanFill


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
    policy: str = "nearest",
    now: datetime | None = None,
) -> Recommendation:
    """Fill the incident's outstanding plan with the fastest eligible units."""
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
        units = unit_states(conn, capabilities=capabilities) if capabilities else []
    eligible, excluded = split_eligible(
        units, capabilities=capabilities, now=now, max_age_s=max_age_s
    )
    ranked: list[Ranked] = []
    unreachable: list[tuple[UnitState, str]] = []
    chosen_policy: Policy = "own_first" if policy == "own_first" else "nearest"
    jurisdictions = incident.jurisdiction_by_agency()
    if eligible:
        graph = road_graph(graphs, engine, incident.region_code)
        # bounded: only as many units are ranked as filling the plan needs
        ranked, unreachable = rank_located(
            graph,
            (incident.lon, incident.lat),
            eligible,
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
    return Recommendation(incident=incident, plan=plan)


def estimate_units(
    engine: Engine, graphs: GraphSource, incident: Incident, unit_ids: list[int]
) -> dict[int, Estimate]:
    """Predicted ETA, distance and route of the named units (for their assignment).

    A unit is routed from its last fix, else its station; one that cannot be routed
    (no position, off the network) simply gets no estimate.
    """
    with transaction(engine) as conn:
        units = unit_states(conn, unit_ids=unit_ids)
    located = []
    for u in units:
        position = u.last_position or u.station_position
        if position is not None:
            source = (
                "station"
                if u.last_position is None
                else ("gps" if u.last_fix_at is not None else "posted")
            )
            located.append(Located(u, position, source))  # type: ignore[arg-type]
    if not located:
        return {}
    graph = road_graph(graphs, engine, incident.region_code)
    ranked, _ = rank_located(graph, (incident.lon, incident.lat), located)
    return {
        r.unit.unit_id: Estimate(eta_s=r.eta_s, distance_m=r.distance_m, route=r.route)
        for r in ranked
    }
