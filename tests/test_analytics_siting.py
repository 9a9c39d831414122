"""Station siting against exhaustive search: on the real Al-Muhammadiyah roads, and on
generated instances where the reduction (zero-gain, duplicate and dominated candidates
dropped, equal rows merged) must keep the optimum that spopt finds on the whole set."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sqlalchemy import Engine

from najda.analytics import coverage as cov
from najda.analytics import siting
from najda.analytics.population import population_surface
from najda.errors import InvalidInput, Unprocessable
from najda.routing.graph import load_graph


@pytest.fixture
def small_instance(riyadh_engine: Engine) -> siting.SitingInstance:
    graph = load_graph(riyadh_engine, "riyadh")
    demand = cov.attach(graph, population_surface(riyadh_engine, "riyadh", resolution=9))
    near = [
        s
        for s in cov.load_stations(riyadh_engine, "riyadh")
        if (s.snap_distance_m or 1e9) <= graph.snap_limit_m
    ]
    # one existing station fixed, about fifteen candidates (one per H3 res-8 cell)
    return siting.build_instance(graph, demand, near[:1], threshold_min=2.0, candidate_resolution=8)


def _best_by_exhaustion(inst: siting.SitingInstance, add: int) -> float:
    fixed = list(np.flatnonzero(inst.fixed))
    free = np.flatnonzero(~inst.fixed)
    return max(inst.covered_by(fixed + list(c)) for c in itertools.combinations(free, add))


@pytest.mark.parametrize("add", [1, 2, 3])
def test_maximal_covering_equals_exhaustive_search(
    small_instance: siting.SitingInstance, add: int
) -> None:
    inst = small_instance
    assert inst.fixed.sum() == 1 and 10 <= (~inst.fixed).sum() <= 40
    result = siting.solve(inst, model="mclp", add=add)
    assert result.status == "Optimal" and result.reduction.exact
    assert len(result.new_sites) == add
    assert not inst.fixed[list(result.new_sites)].any()
    assert result.covered_after == pytest.approx(_best_by_exhaustion(inst, add), rel=1e-9)
    assert result.covered_after > result.covered_before
    assert sum(result.gains) == pytest.approx(result.covered_after - result.covered_before)
    assert list(result.gains) == sorted(result.gains, reverse=True)


def test_set_covering_equals_exhaustive_search(small_instance: siting.SitingInstance) -> None:
    inst = small_instance
    result = siting.solve(inst, model="lscp")
    coverable = inst.covers.sum(axis=1).A1 > 0
    target = float(inst.weight[coverable].sum())
    assert result.covered_after == pytest.approx(target)
    assert result.uncoverable == pytest.approx(float(inst.weight[~coverable].sum()))
    fixed = list(np.flatnonzero(inst.fixed))
    free = np.flatnonzero(~inst.fixed)
    fewest = next(
        k
        for k in range(len(free) + 1)
        if any(
            inst.covered_by(fixed + list(c)) >= target - 1e-6
            for c in itertools.combinations(free, k)
        )
    )
    assert len(result.new_sites) == fewest


def _geometric_instance(seed: int, sites: int, demand: int, fixed: int) -> siting.SitingInstance:
    """Sites and demand points in a square, covering within a radius: like roads, many
    candidates nest (a site near the edge covers a subset of one nearer the middle)."""
    rng = np.random.default_rng(seed)
    site_xy, demand_xy = rng.random((sites, 2)), rng.random((demand, 2))
    cost = np.hypot(*(demand_xy[:, None, :] - site_xy[None, :, :]).transpose(2, 0, 1))
    is_fixed = np.arange(sites) < fixed
    return siting.SitingInstance.from_cost(
        cost, rng.integers(1, 500, demand).astype(float), threshold_s=0.22, fixed=is_fixed
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_reduction_keeps_the_optimum_of_exhaustive_search(seed: int) -> None:
    inst = _geometric_instance(seed, sites=16, demand=60, fixed=2)
    for add in (1, 2, 3):
        result = siting.solve(inst, model="mclp", add=add)
        assert result.covered_after == pytest.approx(_best_by_exhaustion(inst, add), rel=1e-12)
    counts = siting.reduce(inst, add=3).counts
    assert counts["undominated"] < counts["candidates"]  # the reduction did something


def test_the_reduction_keeps_the_optimum_of_spopt_on_every_candidate() -> None:
    import pulp
    from spopt.locate import MCLP

    inst = _geometric_instance(11, sites=120, demand=300, fixed=5)
    counts = siting.reduce(inst, add=6).counts
    assert counts["solved_on"] < counts["candidates"] / 2
    ours = siting.solve(inst, model="mclp", add=6)
    cost = np.where(inst.covers.toarray(), 0.0, 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # PuLP 4 API notices
        full = MCLP.from_cost_matrix(
            cost,
            inst.weight,
            service_radius=1.0,
            p_facilities=6 + int(inst.fixed.sum()),
            predefined_facilities_arr=inst.fixed.astype(int),
        )
        full.solve(pulp.PULP_CBC_CMD(msg=False))
    opened = [j for j, var in enumerate(full.fac_vars) if (var.value() or 0) > 0.5]
    assert ours.covered_after == pytest.approx(inst.covered_by(opened), rel=1e-12)


def test_a_site_that_adds_no_one_is_never_proposed() -> None:
    # three demand points; the fixed site covers the first; candidates: one covering the
    # second, one covering the third, one covering only what the fixed site covers, and
    # one covering nobody
    inf = np.inf
    cost = np.array(
        [
            [60.0, inf, inf, 60.0, inf],
            [inf, 60.0, inf, inf, inf],
            [inf, inf, 60.0, inf, inf],
        ]
    )
    fixed = np.array([True, False, False, False, False])
    inst = siting.SitingInstance.from_cost(
        cost, np.array([5.0, 7.0, 3.0]), threshold_s=120.0, fixed=fixed
    )
    result = siting.solve(inst, model="mclp", add=4)
    assert (result.requested, result.new_sites, result.gains) == (4, (1, 2), (7.0, 3.0))
    assert result.covered_after == 15.0
    lscp = siting.solve(inst, model="lscp")
    assert set(lscp.new_sites) == {1, 2}
    # everything already covered: nothing to add, nothing proposed
    covered = siting.SitingInstance.from_cost(
        cost[:1], np.array([5.0]), threshold_s=120.0, fixed=fixed
    )
    assert siting.solve(covered, model="mclp", add=2).new_sites == ()


def test_bad_siting_requests_are_refused(small_instance: siting.SitingInstance) -> None:
    with pytest.raises(InvalidInput):
        siting.solve(small_instance, model="mclp", add=0)
    with pytest.raises(Unprocessable):
        siting.solve(small_instance, model="mclp", add=int((~small_instance.fixed).sum()) + 1)
    with pytest.raises(InvalidInput):
        siting.solve(small_instance, model="pmedian", add=1)  # type: ignore[arg-type]


def _hard_instance() -> siting.SitingInstance:
    """A random maximal-covering instance CBC cannot prove optimal in a second: 200
    candidate sites, 400 demand rows, each site covering about 4 % of them (random
    sets hardly nest, so the reduction leaves it hard)."""
    rng = np.random.default_rng(7)
    demand, sites = 400, 200
    return siting.SitingInstance.from_cost(
        np.where(rng.random((demand, sites)) < 0.04, 60.0, np.inf),
        rng.integers(1, 1000, demand).astype(np.float64),
        threshold_s=120.0,
    )


def test_the_solver_stops_at_its_time_limit_with_a_clear_error() -> None:
    # unbounded, CBC works on this for well over a minute; the error says the limit
    # stopped it (no timing assert: pytest-timeout catches a limit that is ignored)
    with pytest.raises(siting.SolverTimeLimit) as caught:
        siting.solve(_hard_instance(), model="mclp", add=12, time_limit_s=0.5)
    error = caught.value
    assert (error.status, error.code) == (422, "solver_time_limit")
    assert "0.5 s" in error.message
    assert error.details["time_limit_s"] == 0.5
    assert (error.details["candidates"], error.details["demand_nodes"]) == (200, 400)
    assert error.details["solved_on"]["columns"] > 150


def test_dominated_columns_are_those_inside_another() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        dense = rng.random((12, 30)) < 0.3
        dense[rng.integers(0, 12, 30), np.arange(30)] = True  # no empty column
        sets = [frozenset(np.flatnonzero(dense[:, j])) for j in range(30)]
        keep = [j for j in range(30) if sets[j] not in sets[:j]]  # distinct columns
        cover = sp.csc_matrix(dense[:, keep])
        expected = [any(sets[j] < sets[k] for k in keep) for j in keep]
        assert siting.dominated_columns(cover).tolist() == expected


def test_long_thresholds_keep_few_pairs(riyadh_engine: Engine) -> None:
    graph = load_graph(riyadh_engine, "riyadh")
    demand = cov.attach(graph, population_surface(riyadh_engine, "riyadh", resolution=9))
    stations = cov.load_stations(riyadh_engine, "riyadh")
    inst = siting.build_instance(graph, demand, stations, threshold_min=3.0)
    assert inst.candidate_resolution is None and inst.candidates > 800  # every road node
    # demand an existing station reaches keeps only the stations' pairs
    by_fixed = inst.covered_rows(np.flatnonzero(inst.fixed))
    assert by_fixed.any() and not by_fixed.all()
    assert inst.fixed[inst.entry_site[by_fixed[inst.entry_demand]]].all()
    # past the pair budget, one candidate per H3 cell (res 9, else coarser)
    coarse = siting.build_instance(graph, demand, [], threshold_min=3.0, max_pairs=200)
    assert coarse.candidate_resolution in siting.COARSER_CANDIDATES
    nodes = siting.candidate_nodes(graph, resolution=coarse.candidate_resolution)
    assert coarse.candidates == nodes.size < inst.candidates
    assert siting.solve(coarse, model="mclp", add=2).covered_after > 0


def test_a_pool_keeps_set_covering_feasible_and_says_it_is_not_proven() -> None:
    inst = _geometric_instance(4, sites=150, demand=200, fixed=0)
    whole = siting.solve(inst, model="lscp")
    assert whole.reduction.exact
    pooled = siting.solve(inst, model="lscp", max_terms=200)  # about one column per row
    assert not pooled.reduction.exact
    assert pooled.reduction.counts["solved_on"] < pooled.reduction.counts["undominated"]
    assert pooled.covered_after == pytest.approx(whole.covered_after)  # all coverable
    assert len(pooled.new_sites) >= len(whole.new_sites)
    mclp = siting.solve(inst, model="mclp", add=3, max_terms=200)
    assert not mclp.reduction.exact and len(mclp.new_sites) == 3
