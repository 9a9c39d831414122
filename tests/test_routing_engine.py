"""rank_units: against networkx on the same edges, k-best exactness, and the edge cases.

The reference ETA is computed independently: the unit and the incident become extra
networkx nodes wired to the ends of their snapped edges (a unit node has only out-edges,
the incident node only in-edges, so neither can shortcut other paths), then one networkx
Dijkstra runs. Snapping itself is checked against shapely in test_routing_snap.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from najda.errors import InvalidInput
from najda.routing.engine import UnitPosition, rank_units
from najda.routing.graph import MetricFrame, RoadGraph, build_graph
from najda.routing.profiles import FREE_FLOW, peak_profile
from najda.routing.snap import OffNetwork, Snaps, snap_points
from najda.routing.synthetic import generate_city

FRAME = MetricFrame(46.70, 24.70)


# -- helpers shared with test_routing_real.py -----------------------------------------------


def reference_graph(u: Sequence[int], v: Sequence[int], w: Sequence[float]) -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph()
    for a, b, t in zip(u, v, w, strict=True):
        if a != b:
            graph.add_edge(int(a), int(b), w=float(t))
    return graph


def _places(edge: int, fraction: float, twin: int) -> list[tuple[int, float]]:
    return [(edge, fraction)] + ([(twin, 1.0 - fraction)] if twin >= 0 else [])


def reference_etas(
    ref: nx.MultiDiGraph,
    node_of: dict[int, tuple[int, int]],
    weight: np.ndarray,
    incident: tuple[int, float, int],
    units: Snaps,
    unit_ids: Sequence[int],
) -> dict[int, float]:
    """networkx ETA of every unit (inf when it cannot reach), by edge index ``e``:
    ``node_of[e] = (tail id, head id)``, ``weight[e]`` its travel time."""
    h = ref.copy()
    inc = _places(*incident)
    for e, f in inc:
        h.add_edge(node_of[e][0], "incident", w=f * weight[e])
        if f == 1.0:  # exactly on the head node
            h.add_edge(node_of[e][1], "incident", w=0.0)
    for j, uid in enumerate(unit_ids):
        if not units.ok[j]:
            continue
        for e, f in _places(int(units.edge[j]), float(units.fraction[j]), int(units.twin[j])):
            h.add_edge(("unit", uid), node_of[e][1], w=(1.0 - f) * weight[e])
            if f == 0.0:  # exactly on the tail node
                h.add_edge(("unit", uid), node_of[e][0], w=0.0)
            for ei, fi in inc:
                if ei == e and f <= fi:
                    h.add_edge(("unit", uid), "incident", w=(fi - f) * weight[e])
    dist = nx.single_source_dijkstra_path_length(h.reverse(copy=False), "incident", weight="w")
    return {uid: dist.get(("unit", uid), math.inf) for uid in unit_ids}


def random_units(
    graph: RoadGraph, rng: np.random.Generator, n: int, *, spread_m: float = 30.0
) -> list[UnitPosition]:
    """Units near random nodes, with distinct random ids."""
    nodes = rng.integers(0, graph.node_count, n)
    xy = FRAME_OF(graph).to_xy(graph.lon[nodes], graph.lat[nodes])
    xy += rng.uniform(-spread_m, spread_m, xy.shape)
    lonlat = FRAME_OF(graph).to_lonlat(xy)
    ids = rng.choice(10**6, n, replace=False)
    return [UnitPosition(int(i), float(x), float(y)) for i, (x, y) in zip(ids, lonlat, strict=True)]


def FRAME_OF(graph: RoadGraph) -> MetricFrame:
    return graph.frame


def check_against_networkx(
    graph: RoadGraph,
    ref: nx.MultiDiGraph,
    rng: np.random.Generator,
    *,
    incidents: int,
    units_each: int,
    k: int,
) -> int:
    """Rank random units for random incidents; compare every ETA and the k chosen."""
    node_of = {
        e: (int(graph.node_id[graph.edge_u[e]]), int(graph.node_id[graph.edge_v[e]]))
        for e in range(graph.edge_count)
    }
    pairs = 0
    for _ in range(incidents):
        units = random_units(graph, rng, units_each)
        point = random_units(graph, rng, 1)[0]
        ranking = rank_units(graph, (point.lon, point.lat), units, k)
        snaps = snap_points(graph, [u.lon for u in units], [u.lat for u in units])
        inc = ranking.incident
        expected = reference_etas(
            ref,
            node_of,
            graph.travel_time_s,
            (inc.edge, inc.fraction, inc.twin),
            snaps,
            [u.id for u in units],
        )
        best = sorted((eta, uid) for uid, eta in expected.items() if math.isfinite(eta))[:k]
        assert [r.unit_id for r in ranking.ranked] == [uid for _, uid in best]
        for r in ranking.ranked:
            assert r.eta_s == pytest.approx(expected[r.unit_id], rel=1e-6, abs=1e-9)
        pairs += len(units)
    return pairs


def graph_of(
    nodes: dict[str, tuple[float, float]], edges: Sequence[tuple[str, str, float, str]]
) -> RoadGraph:
    """A hand-made graph: nodes in metres around Riyadh, edges (tail, head, kph, class)."""
    names = sorted(nodes)
    ids = {name: i + 1 for i, name in enumerate(names)}
    lonlat = FRAME.to_lonlat(np.array([nodes[n] for n in names], dtype=float))
    length = [math.dist(nodes[a], nodes[b]) for a, b, _, _ in edges]
    return build_graph(
        region="handmade",
        version=1,
        node_id=[ids[n] for n in names],
        lon=lonlat[:, 0],
        lat=lonlat[:, 1],
        edge_id=np.arange(len(edges)) + 1,
        edge_u_id=[ids[a] for a, _, _, _ in edges],
        edge_v_id=[ids[b] for _, b, _, _ in edges],
        length_m=length,
        travel_time_s=[d / (kph / 3.6) for d, (_, _, kph, _) in zip(length, edges, strict=True)],
        highway=[c for *_, c in edges],
    )


def at_m(x: float, y: float) -> tuple[float, float]:
    lon, lat = FRAME.to_lonlat(np.array([[x, y]]))[0]
    return float(lon), float(lat)


def two_way(a: str, b: str, kph: float = 36.0, cls: str = "residential") -> list[tuple]:
    return [(a, b, kph, cls), (b, a, kph, cls)]


SQUARE = {"A": (0.0, 0.0), "B": (500.0, 0.0), "C": (500.0, 500.0), "D": (0.0, 500.0)}


@pytest.fixture(scope="module")
def square() -> RoadGraph:
    """A->B one-way; B-C, C-D, D-A two-way; 36 km/h = 10 m/s everywhere."""
    return graph_of(
        SQUARE,
        [("A", "B", 36.0, "primary"), *two_way("B", "C"), *two_way("C", "D"), *two_way("D", "A")],
    )


@pytest.fixture(scope="module")
def city() -> RoadGraph:
    return generate_city(nodes=2500, seed=11).to_graph(snap_limit_m=300.0)


@pytest.fixture(scope="module")
def city_ref(city: RoadGraph) -> nx.MultiDiGraph:
    return reference_graph(city.node_id[city.edge_u], city.node_id[city.edge_v], city.travel_time_s)


# -- correctness -----------------------------------------------------------------------------


def test_etas_equal_networkx_for_hundreds_of_pairs(
    city: RoadGraph, city_ref: nx.MultiDiGraph
) -> None:
    pairs = check_against_networkx(
        city, city_ref, np.random.default_rng(2024), incidents=25, units_each=12, k=12
    )
    assert pairs >= 300


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 8), n=st.integers(1, 30))
def test_the_k_returned_are_exactly_the_k_smallest(
    city: RoadGraph, city_ref: nx.MultiDiGraph, seed: int, k: int, n: int
) -> None:
    check_against_networkx(
        city, city_ref, np.random.default_rng(seed), incidents=1, units_each=n, k=k
    )


def test_bound_grows_until_k_units_are_certain(city: RoadGraph) -> None:
    rng = np.random.default_rng(5)
    units = random_units(city, rng, 40)
    point = random_units(city, rng, 1)[0]
    few = rank_units(city, (point.lon, point.lat), units, 1)
    every = rank_units(city, (point.lon, point.lat), units, 40)
    assert len(every.ranked) == 40
    assert every.limit_s >= few.limit_s
    assert (every.ranked[0].unit_id, every.ranked[0].eta_s) == (
        few.ranked[0].unit_id,
        few.ranked[0].eta_s,
    )
    etas = [r.eta_s for r in every.ranked]
    assert etas == sorted(etas)


# -- edge cases ------------------------------------------------------------------------------


def test_one_way_street_makes_a_to_b_differ_from_b_to_a(square: RoadGraph) -> None:
    a_to_b = rank_units(square, at_m(500, 0), [UnitPosition(1, *at_m(0, 0))], 1)
    b_to_a = rank_units(square, at_m(0, 0), [UnitPosition(1, *at_m(500, 0))], 1)
    assert a_to_b.ranked[0].eta_s == pytest.approx(50.0)  # 500 m at 36 km/h
    assert b_to_a.ranked[0].eta_s == pytest.approx(150.0)  # round B-C-D-A
    assert b_to_a.ranked[0].distance_m == pytest.approx(1500.0)


def test_mid_edge_positions_use_partial_times_both_ways(square: RoadGraph) -> None:
    # on the two-way side D-A: unit 100 m from D, incident 400 m from D
    ranking = rank_units(square, at_m(0, 100), [UnitPosition(1, *at_m(0, 400))], 1)
    assert ranking.ranked[0].eta_s == pytest.approx(30.0)
    # on the one-way A->B, a unit ahead of the incident must go all the way round
    ranking = rank_units(square, at_m(100, 0), [UnitPosition(1, *at_m(400, 0))], 1)
    assert ranking.ranked[0].eta_s == pytest.approx(10.0 + 150.0 + 10.0)


def test_unit_exactly_at_the_incident_has_eta_zero(square: RoadGraph) -> None:
    where = at_m(200, 250)  # 300 m from B-C, 200 m from D-A: snaps to D-A
    units = [UnitPosition(9, *where), UnitPosition(4, *at_m(0, 300))]
    ranking = rank_units(square, where, units, 2)
    assert ranking.ranked[0].unit_id == 9
    assert ranking.ranked[0].eta_s == 0.0
    assert ranking.ranked[0].distance_m == 0.0
    assert ranking.ranked[0].snap_distance_m == pytest.approx(200.0, rel=1e-3)
    assert ranking.incident.distance_m == pytest.approx(200.0, rel=1e-3)


def test_ties_are_broken_by_unit_id(square: RoadGraph) -> None:
    units = [UnitPosition(i, *at_m(0, 400)) for i in (7, 3, 5)]
    ranking = rank_units(square, at_m(0, 100), units, 3)
    assert [r.unit_id for r in ranking.ranked] == [3, 5, 7]
    assert len({r.eta_s for r in ranking.ranked}) == 1


def test_no_available_unit_gives_an_empty_ranking(square: RoadGraph) -> None:
    ranking = rank_units(square, at_m(0, 100), [], 3)
    assert ranking.ranked == () and ranking.excluded == ()
    assert ranking.incident.distance_m == pytest.approx(0.0, abs=1e-6)


def test_incident_off_the_network_is_refused(square: RoadGraph) -> None:
    with pytest.raises(OffNetwork) as err:
        rank_units(square, at_m(250, -2000), [UnitPosition(1, *at_m(0, 0))], 1)
    assert err.value.code == "off_network" and err.value.status == 422
    assert err.value.details["distance_m"] == pytest.approx(2000.0, rel=1e-3)
    assert "from the nearest road" in err.value.message


def test_units_off_the_network_are_excluded_with_a_reason(square: RoadGraph) -> None:
    units = [UnitPosition(1, *at_m(250, 5000)), UnitPosition(2, *at_m(0, 250))]
    ranking = rank_units(square, at_m(0, 100), units, 2)
    assert [r.unit_id for r in ranking.ranked] == [2]
    assert [(x.unit_id, x.reason) for x in ranking.excluded] == [(1, "off_network")]


def test_a_unit_that_one_way_streets_trap_is_excluded_as_unreachable() -> None:
    # E is reached from A only by a one-way street: a unit beyond E cannot come back
    nodes = {**SQUARE, "E": (-500.0, 0.0)}
    graph = graph_of(nodes, [*two_way("A", "B"), *two_way("B", "C"), ("A", "E", 36.0, "service")])
    ranking = rank_units(
        graph, at_m(500, 250), [UnitPosition(1, *at_m(-400, 0)), UnitPosition(2, *at_m(100, 0))], 2
    )
    assert [r.unit_id for r in ranking.ranked] == [2]
    assert [(x.unit_id, x.reason) for x in ranking.excluded] == [(1, "unreachable")]
    assert math.isinf(ranking.limit_s)


def test_invalid_arguments_are_refused(square: RoadGraph) -> None:
    unit = UnitPosition(1, *at_m(0, 0))
    with pytest.raises(InvalidInput):
        rank_units(square, at_m(0, 100), [unit], 0)
    with pytest.raises(InvalidInput):
        rank_units(square, at_m(0, 100), [unit, unit], 1)


# -- routes ----------------------------------------------------------------------------------


def test_route_runs_from_the_unit_to_the_incident(square: RoadGraph) -> None:
    ranking = rank_units(square, at_m(0, 100), [UnitPosition(1, *at_m(520, 250))], 1)
    best = ranking.ranked[0]
    xy = FRAME.to_xy(best.route.coords[:, 0], best.route.coords[:, 1])
    assert xy[0] == pytest.approx([500.0, 250.0], abs=1e-3)
    assert xy[-1] == pytest.approx([0.0, 100.0], abs=1e-3)
    assert np.hypot(*np.diff(xy, axis=0).T).sum() == pytest.approx(best.distance_m, rel=1e-3)
    assert best.distance_m == pytest.approx(250 + 500 + 400)
    assert best.eta_s == pytest.approx(115.0)
    assert best.snap_distance_m == pytest.approx(20.0, rel=1e-3)
    assert len(best.route.edge_ids) == 3
    assert best.route.geojson()["type"] == "LineString"


def test_routes_on_a_city_add_up_to_their_distance(city: RoadGraph) -> None:
    rng = np.random.default_rng(8)
    units = random_units(city, rng, 30)
    point = random_units(city, rng, 1)[0]
    for r in rank_units(city, (point.lon, point.lat), units, 5).ranked:
        xy = city.frame.to_xy(r.route.coords[:, 0], r.route.coords[:, 1])
        assert np.hypot(*np.diff(xy, axis=0).T).sum() == pytest.approx(r.distance_m, rel=0.01)


# -- profiles --------------------------------------------------------------------------------


def test_default_profile_reproduces_plain_travel_times(city: RoadGraph) -> None:
    rng = np.random.default_rng(3)
    units = random_units(city, rng, 20)
    point = random_units(city, rng, 1)[0]
    plain = rank_units(city, (point.lon, point.lat), units, 5)
    flat = rank_units(
        city, (point.lon, point.lat), units, 5, profile=FREE_FLOW, at=datetime(2026, 11, 23, 8)
    )
    assert [(r.unit_id, r.eta_s) for r in plain.ranked] == [
        (r.unit_id, r.eta_s) for r in flat.ranked
    ]


def test_peak_profile_applies_at_its_hours_only(square: RoadGraph) -> None:
    rush = peak_profile("rush", classes=["residential"], hours=[7, 8], factor=2.0)
    unit = [UnitPosition(1, *at_m(0, 400))]
    peak = rank_units(square, at_m(0, 100), unit, 1, profile=rush, at=datetime(2026, 1, 4, 8))
    night = rank_units(square, at_m(0, 100), unit, 1, profile=rush, at=datetime(2026, 1, 4, 3))
    assert peak.ranked[0].eta_s == pytest.approx(60.0) and peak.hour == 8
    assert night.ranked[0].eta_s == pytest.approx(30.0) and night.profile == "rush"
    # the one-way primary A->B is not slowed: A->B stays 50 s at rush hour
    ab = rank_units(
        square,
        at_m(500, 0),
        [UnitPosition(1, *at_m(0, 0))],
        1,
        profile=rush,
        at=datetime(2026, 1, 4, 8),
    )
    assert ab.ranked[0].eta_s == pytest.approx(50.0)


def test_profile_changes_which_route_wins(square: RoadGraph) -> None:
    # slowing the primary A->B tenfold makes B reachable faster round the square
    slow = peak_profile("jam", classes=["primary"], hours=range(24), factor=10.0)
    ranking = rank_units(square, at_m(500, 0), [UnitPosition(1, *at_m(0, 0))], 1, profile=slow)
    assert ranking.ranked[0].eta_s == pytest.approx(150.0)
