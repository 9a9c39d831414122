"""The compiled bounded Dijkstra (najda.routing.kernel) against scipy's csgraph dijkstra:
the same times to the last bit on random graphs, sources, offsets and bounds, resumed
bounds, the stop at the wanted units, and rankings equal to the scipy path."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from najda.routing import kernel
from najda.routing.engine import Quota, UnitPosition, rank_units
from najda.routing.graph import RoadGraph, Search, search_for
from najda.routing.synthetic import generate_city

pytestmark = pytest.mark.skipif(not kernel.AVAILABLE, reason="numba kernel not in use")


def random_search(rng: np.random.Generator, n: int, m: int, ties: bool) -> Search:
    """A random directed graph (self loops and parallel edges included, as a road table
    may have them); with ``ties``, weights from a few values so equal paths abound."""
    src = rng.integers(0, n, m).astype(np.int32)
    dst = rng.integers(0, n, m).astype(np.int32)
    weight = rng.choice([0.5, 1.0, 1.5, 2.0, 3.0], m) if ties else rng.uniform(0.01, 10.0, m)
    return Search(n, src, dst, weight)


def random_sources(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    k = int(rng.integers(1, 5))
    nodes = rng.integers(0, n, k).astype(np.int32)  # repeats allowed
    offsets = np.where(rng.random(k) < 0.3, 0.0, rng.uniform(0.0, 4.0, k))
    return nodes, offsets


def check_tree(search: Search, dist: np.ndarray, pred: np.ndarray, offsets_at: dict) -> None:
    """Every reached node's predecessor gives its time exactly (a shortest-path tree)."""
    n = search.n
    weight = {(int(r), int(c)): float(w) for r, c, w in zip(search.rows, search.cols, search.weight, strict=True)}  # fmt: skip
    for x in np.flatnonzero(np.isfinite(dist[:n])):
        p = int(pred[x])
        if p == n:
            assert dist[x] == offsets_at[int(x)]
        else:
            assert dist[p] + weight[(p, int(x))] == dist[x]


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 60),
    density=st.floats(0.0, 5.0),
    ties=st.booleans(),
    limits=st.lists(
        st.one_of(st.just(math.inf), st.just(0.0), st.floats(0.0, 40.0)), min_size=1, max_size=4
    ),
)
def test_compiled_search_equals_scipy_dijkstra(
    seed: int, n: int, density: float, ties: bool, limits: list[float]
) -> None:
    rng = np.random.default_rng(seed)
    search = random_search(rng, n, int(density * n), ties)
    assert search.csr is not None
    nodes, offsets = random_sources(rng, n)
    offsets_at: dict[int, float] = {}
    for x, o in zip(nodes.tolist(), offsets.tolist(), strict=True):
        offsets_at[x] = min(o, offsets_at.get(x, math.inf))
    for limit in limits:
        ref_dist, ref_pred = search.run_scipy(nodes, offsets, limit=limit)
        dist, pred = search.run(nodes, offsets, limit=limit)
        assert np.array_equal(dist, ref_dist)  # bit for bit, inf where scipy has inf
        assert np.array_equal(pred == -9999, ref_pred == -9999)
        check_tree(search, dist, pred, offsets_at)
    # one walker, its bound grown (and shrunk: a smaller bound settles nothing new)
    with search.walker(nodes, offsets) as walker:
        reached = np.full(n, math.inf)
        for limit in limits:
            walker.advance(limit)
            ref_dist, _ = search.run_scipy(nodes, offsets, limit=max(limit, walker.limit))
            assert np.array_equal(walker.dist, ref_dist[:n])
            reached = walker.dist.copy()
        check_tree(search, np.append(reached, 0.0), np.append(walker.pred, -9999), offsets_at)
    # the scratch went back to the pool clean
    again, _ = search.run(nodes, offsets, limit=0.0)
    assert np.array_equal(again, search.run_scipy(nodes, offsets, limit=0.0)[0])


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 50),
    units=st.integers(1, 12),
    groups=st.integers(1, 3),
    ties=st.booleans(),
)
def test_stop_at_the_wanted_units_gives_the_tightest_bound(
    seed: int, n: int, units: int, groups: int, ties: bool
) -> None:
    rng = np.random.default_rng(seed)
    search = random_search(rng, n, int(rng.integers(0, 4 * n)), ties)
    nodes, offsets = random_sources(rng, n)
    full, _ = search.run_scipy(nodes, offsets)
    unode = np.where(rng.random((units, 3)) < 0.7, rng.integers(0, n, (units, 3)), -1)
    uadd = np.where(unode >= 0, rng.choice([0.0, 0.5, 1.0, 2.5], (units, 3)), math.inf)
    direct = np.where(rng.random(units) < 0.2, rng.choice([0.0, 1.0, 3.0], units), math.inf)
    member = rng.random((units, groups)) < 0.6
    need = rng.integers(0, 4, groups)
    # what it must find: each unit's true ETA, then per group its need-th smallest
    true_eta = np.minimum(
        direct, np.where(unode >= 0, uadd + full[np.maximum(unode, 0)], math.inf).min(axis=1)
    )
    want = 0.0
    for g in range(groups):
        etas = np.sort(true_eta[member[:, g]])
        if need[g] > 0:
            want = max(want, etas[need[g] - 1] if need[g] <= etas.size else math.inf)
    with search.walker(nodes, offsets) as walker:
        eta = direct.copy()
        bound = walker.until_certain(unode.astype(np.int32), uadd, eta, member, need)
        if need.max() == 0:
            assert bound == math.inf or bound == want  # nothing wanted: no constraint
        else:
            assert bound == want
        if math.isfinite(bound):
            # everything under the bound is settled, with scipy's times; nodes exactly
            # at it are settled by advancing to it
            under = full[:n] < bound
            assert np.array_equal(walker.dist[under], full[:n][under])
            walker.advance(bound)
            ref, _ = search.run_scipy(nodes, offsets, limit=bound)
            assert np.array_equal(walker.dist, ref[:n])
        else:
            walker.advance(math.inf)
            assert np.array_equal(walker.dist, full[:n])
    # the per-node target links were cleared
    assert search.csr is not None
    assert all((s.tfirst == -1).all() for s in search.csr._pool)


