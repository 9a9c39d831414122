"""Snapping: the exact nearest edge (checked against shapely), partial times, the limit."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from najda.errors import NajdaError
from najda.routing.graph import RoadGraph
from najda.routing.snap import OffNetwork, snap_index, snap_point, snap_points
from najda.routing.synthetic import generate_city


@pytest.fixture(scope="module")
def city() -> RoadGraph:
    return generate_city(nodes=1500, seed=4, center=(24.94, 60.17)).to_graph()


def brute_force(graph: RoadGraph, lon: float, lat: float) -> float:
    """Distance to the nearest edge by shapely over every edge, in the point's local frame."""
    sx = np.cos(np.radians(lat)) / np.cos(np.radians(graph.frame.lat0))
    xy = graph.geom_xy * [sx, 1.0]
    lines = shapely.linestrings(
        xy, indices=np.repeat(np.arange(graph.edge_count), np.diff(graph.geom_offsets))
    )
    q = graph.frame.to_xy([lon], [lat])[0] * [sx, 1.0]
    return float(shapely.distance(lines, shapely.Point(q)).min())


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fx=st.floats(-0.1, 1.1), fy=st.floats(-0.1, 1.1))
def test_snap_finds_the_exact_nearest_edge(city: RoadGraph, fx: float, fy: float) -> None:
    lon = city.lon.min() + fx * (city.lon.max() - city.lon.min())
    lat = city.lat.min() + fy * (city.lat.max() - city.lat.min())
    snaps = snap_points(city, lon, lat, limit_m=10_000)
    assert snaps.distance_m[0] == pytest.approx(brute_force(city, lon, lat), abs=1e-6)


def test_many_points_snap_like_one_at_a_time(city: RoadGraph) -> None:
    rng = np.random.default_rng(1)
    lon = rng.uniform(city.lon.min(), city.lon.max(), 300)
    lat = rng.uniform(city.lat.min(), city.lat.max(), 300)
    many = snap_points(city, lon, lat)
    for i in range(0, 300, 37):
        one = snap_point(city, float(lon[i]), float(lat[i]))
        assert (one.edge, one.distance_m) == (many.edge[i], pytest.approx(many.distance_m[i]))


def test_partial_times_split_the_edge(city: RoadGraph) -> None:
    e = 10
    mid = city.to_lonlat(city.edge_xy(e).mean(axis=0, keepdims=True))[0]
    snap = snap_point(city, float(mid[0]), float(mid[1]))
    edge = snap.edge if snap.edge == e else snap.twin
    assert edge == e
    fraction = snap.fraction if snap.edge == e else 1 - snap.fraction
    assert fraction == pytest.approx(0.5, abs=1e-6)
    assert snap.time_from_tail_s + snap.time_to_head_s == pytest.approx(
        city.travel_time_s[snap.edge]
    )
    assert snap.distance_m == pytest.approx(0.0, abs=1e-6)
    assert snap.edge_id == city.edge_id[snap.edge]


def test_two_way_roads_report_their_twin(city: RoadGraph) -> None:
    two_way = int(np.flatnonzero(city.twin >= 0)[0])
    mid = city.to_lonlat(city.edge_xy(two_way).mean(axis=0, keepdims=True))[0]
    snap = snap_point(city, float(mid[0]), float(mid[1]))
    assert {snap.edge, snap.twin} == {two_way, int(city.twin[two_way])}


def test_points_beyond_the_limit_are_refused(city: RoadGraph) -> None:
    lon, lat = float(city.lon.max()) + 0.05, float(city.lat.mean())
    with pytest.raises(OffNetwork) as err:
        snap_point(city, lon, lat)
    assert isinstance(err.value, NajdaError)
    assert err.value.details["limit_m"] == city.snap_limit_m
    assert err.value.details["distance_m"] > 2000
    snaps = snap_points(city, [lon, float(city.lon[0])], [lat, float(city.lat[0])])
    assert snaps.ok.tolist() == [False, True]
    assert snaps.edge[0] == -1
    with pytest.raises(OffNetwork):
        snap_point(city, float("nan"), 60.0)


def test_the_limit_can_be_given_per_call(city: RoadGraph) -> None:
    lon, lat = float(city.lon.max()) + 0.01, float(city.lat.mean())  # about 560 m east
    assert not snap_points(city, lon, lat).ok[0]
    assert snap_point(city, lon, lat, limit_m=2000).distance_m < 2000


def test_index_is_built_once_and_compact(city: RoadGraph) -> None:
    index = snap_index(city)
    assert snap_index(city) is index
    assert index.cell_seg.dtype == np.int32 and not index.cell_seg.flags.writeable
    # twins share geometry: only one of each pair is indexed
    assert np.unique(index.seg_edge).size < city.edge_count


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fx=st.floats(-8.0, 9.0), fy=st.floats(-8.0, 9.0))
def test_far_points_find_the_exact_nearest_edge_without_a_limit(
    city: RoadGraph, fx: float, fy: float
) -> None:
    """Points up to tens of kilometres outside the network (the grid is left behind)."""
    lon = city.lon.min() + fx * (city.lon.max() - city.lon.min())
    lat = city.lat.min() + fy * (city.lat.max() - city.lat.min())
    snaps = snap_points(city, lon, lat, limit_m=float("inf"))
    assert snaps.ok[0]
    assert snaps.distance_m[0] == pytest.approx(brute_force(city, lon, lat), abs=1e-6)


def test_the_index_is_plain_arrays_and_small(city: RoadGraph) -> None:
    index = snap_index(city)
    assert all(isinstance(a, np.ndarray) for a in index.arrays().values())
    segments = index.seg_start.size
    assert index.nbytes() < 40 * segments + 8 * city.edge_count + 16 * index.cell_key.size
