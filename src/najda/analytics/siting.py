"""Station siting with the existing stations fixed: maximal covering and set covering.

The instance
------------
* Demand: the population surface's rows tied to a road node (:mod:`.coverage`), summed
  per road node and weighted by their people.
* Candidate sites: by default every road node (a station can stand on any street);
  or one node per H3 cell at ``candidate_resolution`` (the node nearest the cell's
  centre); or a given list. The existing stations' nodes are fixed: always open.
* Coverage: a site covers a demand node when the drive from the site to it takes at
  most the threshold. It is found by ONE bounded reverse search per demand node (the
  time from every node to it, :func:`~najda.routing.engine.node_travel_times` with
  ``direction="to"``), not one search per site: a city has hundreds of demand nodes
  and tens of thousands of possible sites. Only the pairs within the threshold are
  kept (a sparse matrix), and for demand an existing station already reaches only the
  stations' pairs. Should the pairs still pass :data:`MAX_PAIRS` (a long threshold with
  few stations), candidates become one node per H3 cell (res 9, else 8, else 7).

Solving
-------
1. Demand the existing stations already cover is set aside: it counts as covered
   whatever is added.
2. The problem is reduced without losing the optimum (:func:`reduce`): a candidate
   covering none of the rest is dropped (it would add no one); candidates covering the
   same demand become one column (the one with the least people-weighted drive to that
   demand stands for them); a candidate whose demand is a strict subset of another's is
   dominated and dropped, since swapping it for its dominator never covers fewer
   people; demand nodes covered by the same columns become one row (people summed). On
   Doha this takes 39,697 road nodes to a few hundred columns.
3. spopt (PuLP + CBC) solves the model exactly on the reduced problem: maximal
   covering (MCLP: add ``n`` sites to cover the most people) or set covering (LSCP: the
   fewest sites that bring every coverable person within the threshold; people no
   candidate can reach in time are reported, not required). CBC stops after
   ``time_limit_s``: a solve not proven optimal by then raises :class:`SolverTimeLimit`
   rather than return a guess. spopt writes its model densely (every row times every
   column, in Python), so should rows times columns still exceed
   :data:`MAX_MODEL_TERMS`, the model is solved on a pool of columns (the greedy choice
   and the columns covering the most people alone) and the answer says so (``exact``
   false).
4. The chosen sites are ranked by what each adds after the ones before it, the most
   first (these gains sum to the whole gain); a site that adds no one is dropped, so no
   answer proposes a station that adds no coverage: ``added`` may be less than
   ``requested``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import h3
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from najda.analytics.coverage import Demand, Source, station_nodes
from najda.errors import InvalidInput, Unprocessable
from najda.routing.engine import node_travel_times
from najda.routing.graph import FloatArray, Int32Array, RoadGraph

MAX_MODEL_TERMS = 600_000  # rows x columns spopt writes (densely, in Python: ~6 s)
MAX_PAIRS = 4_000_000  # (demand, site) pairs kept in memory (~50 MB)
COARSER_CANDIDATES = (9, 8, 7)  # H3 resolutions tried in turn past MAX_PAIRS
MAX_NEW = 20
SOLVER_TIME_LIMIT_S = 60.0

Model = Literal["mclp", "lscp"]


class SolverTimeLimit(Unprocessable):
    """The integer program was not solved to optimality within the time limit."""

    code = "solver_time_limit"


@dataclass(frozen=True)
class SitingInstance:
    """A siting problem in sparse matrix form.

    Attributes
    ----------
    site_node
        Graph node index of every site: existing stations first, then candidates.
    fixed
        Per site: an existing station (always open).
    demand_node, weight
        Demand (on the network) aggregated by road node: node and people.
    entry_demand, entry_site, entry_time
        Every (demand, site) pair within the threshold and its drive time in seconds;
        for demand an existing station reaches, only the existing stations' pairs.
    threshold_s
        The service standard.
    candidate_resolution
        None when every road node was a candidate, else the H3 resolution of the
        one-node-per-cell candidates.
    """

    site_node: Int32Array
    fixed: NDArray[np.bool_]
    demand_node: Int32Array
    weight: FloatArray
    entry_demand: Int32Array
    entry_site: Int32Array
    entry_time: FloatArray
    threshold_s: float
    candidate_resolution: int | None = None

    @classmethod
    def from_cost(
        cls,
        cost: FloatArray,
        weight: FloatArray,
        *,
        threshold_s: float,
        fixed: NDArray[np.bool_] | None = None,
    ) -> SitingInstance:
        """An instance from a dense (demand, sites) cost matrix (nodes are positions)."""
        rows, cols = np.nonzero(cost <= threshold_s)
        n_demand, n_sites = cost.shape
        return cls(
            site_node=np.arange(n_sites, dtype=np.int32),
            fixed=np.zeros(n_sites, dtype=bool) if fixed is None else fixed,
            demand_node=np.arange(n_demand, dtype=np.int32),
            weight=np.asarray(weight, dtype=np.float64),
            entry_demand=rows.astype(np.int32),
            entry_site=cols.astype(np.int32),
            entry_time=cost[rows, cols].astype(np.float64),
            threshold_s=float(threshold_s),
        )

    @cached_property
    def covers(self) -> sp.csc_matrix:
        """(demand, sites) boolean: the site covers the demand node."""
        shape = (self.demand_node.size, self.site_node.size)
        data = np.ones(self.entry_site.size, dtype=bool)
        return sp.csc_matrix((data, (self.entry_demand, self.entry_site)), shape=shape)

    def covered_rows(
        self, open_sites: Sequence[int] | NDArray[np.integer[Any]]
    ) -> NDArray[np.bool_]:
        """Per demand node: covered when ``open_sites`` (site indices) are open."""
        idx = np.asarray(open_sites, dtype=np.int64)
        if idx.size == 0:
            return np.zeros(self.demand_node.size, dtype=bool)
        return np.asarray(self.covers[:, idx].sum(axis=1)).ravel() > 0

    def covered_by(self, open_sites: Sequence[int] | NDArray[np.integer[Any]]) -> float:
        """People covered when ``open_sites`` (site indices) are open."""
        return float(self.weight[self.covered_rows(open_sites)].sum())

    @property
    def candidates(self) -> int:
        return int((~self.fixed).sum())


@dataclass(frozen=True)
class Reduction:
    """The reduced problem the exact model is solved on (see :func:`reduce`).

    Attributes
    ----------
    columns
        Site indices kept, one per distinct undominated coverage.
    cover
        (rows, columns) boolean; a row is a group of demand nodes left to cover (not
        covered by the existing stations) that the same columns cover.
    weight
        People per row.
    counts
        How many candidates each step left: ``candidates``, ``with_gain``,
        ``distinct``, ``undominated``, ``solved_on``; and ``demand_left`` (demand
        nodes not yet covered), ``rows`` (their groups).
    """

    columns: NDArray[np.int64]
    cover: sp.csc_matrix
    weight: FloatArray
    counts: dict[str, int]

    @property
    def exact(self) -> bool:
        return self.counts["solved_on"] == self.counts["undominated"]


@dataclass(frozen=True)
class SitingResult:
    model: Model
    threshold_min: float
    instance: SitingInstance
    new_sites: tuple[int, ...]  # site indices chosen beyond the fixed ones, by gain
    gains: tuple[float, ...]  # people each adds, in that order (they sum to the gain)
    requested: int | None
    covered_before: float
    covered_after: float
    uncoverable: float  # people no site can reach within the threshold
    status: str
    reduction: Reduction = field(repr=False)

    @property
    def new_nodes(self) -> Int32Array:
        return self.instance.site_node[list(self.new_sites)].astype(np.int32)


# -- building the instance ---------------------------------------------------------------
def candidate_nodes(graph: RoadGraph, *, resolution: int) -> Int32Array:
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
    candidate_resolution: int | None = None,
    max_pairs: int = MAX_PAIRS,
    progress: bool | None = None,
) -> SitingInstance:
    """The sparse form of the problem (see the module).

    Parameters
    ----------
    graph, demand, stations
        Road graph, demand tied to it, existing stations (fixed).
    threshold_min
        Service standard in minutes, in (0, 60].
    candidates
        Candidate node indices; default every road node (or see ``candidate_resolution``).
    candidate_resolution
        One candidate per H3 cell at this resolution instead of every node.
    max_pairs
        With the default candidates (every road node): when the (demand, site) pairs
        within the threshold would exceed this (a long threshold and few stations), one
        node per H3 cell is taken instead, at resolution 9, else 8, else 7; the instance
        says which (:attr:`SitingInstance.candidate_resolution`).
    progress
        Progress bar over the searches (default: on a terminal).
    """
    if not (isinstance(threshold_min, int | float) and 0 < threshold_min <= 60):
        raise InvalidInput(
            "threshold must be minutes in (0, 60]", details={"threshold": threshold_min}
        )
    fixed_nodes = np.unique(station_nodes(graph, stations)[0])
    on = demand.on_network & (demand.surface.population > 0)
    nodes, inverse = np.unique(demand.node[on], return_inverse=True)
    weight = np.bincount(inverse, weights=demand.surface.population[on], minlength=nodes.size)
    threshold_s = float(threshold_min) * 60.0
    if candidates is not None or candidate_resolution is not None:
        tries: list[int | None] = [candidate_resolution]
    else:
        tries = [None, *COARSER_CANDIDATES]

    def attempt(resolution: int | None, budget: int | None) -> SitingInstance:
        if candidates is not None:
            cand = np.unique(np.asarray(candidates, dtype=np.int32))
        elif resolution is not None:
            cand = candidate_nodes(graph, resolution=resolution)
        else:
            cand = np.arange(graph.node_count, dtype=np.int32)
        sites = np.concatenate([fixed_nodes, np.setdiff1d(cand, fixed_nodes)]).astype(np.int32)
        fixed = np.arange(sites.size) < fixed_nodes.size
        rows, cols, times = reaching_sites(
            graph, nodes, sites, fixed, limit_s=threshold_s, max_pairs=budget, progress=progress
        )
        return SitingInstance(
            site_node=sites,
            fixed=fixed,
            demand_node=nodes.astype(np.int32),
            weight=weight.astype(np.float64),
            entry_demand=rows,
            entry_site=cols,
            entry_time=times,
            threshold_s=threshold_s,
            candidate_resolution=resolution,
        )

    for resolution in tries[:-1]:
        try:
            return attempt(resolution, max_pairs)
        except _TooManyPairs:
            continue  # coarser candidates: fewer sites, fewer pairs
    return attempt(tries[-1], None)


class _TooManyPairs(Exception):
    """More (demand, site) pairs than the budget: try coarser candidates."""


def reaching_sites(
    graph: RoadGraph,
    targets: Int32Array,
    sites: Int32Array,
    fixed: NDArray[np.bool_],
    *,
    limit_s: float,
    max_pairs: int | None = None,
    progress: bool | None = None,
) -> tuple[Int32Array, Int32Array, FloatArray]:
    """Every (target, site) pair with a drive from the site to the target within
    ``limit_s``: (target position, site position, seconds), one reverse search per
    target. A target a ``fixed`` site reaches keeps only its fixed sites' pairs: it is
    covered whatever else opens, and dropping the rest keeps memory small on long
    thresholds. Raises :class:`_TooManyPairs` past ``max_pairs``."""
    from najda.ingest.base import progress as bar

    position = np.full(graph.node_count, -1, dtype=np.int64)
    position[sites] = np.arange(sites.size)
    rows, cols, times = [], [], []
    total = 0
    for i, target in enumerate(
        bar(targets.tolist(), desc="drive times to demand", unit="node", enabled=progress)
    ):
        t = node_travel_times(graph, [target], direction="to", limit_s=limit_s)
        reached = np.flatnonzero(t <= limit_s)
        reached = reached[position[reached] >= 0]
        site = position[reached]
        if fixed[site].any():
            reached, site = reached[fixed[site]], site[fixed[site]]
        total += site.size
        if max_pairs is not None and total > max_pairs:
            raise _TooManyPairs
        rows.append(np.full(site.size, i, dtype=np.int32))
        cols.append(site.astype(np.int32))
        times.append(t[reached])
    if not rows:
        return np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(times)


# -- reducing ------------------------------------------------------------------------------
def reduce(
    instance: SitingInstance, *, add: int | None = None, max_terms: int = MAX_MODEL_TERMS
) -> Reduction:
    """The demand left to cover and the candidates worth a column (module, step 2).

    When rows times columns exceed ``max_terms``, the columns are cut to a pool: the
    greedy choice of ``add`` sites (``None``, for set covering: until all is covered)
    and the columns covering the most people alone.
    """
    inst = instance
    rows = np.flatnonzero(~inst.covered_rows(np.flatnonzero(inst.fixed)))
    free = np.flatnonzero(~inst.fixed)
    counts = {"candidates": int(free.size)}
    cover = inst.covers[rows][:, free].tocsc()
    weight = inst.weight[rows]
    gain = cover.T @ weight
    keep = gain > 0
    counts["with_gain"] = int(keep.sum())
    cover, free = cover[:, keep], free[keep]
    cover.sort_indices()
    distinct = _distinct_columns(cover, _mean_drive(inst, rows, free))
    cover, free = cover[:, distinct], free[distinct]
    counts["distinct"] = int(free.size)
    undominated = ~dominated_columns(cover)
    cover, free = cover[:, undominated].tocsc(), free[undominated]
    counts["undominated"] = int(free.size)
    cover, weight = _merged_rows(cover, weight)
    counts["demand_left"], counts["rows"] = int(rows.size), int(weight.size)
    limit = max(1, max_terms // max(1, weight.size))
    if free.size > limit:
        pool = _pool(cover, weight, add, limit)
        cover, free = cover[:, pool].tocsc(), free[pool]
    counts["solved_on"] = int(free.size)
    return Reduction(columns=free, cover=cover, weight=weight, counts=counts)


def _merged_rows(cover: sp.csc_matrix, weight: FloatArray) -> tuple[sp.csc_matrix, FloatArray]:
    """Rows covered by the same columns as one row (people summed); rows no column
    covers are left out (no choice changes them)."""
    rows = cover.tocsr()
    rows.sort_indices()
    group: dict[bytes, int] = {}
    label = np.empty(rows.shape[0], dtype=np.int64)
    for i in range(rows.shape[0]):
        key = rows.indices[rows.indptr[i] : rows.indptr[i + 1]].tobytes()
        label[i] = group.setdefault(key, len(group)) if key else -1
    keep = label >= 0
    merged = np.bincount(label[keep], weights=weight[keep], minlength=len(group)).astype(np.float64)
    first = np.unique(label[keep], return_index=True)[1]
    return rows[np.flatnonzero(keep)[first]].tocsc(), merged


def _mean_drive(
    inst: SitingInstance, rows: NDArray[np.int64], sites: NDArray[np.int64]
) -> FloatArray:
    """Per site: people-weighted mean drive to the remaining demand it covers."""
    row_pos = np.full(inst.demand_node.size, -1)
    row_pos[rows] = np.arange(rows.size)
    site_pos = np.full(inst.site_node.size, -1)
    site_pos[sites] = np.arange(sites.size)
    ok = (row_pos[inst.entry_demand] >= 0) & (site_pos[inst.entry_site] >= 0)
    col = site_pos[inst.entry_site[ok]]
    w = inst.weight[inst.entry_demand[ok]]
    people = np.bincount(col, weights=w, minlength=sites.size)
    drive = np.bincount(col, weights=w * inst.entry_time[ok], minlength=sites.size)
    return np.divide(drive, people, out=np.zeros(sites.size), where=people > 0)


def _distinct_columns(cover: sp.csc_matrix, score: FloatArray) -> NDArray[np.int64]:
    """One column per distinct set of rows: the one with the lowest score (then index)."""
    best: dict[bytes, int] = {}
    for j in np.lexsort((np.arange(score.size), score)).tolist():
        key = cover.indices[cover.indptr[j] : cover.indptr[j + 1]].tobytes()
        best.setdefault(key, j)
    return np.sort(np.fromiter(best.values(), dtype=np.int64, count=len(best)))


def dominated_columns(cover: sp.csc_matrix) -> NDArray[np.bool_]:
    """Per column: its rows are a strict subset of another column's (columns distinct,
    none empty).

    A column's dominator must cover the column's rarest row (the one the fewest columns
    cover), so each column is compared only with the columns covering its rarest row:
    columns are grouped by that row and one sparse product per group counts overlaps.
    """
    cover = cover.tocsc()
    cover.sort_indices()
    n_rows, n_cols = cover.shape
    out = np.zeros(n_cols, dtype=bool)
    if n_cols == 0:
        return out
    by_row = cover.tocsr()
    degree = np.diff(by_row.indptr).astype(np.int64)
    key = degree[cover.indices] * n_rows + cover.indices
    rarest = np.minimum.reduceat(key, cover.indptr[:-1]) % n_rows
    size = np.diff(cover.indptr)
    ints = cover.astype(np.int32)
    order = np.argsort(rarest, kind="stable")
    starts = np.flatnonzero(np.r_[True, rarest[order][1:] != rarest[order][:-1]])
    for group in np.split(order, starts[1:]):
        row = int(rarest[group[0]])
        rivals = by_row.indices[by_row.indptr[row] : by_row.indptr[row + 1]]
        overlap = (ints[:, group].T @ ints[:, rivals]).tocoo()
        j, k = group[overlap.row], rivals[overlap.col]
        inside = (overlap.data == size[j]) & (size[k] > size[j])
        out[j[inside]] = True
    return out


def _pool(
    cover: sp.csc_matrix, weight: FloatArray, add: int | None, limit: int
) -> NDArray[np.int64]:
    """The greedy choice of ``add`` columns (``None``: until every row is covered, so a
    set covering model on the pool stays feasible), then the columns covering the most
    alone, up to ``limit`` columns (more when the greedy choice alone needs more)."""
    chosen = greedy(cover, weight, add if add is not None else cover.shape[1])
    alone = np.argsort(-(cover.T @ weight), kind="stable").tolist()
    pool = list(dict.fromkeys([*chosen, *alone]))[: max(limit, len(chosen))]
    return np.sort(np.asarray(pool, dtype=np.int64))


def greedy(cover: sp.csc_matrix, weight: FloatArray, add: int) -> list[int]:
    """Columns picked one at a time, each covering the most people not yet covered."""
    left = weight.astype(np.float64).copy()
    chosen: list[int] = []
    for _ in range(min(add, cover.shape[1])):
        gain = cover.T @ left
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        chosen.append(j)
        left[cover[:, j].indices] = 0.0
    return chosen


# -- solving -------------------------------------------------------------------------------
def solve(
    instance: SitingInstance,
    *,
    model: Model,
    add: int | None = None,
    time_limit_s: float = SOLVER_TIME_LIMIT_S,
    max_terms: int = MAX_MODEL_TERMS,
) -> SitingResult:
    """Solve: ``mclp`` adds ``add`` sites, ``lscp`` the fewest for full coverage.

    CBC stops after ``time_limit_s`` seconds; an answer not proven optimal by then (or
    no answer at all) raises :class:`SolverTimeLimit`. ``max_terms`` bounds the model
    spopt writes (see :func:`reduce`).
    """
    if model not in ("mclp", "lscp"):
        raise InvalidInput("model must be mclp or lscp", details={"model": model})
    n_new = _check_add(add, instance) if model == "mclp" else None
    fixed_idx = np.flatnonzero(instance.fixed)
    coverable = instance.covers.sum(axis=1).A1 > 0
    red = reduce(instance, add=n_new, max_terms=max_terms)
    picked, status = _solve_reduced(red, instance, model, n_new, time_limit_s)
    chosen, gains = _useful(instance, [int(red.columns[j]) for j in picked])
    return SitingResult(
        model=model,
        threshold_min=instance.threshold_s / 60.0,
        instance=instance,
        new_sites=tuple(chosen),
        gains=tuple(gains),
        requested=n_new,
        covered_before=instance.covered_by(fixed_idx),
        covered_after=instance.covered_by([*fixed_idx.tolist(), *chosen]),
        uncoverable=float(instance.weight[~coverable].sum()),
        status=status,
        reduction=red,
    )


def _solve_reduced(
    red: Reduction, instance: SitingInstance, model: Model, add: int | None, time_limit_s: float
) -> tuple[list[int], str]:
    """Column positions chosen by the exact model on the reduced problem, and its status."""
    n_cols = red.columns.size
    if model == "mclp" and n_cols <= (add or 0):
        return list(range(n_cols)), "Optimal"  # every useful column fits: nothing to choose
    if red.weight.size == 0:
        return [], "Optimal"  # the existing stations already cover all anyone can
    if model == "lscp":
        return _run_spopt(red.cover, None, model, None, time_limit_s, instance)
    return _run_spopt(red.cover, red.weight, model, add, time_limit_s, instance)


def _run_spopt(
    cover: sp.spmatrix,
    weight: FloatArray | None,
    model: Model,
    add: int | None,
    time_limit_s: float,
    instance: SitingInstance,
) -> tuple[list[int], str]:
    import pulp
    from spopt.locate import LSCP, MCLP

    # coverage is all the model needs: cost 0 where a site covers a row, 2 elsewhere
    cost = np.where(cover.toarray(), 0.0, 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # PuLP 4 API notices
        solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s)
        if model == "mclp":
            problem = MCLP.from_cost_matrix(
                cost, weight, service_radius=1.0, p_facilities=int(add or 0)
            )
        else:
            problem = LSCP.from_cost_matrix(cost, service_radius=1.0)
        try:
            problem.solve(solver, results=False)
        except RuntimeError:  # spopt's word for "not solved"; CBC ran out of time
            if problem.problem.status != pulp.LpStatusNotSolved:
                raise
    if problem.problem.sol_status != pulp.LpSolutionOptimal:
        raise _time_limit_error(instance, time_limit_s, cost.shape)
    picked = [j for j, var in enumerate(problem.fac_vars) if (var.value() or 0) > 0.5]
    return picked, pulp.LpStatus[problem.problem.status]


def _useful(instance: SitingInstance, chosen: list[int]) -> tuple[list[int], list[float]]:
    """The chosen sites that add people, ordered by what each adds after the ones before
    (the most first), with those gains; a site adding no one is left out."""
    left = instance.weight.copy()
    left[instance.covered_rows(np.flatnonzero(instance.fixed))] = 0.0
    order: list[int] = []
    gains: list[float] = []
    pending = list(chosen)
    while pending:
        adds = [float(left[instance.covers[:, s].indices].sum()) for s in pending]
        k = int(np.argmax(adds))
        if adds[k] <= 0:
            break  # the rest add no one: never propose them
        site = pending.pop(k)
        order.append(site)
        gains.append(adds[k])
        left[instance.covers[:, site].indices] = 0.0
    return order, gains


def _time_limit_error(
    instance: SitingInstance, time_limit_s: float, shape: tuple[int, int]
) -> SolverTimeLimit:
    return SolverTimeLimit(
        f"the siting solver found no proven answer within {time_limit_s:g} s: "
        "ask for fewer new sites or a shorter threshold",
        details={
            "time_limit_s": time_limit_s,
            "candidates": instance.candidates,
            "demand_nodes": int(instance.demand_node.size),
            "solved_on": {"rows": int(shape[0]), "columns": int(shape[1])},
        },
    )


def _check_add(add: int | None, instance: SitingInstance) -> int:
    free = instance.candidates
    if isinstance(add, bool) or not isinstance(add, int) or not 1 <= add <= MAX_NEW:
        raise InvalidInput(f"add must be an integer from 1 to {MAX_NEW}", details={"add": add})
    if add > free:
        raise Unprocessable(
            f"only {free} candidate sites are available",
            code="too_few_candidates",
            details={"add": add, "free": free},
        )
    return add


# -- describing ----------------------------------------------------------------------------
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


def result_summary(
    result: SitingResult, graph: RoadGraph, population: float, placed: float
) -> dict[str, Any]:
    """Numbers and the new sites, for JSON.

    Percentages come with their denominator: ``pct_*`` of the region's population
    (``population``: every person of its governorates, placed in a cell or not),
    ``pct_placed_*`` of the people the population layer puts in cells (``placed``), and
    ``pct_on_network_*`` of the people near a road (``on_network``).
    """
    inst = result.instance
    sites = [
        {
            "rank": k + 1,
            "site": int(j),
            "road_node_id": int(graph.node_id[inst.site_node[j]]),
            "lon": float(graph.lon[inst.site_node[j]]),
            "lat": float(graph.lat[inst.site_node[j]]),
            "gain": gain,
        }
        for k, (j, gain) in enumerate(zip(result.new_sites, result.gains, strict=True))
    ]
    on_network = float(inst.weight.sum())
    before, after = result.covered_before, result.covered_after
    return {
        "model": result.model,
        "threshold_min": result.threshold_min,
        "status": result.status,
        "exact": result.reduction.exact,
        "existing_sites": int(inst.fixed.sum()),
        "candidates": inst.candidates,
        "candidate_resolution": inst.candidate_resolution,
        "reduction": result.reduction.counts,
        "demand_nodes": int(inst.demand_node.size),
        "requested": result.requested,
        "added": len(sites),
        "new_sites": sites,
        "population": population,
        "placed": placed,
        "on_network": on_network,
        "covered_before": before,
        "covered_after": after,
        "gain": after - before,
        "uncoverable": result.uncoverable,
        "pct_before": _share(before, population),
        "pct_after": _share(after, population),
        "pct_placed_before": _share(before, placed),
        "pct_placed_after": _share(after, placed),
        "pct_on_network_before": _share(before, on_network),
        "pct_on_network_after": _share(after, on_network),
    }


def _share(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 4) if whole > 0 else None