# -- rankings: the compiled path against the scipy path ----------------------------------------


@pytest.fixture(scope="module")
def town() -> RoadGraph:
    return generate_city(nodes=2500, seed=23).to_graph(snap_limit_m=300.0)


def random_units(graph: RoadGraph, rng: np.random.Generator, n: int) -> list[UnitPosition]:
    nodes = rng.integers(0, graph.node_count, n)
    xy = graph.frame.to_xy(graph.lon[nodes], graph.lat[nodes]) + rng.uniform(-40, 40, (n, 2))
    lonlat = graph.to_lonlat(xy)
    return [UnitPosition(i + 1, float(x), float(y)) for i, (x, y) in enumerate(lonlat)]


def scipy_path(graph: RoadGraph) -> Search:
    search = search_for(graph, graph.travel_time_s, ("free_flow",), reverse=True)
    return search


def view(ranking):  # type: ignore[no-untyped-def]
    return (
        [(r.unit_id, r.eta_s) for r in ranking.ranked],
        [(x.unit_id, x.reason) for x in ranking.excluded],
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 10), n=st.integers(1, 40))
def test_rankings_equal_the_scipy_path(town: RoadGraph, seed: int, k: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    units = random_units(town, rng, n)
    point = random_units(town, rng, 1)[0]
    at = (point.lon, point.lat)
    quotas = [Quota(frozenset(u.id for u in units if u.id % 3 == r), 1) for r in range(3)]
    search = scipy_path(town)
    csr = search.csr
    compiled = rank_units(town, at, units, k)
    compiled_q = rank_units(town, at, units, k, quotas=quotas)
    try:
        search.csr = None  # the scipy path: a new csgraph search per bound
        reference = rank_units(town, at, units, k)
        reference_q = rank_units(town, at, units, k, quotas=quotas)
    finally:
        search.csr = csr
    assert view(compiled) == view(reference)
    assert compiled.searches == 1
    if compiled.ranked and math.isfinite(compiled.limit_s):
        # the bound is the k-th ETA itself, never more than the scipy path's
        assert compiled.limit_s == compiled.ranked[-1].eta_s <= reference.limit_s
    # with quotas: the same exclusions, and the certain units a prefix of the same order
    a, b = view(compiled_q), view(reference_q)
    assert a[1] == b[1]
    short, long_ = sorted([a[0], b[0]], key=len)
    assert long_[: len(short)] == short


def test_routes_equal_the_scipy_path(town: RoadGraph) -> None:
    # predecessors may differ only between paths of exactly equal time, which this
    # jittered network (seeded) does not have: distances and routes are the same
    rng = np.random.default_rng(77)
    units = random_units(town, rng, 50)
    search = scipy_path(town)
    csr = search.csr
    for p in random_units(town, rng, 20):
        compiled = rank_units(town, (p.lon, p.lat), units, 8)
        try:
            search.csr = None
            reference = rank_units(town, (p.lon, p.lat), units, 8)
        finally:
            search.csr = csr
        assert [(r.unit_id, r.eta_s, r.distance_m) for r in compiled.ranked] == [
            (r.unit_id, r.eta_s, r.distance_m) for r in reference.ranked
        ]
        for a, b in zip(compiled.ranked, reference.ranked, strict=True):
            assert np.array_equal(a.route.edge_ids, b.route.edge_ids)


def test_threads_rank_concurrently_with_their_own_scratch(town: RoadGraph) -> None:
    rng = np.random.default_rng(4)
    units = random_units(town, rng, 60)
    points = [(p.lon, p.lat) for p in random_units(town, rng, 24)]
    expected = [view(rank_units(town, p, units, 5)) for p in points]
    results: dict[int, list] = {}
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            out = []
            for _ in range(5):
                out = [view(rank_units(town, p, units, 5)) for p in points]
            results[t] = out
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(results[t] == expected for t in range(4))
    pool = scipy_path(town).csr._pool  # type: ignore[union-attr]
    assert 1 <= len(pool) <= 4
    assert all(np.isinf(s.dist).all() and (s.pos == -1).all() for s in pool)


def test_the_kernel_is_ready_when_a_graph_is_built(town: RoadGraph) -> None:
    scipy_path(town)
    assert kernel.compile_seconds is not None and kernel.compile_seconds > 0
