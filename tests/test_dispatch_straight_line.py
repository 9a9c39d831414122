"""The straight-line estimate behind the off-network fallback, on plain data: the
great-circle distance against pyproj, the settings' checks, and which method and reason
each unit gets (by road, in a straight line, and why)."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod

from najda.config import load_settings
from najda.dispatch.plans import Located, UnitState
from najda.dispatch.travel import (
    EARTH_RADIUS_M,
    StraightLine,
    estimate_all,
    great_circle_m,
    rank_or_estimate,
    straight_line_ranked,
)
from test_routing_engine import at_m, graph_of, two_way

PACE = StraightLine(speed_kph=36.0, detour_factor=1.5)  # 10 m/s, so ETA = 0.15 s per metre


def located(unit_id: int, lon: float, lat: float) -> Located:
    unit = UnitState(
        unit_id=unit_id,
        call_sign=f"U-{unit_id}",
        agency_id=1,
        agency_code="police",
        unit_type="patrol_car",
        capabilities=frozenset({"police"}),
        status="available",
        last_position=(lon, lat),
    )
    return Located(unit, (lon, lat), "posted")


def test_great_circle_matches_pyproj_on_the_same_sphere() -> None:
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(-180, 180, 500), rng.uniform(-85, 85, 500)
    sphere = Geod(a=EARTH_RADIUS_M, b=EARTH_RADIUS_M)
    for to in [(51.0108, 25.4445), (46.65, 24.74), (-70.0, -33.0)]:
        _, _, truth = sphere.inv(lon, lat, np.full(500, to[0]), np.full(500, to[1]))
        assert np.allclose(great_circle_m(lon, lat, *to), truth, rtol=1e-9, atol=1e-3)
    assert great_circle_m(51.5, 25.3, 51.5, 25.3)[0] == 0.0


def test_settings_give_the_pace_and_refuse_nonsense() -> None:
    s = load_settings({"NAJDA_STRAIGHT_LINE_SPEED_KPH": "72", "NAJDA_STRAIGHT_LINE_DETOUR": "1.2"})
    pace = StraightLine(speed_kph=s.straight_line_speed_kph, detour_factor=s.straight_line_detour)
    assert pace.eta_s(1000.0) == pytest.approx(60.0)  # 1.2 km at 20 m/s
    for speed, detour in [(0.0, 1.4), (-5.0, 1.4), (float("nan"), 1.4), (50.0, 0.9)]:
        with pytest.raises(ValueError):
            StraightLine(speed_kph=speed, detour_factor=detour)


def test_straight_line_ranking_is_by_distance_with_ties_by_unit_id() -> None:
    point = (51.0, 25.0)
    units = [located(3, 51.02, 25.0), located(1, 51.0, 25.01), located(2, 50.98, 25.0)]
    ranked = straight_line_ranked(point, units, pace=PACE, reason="off_network")
    assert [r.unit.unit_id for r in ranked] == [1, 2, 3]  # 2 and 3 tie: by id
    for r in ranked:
        assert r.method == "straight_line" and r.reason == "off_network"
        assert r.eta_s == pytest.approx(0.15 * r.distance_m)
        assert r.route == () and r.straight_line_m == r.distance_m


def test_without_a_road_network_every_unit_is_estimated_and_the_basis_says_why() -> None:
    units = [located(1, 51.0, 25.0), located(2, 51.1, 25.0)]
    ranked, excluded, basis = rank_or_estimate(None, (51.05, 25.0), units, pace=PACE)
    assert (basis.method, basis.reason, basis.pace) == ("straight_line", "no_road_graph", PACE)
    assert excluded == [] and {r.reason for r in ranked} == {"no_road_graph"}


def test_by_road_where_both_ends_are_on_it_else_a_straight_line_that_says_which_is_not() -> None:
    # a straight two-way road of 1 km, 10 m/s
    graph = graph_of({"a": (0.0, 0.0), "b": (1000.0, 0.0)}, two_way("a", "b"))
    lon, lat = at_m(500.0, 0.0)
    on_road, off_road = located(1, *at_m(0.0, 0.0)), located(2, *at_m(500.0, 3000.0))
    estimates, basis = estimate_all(graph, (lon, lat), [on_road, off_road], pace=PACE)
    assert basis.method == "road"
    assert (estimates[1].method, estimates[1].reason) == ("road", None)
    assert estimates[1].eta_s == pytest.approx(50.0)
    assert (estimates[2].method, estimates[2].reason) == ("straight_line", "unit_off_network")

    # the incident itself off the grid: everyone in a straight line, the road distance told
    far = at_m(500.0, -2000.0)
    estimates, basis = estimate_all(graph, far, [on_road, off_road], pace=PACE)
    assert (basis.method, basis.reason) == ("straight_line", "off_network")
    assert basis.road_distance_m == pytest.approx(2000.0, rel=1e-3)
    assert {e.reason for e in estimates.values()} == {"off_network"}
