"""Station siting with the existing stations fixed: maximal covering and set covering.

The instance
------------
* Demand: the population surface's rows tied to a road node (:mod:`.coverage`), weighted
  by their people.
* Candidate sites: one road node per H3 cell (at ``candidate_resolution``) holding road
  nodes, the node nearest the cell's centre; plus the existing stations' nodes, which
  are fixed in every solution (spopt's ``predefined_facilities_arr``).
* Costs: drive time from each site's node to each demand node over the road graph, one
  bounded multi-source-free search per site (``scipy.sparse.csgraph.dijkstra`` with all
  sites as ``indices`` and the threshold as ``limit``).

Maximal covering (MCLP) adds ``n`` sites to maximise people within the threshold; set
covering (LSCP) finds the fewest sites that bring every coverable demand row within it
(rows no candidate can reach in time are reported, not required). Both are solved with
spopt (PuLP + CBC), with a time limit: a solve that cannot prove its answer optimal in
time raises :class:`SolverTimeLimit` rather than return a guess.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import h3
import numpy as np
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from najda.analytics.coverage import Demand, Source, station_nodes
from najda.errors import InvalidInput, Unprocessable
from najda.routing.engine import node_travel_times
from najda.routing.graph import FloatArray, Int32Array, RoadGraph, search_for

DEFAULT_CANDIDATE_RESOLUTION = 9
MAX_CANDIDATES = 2_000
MAX_NEW = 20
SOLVER_TIME_LIMIT_S = 60.0


class SolverTimeLimit(Unprocessable):
    """The integer program was not solved to optimality within the time limit."""

    code = "solver_time_limit"


Model = Literal["mclp", "lscp"]


@dataclass(frozen=True)
class SitingInstance:
    """A siting problem in matrix form (what spopt is given).

    Attributes
    ----------
    site_node
        Graph node index of every site: existing stations first, then candidates.
    fixed
        Per site: an existing station (always open).
    demand_node, weight
        Demand rows (on the network) aggregated by road node: node and people.
    cost
        (demand, sites) drive time in seconds (``inf`` beyond the threshold).
    threshold_s
        The service standard.
    """

    site_node: Int32Array
    fixed: NDArray[np.bool_]
    demand_node: Int32Array
    weight: FloatArray
    cost: FloatArray
    threshold_s: float

    @property
    def covers(self) -> NDArray[np.bool_]:
        return self.cost <= self.threshold_s

    def covered_by(self, open_sites: Sequence[int] | NDArray[np.int64]) -> float:
        """People covered when ``open_sites`` (site indices) are open."""
        idx = np.asarray(open_sites, dtype=np.int64)
        if idx.size == 0:
            return 0.0
        return float(self.weight[self.covers[:, idx].any(axis=1)].sum())


@dataclass(frozen=True)
class SitingResult:
    model: Model
    threshold_min: float
    instance: SitingInstance
    new_sites: tuple[int, ...]  # site indices chosen beyond the fixed ones
    covered_before: float
    covered_after: float
    uncoverable: float  # people no site can reach within the threshold
    status: str

    @property
    def new_nodes(self) -> Int32Array:
        return self.instance.site_node[list(self.new_sites)].astype(np.int32)


def candidate_nodes(
    graph: RoadGraph, *, resolution: int = DEFAULT_CANDIDATE_RESOLUTION
) -> Int32Array:
    """One node per H3 cell holding road nodes: the one nearest the cell's centre."""
    cells = np.array(
        [
            h3.latlng_to_cell(la, lo, resolution)
            for lo, la in zip(graph.lon.tolist(), graph.lat.tolist(), strict=True)
        ]
    )
    centres = np.array([h3.cell_to_latlng(c) for c in cells])
    xy = graph.frame.to_xy(graph.lon, graph.lat)
    cxy = graph.frame.to_xy(centres[:, 1], centres[:, 0])
    d = np.hypot(*(xy - cxy).T)
    order = np.lexsort((np.arange(cells.size), d, cells))
    first = np.ones(order.size, dtype=bool)
    first[1:] = cells[order][1:] != cells[order][:-1]
    return np.sort(order[first]).astype(np.int32)


