"""Station siting (spopt) against exhaustive search on the real Al-Muhammadiyah roads."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
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
    assert result.status == "Optimal"
    assert len(result.new_sites) == add
    assert not inst.fixed[list(result.new_sites)].any()
    assert result.covered_after == pytest.approx(_best_by_exhaustion(inst, add), rel=1e-9)
    assert result.covered_after > result.covered_before


def test_set_covering_equals_exhaustive_search(small_instance: siting.SitingInstance) -> None:
    inst = small_instance
    result = siting.solve(inst, model="lscp")
    coverable = inst.covers.any(axis=1)
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


def test_bad_siting_requests_are_refused(small_instance: siting.SitingInstance) -> None:
    with pytest.raises(InvalidInput):
        siting.solve(small_instance, model="mclp", add=0)
    with pytest.raises(Unprocessable):
        siting.solve(small_instance, model="mclp", add=int((~small_instance.fixed).sum()) + 1)
    with pytest.raises(InvalidInput):
        siting.solve(small_instance, model="pmedian", add=1)  # type: ignore[arg-type]


def _hard_instance() -> siting.SitingInstance:
    """A random maximal-covering instance CBC cannot prove optimal in a second: 200
    candidate sites, 400 demand rows, each site covering about 4 % of them."""
    rng = np.random.default_rng(7)
    demand, sites = 400, 200
    return siting.SitingInstance(
        site_node=np.arange(sites, dtype=np.int32),
        fixed=np.zeros(sites, dtype=bool),
        demand_node=np.arange(demand, dtype=np.int32),
        weight=rng.integers(1, 1000, demand).astype(np.float64),
        cost=np.where(rng.random((demand, sites)) < 0.04, 60.0, np.inf),
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
    assert error.details == {"time_limit_s": 0.5, "candidates": 200, "demand_nodes": 400}
