"""Unit snaps cached per position, lazy route geometry, and bounded rankings (quotas)
that fill a response plan exactly as ranking every unit would."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from najda.dispatch.plans import Located, Requirement, UnitState, fill_plan
from najda.dispatch.travel import plan_quotas, rank_located
from najda.errors import InvalidInput
from najda.routing.engine import Quota, Route, UnitPosition, rank_units
from najda.routing.graph import RoadGraph
from najda.routing.snap import UnitSnapCache, snap_points, unit_snap_cache
from najda.routing.synthetic import generate_city
from test_routing_engine import (
    FRAME,
    SQUARE,
    at_m,
    graph_of,
    random_units,
    reference_etas,
    reference_graph,
    two_way,
)


@pytest.fixture(scope="module")
def city() -> RoadGraph:
    return generate_city(nodes=2500, seed=11).to_graph(snap_limit_m=300.0)


@pytest.fixture(scope="module")
def city_ref(city: RoadGraph) -> nx.MultiDiGraph:
    return reference_graph(city.node_id[city.edge_u], city.node_id[city.edge_v], city.travel_time_s)


def _fields(s: object) -> list[np.ndarray]:
    return [
        np.asarray(getattr(s, f))
        for f in ("edge", "fraction", "distance_m", "lon", "lat", "twin", "ok")
    ]


def _same(a: object, b: object) -> bool:
    return all(
        np.array_equal(x, y, equal_nan=True) for x, y in zip(_fields(a), _fields(b), strict=True)
    )


# -- the unit snap cache ---------------------------------------------------------------------


def test_cached_snaps_equal_fresh_snaps_and_moves_are_resnapped(city: RoadGraph) -> None:
    rng = np.random.default_rng(1)
    units = random_units(city, rng, 50, spread_m=200.0)
    ids = [u.id for u in units]
    lon = np.array([u.lon for u in units])
    lat = np.array([u.lat for u in units])
    cache = UnitSnapCache()
    first = cache.snaps(city, ids, lon, lat)
    assert _same(first, snap_points(city, lon, lat))
    assert (cache.hits, cache.misses) == (0, 50)
    again = cache.snaps(city, ids, lon, lat)
    assert _same(again, first) and (cache.hits, cache.misses) == (50, 50)

    # three units move: only they are snapped again, and to their new places
    moved = lon.copy()
    moved[[3, 17, 40]] += 0.004
    after = cache.snaps(city, ids, moved, lat)
    assert (cache.hits, cache.misses) == (97, 53)
    assert _same(after, snap_points(city, moved, lat))
    assert not np.array_equal(after.lon[[3, 17, 40]], first.lon[[3, 17, 40]])

    # a different limit is a different question
    tight = cache.snaps(city, ids, moved, lat, limit_m=1.0)
    assert _same(tight, snap_points(city, moved, lat, limit_m=1.0))
    assert cache.misses == 103 and len(cache) == 50

    # order and subsets of the ids do not matter
    sub = [40, 2, 17]
    part = cache.snaps(city, [ids[i] for i in sub], moved[sub], lat[sub], limit_m=1.0)
    assert _same(part, snap_points(city, moved[sub], lat[sub], limit_m=1.0))


def test_cache_starts_afresh_when_full(city: RoadGraph) -> None:
    cache = UnitSnapCache(maxsize=10)
    units = random_units(city, np.random.default_rng(2), 8)
    lon, lat = [u.lon for u in units], [u.lat for u in units]
    cache.snaps(city, [u.id for u in units], lon, lat)
    other = cache.snaps(city, [u.id + 1 for u in units], lon, lat)
    assert len(cache) == 8 and cache.misses == 16
    assert _same(other, snap_points(city, lon, lat))


def test_the_cache_belongs_to_one_graph(city: RoadGraph) -> None:
    # a new graph version is a new RoadGraph (GraphCache loads it): its cache is empty
    assert unit_snap_cache(city) is unit_snap_cache(city)
    rebuilt = generate_city(nodes=2500, seed=11).to_graph(snap_limit_m=300.0)
    assert unit_snap_cache(rebuilt) is not unit_snap_cache(city)
    assert len(unit_snap_cache(rebuilt)) == 0


def test_rankings_with_cached_snaps_follow_moving_units(
    city: RoadGraph, city_ref: nx.MultiDiGraph
) -> None:
    rng = np.random.default_rng(3)
    node_of = {
        e: (int(city.node_id[city.edge_u[e]]), int(city.node_id[city.edge_v[e]]))
        for e in range(city.edge_count)
    }
    units = random_units(city, rng, 25)
    point = random_units(city, rng, 1)[0]
    where = (point.lon, point.lat)
    for _ in range(4):
        warm = rank_units(city, where, units, 6)
        cold = rank_units(city, where, units, 6, cache_unit_snaps=False)
        assert [(r.unit_id, r.eta_s, r.distance_m) for r in warm.ranked] == [
            (r.unit_id, r.eta_s, r.distance_m) for r in cold.ranked
        ]
        snaps = snap_points(city, [u.lon for u in units], [u.lat for u in units])
        inc = warm.incident
        truth = reference_etas(
            city_ref,
            node_of,
            city.travel_time_s,
            (inc.edge, inc.fraction, inc.twin),
            snaps,
            [u.id for u in units],
        )
        best = sorted((t, uid) for uid, t in truth.items() if math.isfinite(t))[:6]
        assert [r.unit_id for r in warm.ranked] == [uid for _, uid in best]
        # the fastest unit drives away, another one moves next to the incident
        moved = random_units(city, rng, 2)
        gone, near = warm.ranked[0].unit_id, units[-1].id
        units = [
            UnitPosition(u.id, moved[0].lon, moved[0].lat)
            if u.id == gone
            else UnitPosition(u.id, point.lon + 1e-4, point.lat)
            if u.id == near
            else u
            for u in units
        ]


# -- lazy routes -------------------------------------------------------------------------------


def test_route_geometry_is_built_only_when_read(square: RoadGraph) -> None:
    ranking = rank_units(
        square, at_m(0, 100), [UnitPosition(1, *at_m(520, 250)), UnitPosition(2, *at_m(0, 300))], 2
    )
    far = ranking.ranked[1]
    assert far.unit_id == 1 and not far.route.built
    assert far.distance_m == pytest.approx(250 + 500 + 400)
    xy = FRAME.to_xy(far.route.coords[:, 0], far.route.coords[:, 1])
    assert far.route.built
    assert xy[0] == pytest.approx([500.0, 250.0], abs=1e-3)
    assert np.hypot(*np.diff(xy, axis=0).T).sum() == pytest.approx(far.distance_m, rel=1e-6)
    assert len(far.route.edge_ids) == 3
    near = ranking.ranked[0]  # on the incident's own edge: straight along it
    assert near.route.edge_ids.tolist() == [near.route.edge_ids[0]]
    assert near.distance_m == pytest.approx(200.0)
    with pytest.raises(ValueError):
        Route()
    plain = Route([[0.0, 0.0], [1.0, 1.0]], [7])
    assert plain.built and plain.geojson()["coordinates"] == [[0.0, 0.0], [1.0, 1.0]]


@pytest.fixture(scope="module")
def square() -> RoadGraph:
    return graph_of(
        SQUARE,
        [("A", "B", 36.0, "primary"), *two_way("B", "C"), *two_way("C", "D"), *two_way("D", "A")],
    )


# -- quotas: bounded rankings for response plans -----------------------------------------------

CAPS = ("fire_suppression", "ems_bls", "ems_als", "police")
NOW = datetime(2026, 11, 23, 8, tzinfo=UTC)


def _located(units: list[UnitPosition], rng: np.random.Generator) -> list[Located]:
    out = []
    for u in units:
        caps = frozenset(c for c in CAPS if rng.random() < 0.35) or frozenset({CAPS[0]})
        agency = int(rng.integers(1, 3))
        state = UnitState(
            unit_id=u.id,
            call_sign=f"U{u.id}",
            agency_id=agency,
            agency_code=f"a{agency}",
            unit_type="t",
            capabilities=caps,
            status="available",
            last_position=(u.lon, u.lat),
            last_fix_at=NOW,
            home_jurisdiction_id=int(rng.integers(1, 4)),
        )
        out.append(Located(state, (u.lon, u.lat), "gps"))
    return out


def _fill_view(fill: object) -> list[tuple[str, list[tuple[int, float, float]], dict[str, int]]]:
    return [
        (
            f.requirement.capability,
            [(r.unit.unit_id, r.eta_s, r.distance_m) for r in f.chosen],
            f.excluded,
        )
        for f in fill.fills
    ]  # type: ignore[attr-defined]


def _both(
    graph: RoadGraph,
    point: tuple[float, float],
    located: list[Located],
    requirements: list[Requirement],
    policy: str,
    jur: dict[int, int],
) -> tuple[object, object, int, int]:
    full, full_out = rank_located(graph, point, located)
    part, part_out = rank_located(
        graph, point, located, requirements=requirements, policy=policy, incident_jurisdictions=jur
    )  # type: ignore[arg-type]
    a = fill_plan(
        requirements,
        full,
        policy=policy,
        incident_jurisdictions=jur,  # type: ignore[arg-type]
        excluded=full_out,
    )
    b = fill_plan(
        requirements,
        part,
        policy=policy,
        incident_jurisdictions=jur,  # type: ignore[arg-type]
        excluded=part_out,
    )
    assert sorted((u.unit_id, r) for u, r in full_out) == sorted(
        (u.unit_id, r) for u, r in part_out
    )
    return a, b, len(full), len(part)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 60),
    policy=st.sampled_from(["nearest", "own_first"]),
    plan=st.lists(st.tuples(st.sampled_from(CAPS), st.integers(1, 3)), min_size=1, max_size=4),
)
def test_bounded_plan_ranking_fills_the_plan_like_the_full_ranking(
    city: RoadGraph, seed: int, n: int, policy: str, plan: list[tuple[str, int]]
) -> None:
    rng = np.random.default_rng(seed)
    located = _located(random_units(city, rng, n, spread_m=60.0), rng)
    point = random_units(city, rng, 1)[0]
    requirements = [Requirement(c, k) for c, k in plan]
    jur = {1: int(rng.integers(1, 4)), 2: int(rng.integers(1, 4))}
    full, part, n_full, n_part = _both(
        city, (point.lon, point.lat), located, requirements, policy, jur
    )
    assert _fill_view(part) == _fill_view(full)
    assert n_part <= n_full


def test_bounded_ranking_ranks_fewer_units_on_a_big_fleet(city: RoadGraph) -> None:
    rng = np.random.default_rng(9)
    located = _located(random_units(city, rng, 150), rng)
    point = random_units(city, rng, 1)[0]
    reqs = [Requirement("fire_suppression", 2), Requirement("ems_bls", 1), Requirement("police", 1)]
    for policy in ("nearest", "own_first"):
        full, part, n_full, n_part = _both(
            city, (point.lon, point.lat), located, reqs, policy, {1: 2, 2: 3}
        )
        assert _fill_view(part) == _fill_view(full)
        assert n_part < n_full / 2


def test_bounded_ranking_still_reports_units_one_way_streets_trap() -> None:
    # E is reached from A only by a one-way street: a unit beyond E cannot come back,
    # which only a search of everything reachable shows; the bounded ranking must
    # still report it, as the full ranking does
    nodes = {**SQUARE, "E": (-500.0, 0.0)}
    graph = graph_of(
        nodes,
        [
            *two_way("A", "B"),
            *two_way("B", "C"),
            *two_way("C", "D"),
            *two_way("D", "A"),
            ("A", "E", 36.0, "service"),
        ],
    )
    units = [
        UnitPosition(1, *at_m(-400, 0)),
        UnitPosition(2, *at_m(450, 0)),
        UnitPosition(3, *at_m(0, 450)),
    ]
    quotas = [Quota(frozenset({1, 2, 3}), 1)]
    ranking = rank_units(graph, at_m(500, 50), units, 3, quotas=quotas)
    assert [(x.unit_id, x.reason) for x in ranking.excluded] == [(1, "unreachable")]
    assert [r.unit_id for r in ranking.ranked] == [2, 3]
    # with every unit in one strongly connected component the bound holds
    ranking = rank_units(graph, at_m(500, 50), units[1:], 3, quotas=quotas)
    assert [r.unit_id for r in ranking.ranked] == [2] and math.isfinite(ranking.limit_s)
    assert ranking.excluded == ()


def test_quotas_are_validated_and_can_be_empty(square: RoadGraph) -> None:
    units = [UnitPosition(1, *at_m(0, 400))]
    with pytest.raises(InvalidInput):
        rank_units(square, at_m(0, 100), units, 1, quotas=[Quota(frozenset({1}), -1)])
    ranking = rank_units(square, at_m(0, 100), units, 1, quotas=[])
    assert ranking.ranked == () and ranking.excluded == ()


def test_plan_quotas_count_earlier_requirements_and_own_units() -> None:
    def unit(i: int, caps: set[str], home: int) -> Located:
        s = UnitState(
            i, f"U{i}", 1, "a1", "t", frozenset(caps), "available", (0.0, 0.0), NOW, None, home
        )
        return Located(s, (0.0, 0.0), "gps")

    located = [
        unit(1, {"ems_als", "ems_bls"}, 7),
        unit(2, {"ems_bls"}, 8),
        unit(3, {"police"}, 7),
        unit(4, {"ems_als", "ems_bls"}, 8),
    ]
    reqs = [Requirement("ems_als", 3), Requirement("police", 1), Requirement("ems_bls", 2)]
    # ems_bls may lose to ems_als at most the 2 units that have both; police loses none
    nearest = plan_quotas(reqs, located)
    assert [(set(q.unit_ids), q.count) for q in nearest] == [({1, 4}, 3), ({3}, 1), ({1, 2, 4}, 4)]
    own = plan_quotas(reqs, located, policy="own_first", incident_jurisdictions={1: 7})
    assert [(set(q.unit_ids), q.count) for q in own] == [
        ({1, 4}, 3),
        ({1}, 3),
        ({3}, 1),
        ({3}, 1),
        ({1, 2, 4}, 4),
        ({1}, 4),
    ]