def build_instance(
    graph: RoadGraph,
    demand: Demand,
    stations: Sequence[Source],
    *,
    threshold_min: float,
    candidates: Sequence[int] | NDArray[np.integer[Any]] | None = None,
    candidate_resolution: int = DEFAULT_CANDIDATE_RESOLUTION,
) -> SitingInstance:
    """The matrix form of the problem (see the module)."""
    if not (isinstance(threshold_min, int | float) and 0 < threshold_min <= 60):
        raise InvalidInput(
            "threshold must be minutes in (0, 60]", details={"threshold": threshold_min}
        )
    fixed_nodes, _, _ = station_nodes(graph, stations)
    fixed_nodes = np.unique(fixed_nodes)
    cand = (
        candidate_nodes(graph, resolution=candidate_resolution)
        if candidates is None
        else np.unique(np.asarray(candidates, dtype=np.int32))
    )
    cand = np.setdiff1d(cand, fixed_nodes)
    if cand.size > MAX_CANDIDATES:
        raise Unprocessable(
            f"{cand.size} candidate sites: use a coarser candidate resolution",
            code="too_many_candidates",
            details={"max": MAX_CANDIDATES},
        )
    sites = np.concatenate([fixed_nodes, cand]).astype(np.int32)
    on = demand.on_network & (demand.surface.population > 0)
    nodes, inverse = np.unique(demand.node[on], return_inverse=True)
    weight = np.bincount(
        inverse, weights=demand.surface.population[on], minlength=nodes.size
    ).astype(np.float64)
    threshold_s = float(threshold_min) * 60.0
    cost = site_times(graph, sites, nodes, limit_s=threshold_s)
    return SitingInstance(
        site_node=sites,
        fixed=np.arange(sites.size) < fixed_nodes.size,
        demand_node=nodes.astype(np.int32),
        weight=weight,
        cost=cost,
        threshold_s=threshold_s,
    )


def site_times(
    graph: RoadGraph, sites: Int32Array, targets: Int32Array, *, limit_s: float
) -> FloatArray:
    """(targets, sites) drive times from each site, bounded by ``limit_s``."""
    if sites.size == 0 or targets.size == 0:
        return np.full((targets.size, sites.size), np.inf)
    search = search_for(graph, graph.travel_time_s, ("free_flow",), reverse=False)
    n = graph.node_count
    matrix = graph.memo(("analytics", "forward_matrix"), lambda: search.matrix[:n, :n].tocsr())
    dist = dijkstra(matrix, directed=True, indices=sites, limit=limit_s)
    return np.ascontiguousarray(dist[:, targets].T)


def solve(
    instance: SitingInstance,
    *,
    model: Model,
    add: int | None = None,
    time_limit_s: float = SOLVER_TIME_LIMIT_S,
) -> SitingResult:
    """Solve with spopt: ``mclp`` adds ``add`` sites, ``lscp`` the fewest for full cover.

    CBC stops after ``time_limit_s`` seconds; an answer not proven optimal by then (or
    no answer at all) raises :class:`SolverTimeLimit`.
    """
    import pulp

    fixed_idx = np.flatnonzero(instance.fixed)
    before = instance.covered_by(fixed_idx)
    coverable: NDArray[np.bool_] = np.asarray(instance.covers.any(axis=1))
    uncoverable = float(instance.weight[~coverable].sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s)
    predefined = instance.fixed.astype(int) if fixed_idx.size else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # PuLP 4 API notices
        problem = _build(instance, model, add, coverable, predefined)
        try:
            problem.solve(solver, results=False)
        except RuntimeError:  # spopt's word for "not solved"; CBC ran out of time
            if problem.problem.status != pulp.LpStatusNotSolved:
                raise
    if problem.problem.sol_status != pulp.LpSolutionOptimal:
        raise _time_limit_error(instance, time_limit_s)
    status = pulp.LpStatus[problem.problem.status]
    opened = [j for j, var in enumerate(problem.fac_vars) if (var.value() or 0) > 0.5]
    new = tuple(j for j in opened if not instance.fixed[j])
    return SitingResult(
        model=model,
        threshold_min=instance.threshold_s / 60.0,
        instance=instance,
        new_sites=new,
        covered_before=before,
        covered_after=instance.covered_by(opened),
        uncoverable=uncoverable,
        status=status,
    )


