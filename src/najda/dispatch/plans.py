"""Response plans: who may respond (eligibility) and who should (filling the plan).

Pure functions over plain data. The recommendation service loads units from the
database, asks the routing engine for ETAs, and hands the result here.

Position rule (documented choice)
---------------------------------
A unit whose tracker has reported (``last_fix_at`` set) is where its last fix says, if
that fix is at most ``max_age_s`` old; if it is older the unit is *stale* and is not
recommended (its tracker went quiet: we do not know where it is). A unit that has
never reported a fix is where it was *posted* (a position set without a fix time, e.g.
a fixed traffic post or the demo's patrols), else at its home station (units in quarters
without AVL); with neither it has no position and is not recommended.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Policy = Literal["nearest", "own_first"]
POLICIES: tuple[Policy, ...] = ("nearest", "own_first")


@dataclass(frozen=True)
class Requirement:
    capability: str
    count: int


@dataclass(frozen=True)
class UnitState:
    """What dispatch knows about one unit, read from the database."""

    unit_id: int
    call_sign: str
    agency_id: int
    agency_code: str
    unit_type: str
    capabilities: frozenset[str]
    status: str
    last_position: tuple[float, float] | None = None  # (lon, lat)
    last_fix_at: datetime | None = None
    station_position: tuple[float, float] | None = None
    home_jurisdiction_id: int | None = None


@dataclass(frozen=True)
class Located:
    """An eligible unit and the position it is routed from."""

    unit: UnitState
    position: tuple[float, float]
    position_source: Literal["gps", "posted", "station"]


#: How an ETA was made: along the roads, or estimated from the straight line
#: (:class:`najda.dispatch.travel.StraightLine`) when road routing cannot answer.
Method = Literal["road", "straight_line"]


@dataclass(frozen=True)
class Ranked:
    """An eligible unit with its travel time to the incident.

    ``method`` says how ``eta_s`` was made and ``reason`` why not by road (None for a
    road ETA). For a straight-line estimate ``distance_m`` is the great-circle distance
    (``straight_line_m``) and there is no route.
    """

    located: Located
    eta_s: float
    distance_m: float
    route: Sequence[tuple[float, float]] = ()
    snap_distance_m: float | None = None
    method: Method = "road"
    reason: str | None = None
    straight_line_m: float | None = None

    @property
    def unit(self) -> UnitState:
        return self.located.unit


@dataclass
class RequirementFill:
    requirement: Requirement
    chosen: list[Ranked] = field(default_factory=list)
    excluded: dict[str, int] = field(default_factory=dict)

    @property
    def missing(self) -> int:
        return self.requirement.count - len(self.chosen)


@dataclass
class PlanFill:
    policy: Policy
    fills: list[RequirementFill]

    @property
    def complete(self) -> bool:
        return all(f.missing == 0 for f in self.fills)

    def unit_ids(self) -> list[int]:
        return [r.unit.unit_id for f in self.fills for r in f.chosen]


def parse_plan(raw: Iterable[Mapping[str, object]]) -> list[Requirement]:
    """The catalogue's ``response_plan`` (a list of ``{capability, count}``)."""
    out: list[Requirement] = []
    for item in raw:
        capability = str(item.get("capability", "")).strip()
        count = int(item.get("count", 1))  # type: ignore[call-overload]
        if capability and count > 0:
            out.append(Requirement(capability=capability, count=count))
    return out


def locate(unit: UnitState, *, now: datetime, max_age_s: float) -> Located | str:
    """Where an available unit is routed from, or the reason it is not eligible."""
    if unit.status != "available":
        return "not_available"
    if unit.last_fix_at is not None:
        age = (now - unit.last_fix_at).total_seconds()
        if unit.last_position is None or age > max_age_s:
            return "stale_position"
        return Located(unit, unit.last_position, "gps")
    if unit.last_position is not None:
        return Located(unit, unit.last_position, "posted")
    if unit.station_position is not None:
        return Located(unit, unit.station_position, "station")
    return "no_position"


def last_known(unit: UnitState) -> Located | None:
    """Where a unit was last known to be, whatever its status or the age of its fix
    (for a unit picked by hand): its last position, else its home station."""
    if unit.last_position is not None:
        source: Literal["gps", "posted"] = "gps" if unit.last_fix_at is not None else "posted"
        return Located(unit, unit.last_position, source)
    if unit.station_position is not None:
        return Located(unit, unit.station_position, "station")
    return None


def is_stale(unit: UnitState, *, now: datetime, max_age_s: float) -> bool:
    """The unit's tracker has reported, but not within ``max_age_s``."""
    return unit.last_fix_at is not None and (now - unit.last_fix_at).total_seconds() > max_age_s


def split_eligible(
    units: Iterable[UnitState], *, capabilities: set[str], now: datetime, max_age_s: float
) -> tuple[list[Located], list[tuple[UnitState, str]]]:
    """Units with a needed capability, split into eligible and (unit, reason) excluded."""
    eligible: list[Located] = []
    excluded: list[tuple[UnitState, str]] = []
    for unit in units:
        if not unit.capabilities & capabilities:
            continue
        where = locate(unit, now=now, max_age_s=max_age_s)
        if isinstance(where, Located):
            eligible.append(where)
        else:
            excluded.append((unit, where))
    return eligible, excluded


def is_own(unit: UnitState, incident_jurisdictions: Mapping[int, int]) -> bool:
    """The unit belongs to the jurisdiction its agency has over the incident's location.

    Where the agency has no jurisdiction covering the incident and the unit has no home
    jurisdiction either, boundaries do not apply and the unit counts as its own.
    """
    return unit.home_jurisdiction_id == incident_jurisdictions.get(unit.agency_id)


def fill_plan(
    requirements: Sequence[Requirement],
    ranked: Sequence[Ranked],
    *,
    policy: Policy = "nearest",
    incident_jurisdictions: Mapping[int, int] | None = None,
    excluded: Sequence[tuple[UnitState, str]] = (),
) -> PlanFill:
    """Fill each requirement, in plan order, with the fastest units not yet used.

    ``nearest`` ranks by ETA alone; ``own_first`` takes units of the incident's
    jurisdiction first (by ETA) and others only for what they cannot fill. Ties are
    broken by unit id. ``excluded`` (ineligible or unreachable units) is summarised per
    requirement so an unfilled requirement says why.
    """
    jur = incident_jurisdictions or {}
    used: set[int] = set()
    fills: list[RequirementFill] = []
    for req in requirements:
        pool = [r for r in ranked if req.capability in r.unit.capabilities]
        fill = RequirementFill(requirement=req)
        fill.excluded = dict(
            Counter(reason for unit, reason in excluded if req.capability in unit.capabilities)
        )
        taken = sum(1 for r in pool if r.unit.unit_id in used)
        if taken:
            fill.excluded["chosen_for_another_requirement"] = taken
        free = sorted(
            (r for r in pool if r.unit.unit_id not in used),
            key=lambda r: _order_key(r, policy, jur),
        )
        fill.chosen = free[: req.count]
        used.update(r.unit.unit_id for r in fill.chosen)
        fills.append(fill)
    return PlanFill(policy=policy, fills=fills)


def _order_key(r: Ranked, policy: Policy, jur: Mapping[int, int]) -> tuple[int, float, int]:
    outsider = 0 if policy == "nearest" or is_own(r.unit, jur) else 1
    return (outsider, r.eta_s, r.unit.unit_id)
