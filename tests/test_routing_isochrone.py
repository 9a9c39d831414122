"""Reachable areas: per-node times from one or many points, and their polygons."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
import shapely

from najda.errors import InvalidInput
from najda.routing.engine import isochrone, node_travel_times, reach
from najda.routing.graph import RoadGraph
from najda.routing.snap import OffNetwork
from najda.routing.synthetic import generate_city


@pytest.fixture(scope="module")
def city() -> RoadGraph:
    return generate_city(nodes=2000, seed=21).to_graph()


def networkx_times(city: RoadGraph, points: np.ndarray, *, to: bool = False) -> np.ndarray:
    """Times from the nearest point with a virtual source wired to the snapped edges."""
    g = nx.MultiDiGraph()
    g.add_nodes_from(range(city.node_count))
    for a, b, t in zip(
        city.edge_u.tolist(), city.edge_v.tolist(), city.travel_time_s.tolist(), strict=True
    ):
        g.add_edge(a, b, w=t) if not to else g.add_edge(b, a, w=t)
    r = reach(city, points)
    s = r.sources
    for i in range(len(s)):
        places = [(int(s.edge[i]), s.fraction[i])]
        if s.twin[i] >= 0:
            places.append((int(s.twin[i]), 1 - s.fraction[i]))
        for e, f in places:
            if to:
                g.add_edge("src", int(city.edge_u[e]), w=f * city.travel_time_s[e])
            else:
                g.add_edge("src", int(city.edge_v[e]), w=(1 - f) * city.travel_time_s[e])
    d = nx.single_source_dijkstra_path_length(g, "src", weight="w")
    return np.array([d.get(i, math.inf) for i in range(city.node_count)])


def some_points(city: RoadGraph, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack(
        [
            rng.uniform(city.lon.min(), city.lon.max(), n),
            rng.uniform(city.lat.min(), city.lat.max(), n),
        ]
    )


@pytest.mark.parametrize("direction", ["from", "to"])
def test_node_times_equal_networkx_from_a_set_of_points(city: RoadGraph, direction: str) -> None:
    points = some_points(city, 4, seed=2)
    got = reach(city, points, direction=direction).node_times_s  # type: ignore[arg-type]
    want = networkx_times(city, points, to=direction == "to")
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_limit_keeps_only_nodes_within_it(city: RoadGraph) -> None:
    points = some_points(city, 1, seed=3)
    full = reach(city, points).node_times_s
    part = reach(city, points, limit_s=180).node_times_s
    inside = full <= 180
    np.testing.assert_allclose(part[inside], full[inside])
    assert np.isinf(part[~inside]).all() and inside.sum() > 10


def test_isochrone_polygon_covers_the_reached_nodes(city: RoadGraph) -> None:
    points = some_points(city, 1, seed=4)
    iso = isochrone(city, points[0], 3)
    reached = np.flatnonzero(iso.reach.node_times_s <= 180)
    inside = shapely.contains_xy(iso.polygon, city.lon[reached], city.lat[reached])
    assert inside.all()
    far = np.flatnonzero(np.isinf(iso.reach.node_times_s))
    assert not shapely.contains_xy(iso.polygon, city.lon[far], city.lat[far]).all()
    bigger = isochrone(city, points[0], 6)
    assert bigger.polygon.area > iso.polygon.area
    assert bigger.polygon.buffer(1e-9).contains(iso.polygon)


def test_isochrone_of_many_points_covers_each_of_them(city: RoadGraph) -> None:
    points = some_points(city, 3, seed=5)
    union = isochrone(city, points, 2).polygon
    for p in points:
        assert union.buffer(1e-9).contains(isochrone(city, p, 2).polygon)


def test_node_travel_times_from_node_indices(city: RoadGraph) -> None:
    times = node_travel_times(city, [0, 5])
    assert times[0] == 0.0 and times[5] == 0.0
    np.testing.assert_allclose(
        times, np.minimum(node_travel_times(city, [0]), node_travel_times(city, [5]))
    )
    with pytest.raises(InvalidInput):
        node_travel_times(city, [city.node_count])


def test_points_all_off_the_network_are_refused(city: RoadGraph) -> None:
    with pytest.raises(OffNetwork):
        reach(city, (float(city.lon.max()) + 1, float(city.lat.mean())))
    with pytest.raises(InvalidInput):
        isochrone(city, some_points(city, 1, 1)[0], 0)