def _time_limit_error(instance: SitingInstance, time_limit_s: float) -> SolverTimeLimit:
    return SolverTimeLimit(
        f"the siting solver found no proven answer within {time_limit_s:g} s: "
        "ask for fewer new sites, a shorter threshold or a coarser candidate resolution",
        details={
            "time_limit_s": time_limit_s,
            "candidates": int((~instance.fixed).sum()),
            "demand_nodes": int(instance.demand_node.size),
        },
    )


def _build(
    instance: SitingInstance,
    model: Model,
    add: int | None,
    coverable: NDArray[np.bool_],
    predefined: Any,
) -> Any:
    from spopt.locate import LSCP, MCLP

    fixed_count = int(instance.fixed.sum())
    if model == "mclp":
        n_new = _check_add(add, instance)
        cost = np.where(np.isfinite(instance.cost), instance.cost, 1e12)
        problem = MCLP.from_cost_matrix(
            cost,
            instance.weight,
            service_radius=instance.threshold_s,
            p_facilities=fixed_count + n_new,
            predefined_facilities_arr=predefined,
        )
    elif model == "lscp":
        if not coverable.any():
            raise Unprocessable(
                "no demand can be reached within the threshold", code="nothing_coverable"
            )
        cost = instance.cost[coverable]
        cost = np.where(np.isfinite(cost), cost, 1e12)
        problem = LSCP.from_cost_matrix(
            cost, service_radius=instance.threshold_s, predefined_facilities_arr=predefined
        )
    else:
        raise InvalidInput("model must be mclp or lscp", details={"model": model})
    return problem


def _check_add(add: int | None, instance: SitingInstance) -> int:
    free = int((~instance.fixed).sum())
    if isinstance(add, bool) or not isinstance(add, int) or not 1 <= add <= MAX_NEW:
        raise InvalidInput(f"add must be an integer from 1 to {MAX_NEW}", details={"add": add})
    if add > free:
        raise Unprocessable(
            f"only {free} candidate sites are available",
            code="too_few_candidates",
            details={"add": add, "free": free},
        )
    return add


def coverage_with(
    graph: RoadGraph, demand: Demand, nodes: Int32Array, threshold_s: float
) -> FloatArray:
    """Per demand row: time from the nearest of ``nodes`` (for the before/after maps)."""
    if nodes.size == 0:
        return np.full(len(demand.surface), np.inf)
    times = node_travel_times(graph, nodes, limit_s=threshold_s)
    out = np.full(len(demand.surface), np.inf)
    on = demand.on_network
    out[on] = times[demand.node[on]]
    return out


def result_summary(result: SitingResult, graph: RoadGraph, population: float) -> dict[str, Any]:
    """Numbers and the new sites, for JSON."""
    inst = result.instance
    sites = [
        {
            "site": int(j),
            "road_node_id": int(graph.node_id[inst.site_node[j]]),
            "lon": float(graph.lon[inst.site_node[j]]),
            "lat": float(graph.lat[inst.site_node[j]]),
            "covers_alone": inst.covered_by([j]),
        }
        for j in result.new_sites
    ]

    def pct(x: float) -> float | None:
        return round(100.0 * x / population, 4) if population > 0 else None

    return {
        "model": result.model,
        "threshold_min": result.threshold_min,
        "status": result.status,
        "existing_sites": int(inst.fixed.sum()),
        "candidates": int((~inst.fixed).sum()),
        "demand_nodes": int(inst.demand_node.size),
        "added": len(sites),
        "new_sites": sites,
        "population": population,
        "covered_before": result.covered_before,
        "covered_after": result.covered_after,
        "pct_before": pct(result.covered_before),
        "pct_after": pct(result.covered_after),
        "gain": result.covered_after - result.covered_before,
        "uncoverable": result.uncoverable,
        "on_network": float(inst.weight.sum()),
        "pct_on_network_before": _share(result.covered_before, float(inst.weight.sum())),
        "pct_on_network_after": _share(result.covered_after, float(inst.weight.sum())),
    }


def _share(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 4) if whole > 0 else None


def finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None
