"""No dead ends on the real Doha region: an incident in the desert, farther than the
snapping limit from every road, is still recommended for (by straight-line estimates,
flagged as such) and any available unit can be assigned to it by hand.

Straight-line ETAs are checked against an independent great-circle computation
(pyproj's geodesic on a sphere of the mean Earth radius), the incident's distance to the
road against PostGIS (geography distance to the nearest ``road_edge``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pyproj import Geod
from sqlalchemy import Engine, text

from dispatch_helpers import Api, Server, add_unit, assert_error_shape, clients, live_server
from najda.config import Settings

# In Al-Shahaniya municipality, tens of kilometres west of the Doha road network.
DESERT = (51.0108, 25.4445)
SPHERE = Geod(a=6_371_008.8, b=6_371_008.8)
DEFAULTS = Settings()


@pytest.fixture
def server(doha_engine: Engine) -> Iterator[Server]:
    with live_server(doha_engine) as s:
        yield s


@pytest.fixture
def api(doha_engine: Engine, server: Server) -> dict[str, Api]:
    return clients(doha_engine, server.url)


def road_nodes(engine: Engine, n: int, *, step: int = 997) -> list[tuple[float, float]]:
    """``n`` road nodes spread over the city (every ``step``-th by id)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("""
            SELECT ST_X(geom), ST_Y(geom) FROM (
                SELECT geom, row_number() OVER (ORDER BY id) AS k FROM road_node) x
            WHERE k % :step = 0 ORDER BY k LIMIT :n"""),
            {"step": step, "n": n},
        ).all()
    assert len(rows) == n
    return [(float(x), float(y)) for x, y in rows]


def straight_line_eta(lon: float, lat: float, at: tuple[float, float]) -> tuple[float, float]:
    """(great-circle metres, ETA seconds) by pyproj and the default settings."""
    _, _, metres = SPHERE.inv(lon, lat, at[0], at[1])
    speed_ms = DEFAULTS.straight_line_speed_kph / 3.6
    return metres, metres * DEFAULTS.straight_line_detour / speed_ms


def road_distance_m(engine: Engine, lon: float, lat: float) -> float:
    with engine.connect() as conn:
        return float(
            conn.execute(
                text("""
                SELECT min(ST_Distance(geom::geography,
                                       ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography))
                FROM road_edge"""),
                {"x": lon, "y": lat},
            ).scalar_one()
        )


@pytest.fixture
def fleet(doha_engine: Engine) -> dict[str, tuple[int, tuple[float, float]]]:
    """Fire engines, ambulances and patrols on the city's roads, a fire engine out in
    the desert (off the network itself) and a stale one, by call sign."""
    spots = iter(road_nodes(doha_engine, 12))
    out: dict[str, tuple[int, tuple[float, float]]] = {}
    for call_sign, unit_type in [
        *((f"FE-{i}", "fire_engine") for i in range(4)),
        *((f"AMB-{i}", "ambulance_bls") for i in range(3)),
        *((f"POL-{i}", "patrol_car") for i in range(3)),
    ]:
        lon, lat = next(spots)
        out[call_sign] = (add_unit(doha_engine, call_sign, unit_type, lon, lat), (lon, lat))
    desert = (DESERT[0] + 0.12, DESERT[1] - 0.05)  # nearer the incident than any city unit
    out["FE-DESERT"] = (add_unit(doha_engine, "FE-DESERT", "fire_engine", *desert), desert)
    lon, lat = next(spots)
    stale = add_unit(doha_engine, "FE-STALE", "fire_engine", lon, lat, fix_age_s=5000)
    out["FE-STALE"] = (stale, (lon, lat))
    return out


def new_incident(
    d: Api, where: tuple[float, float] = DESERT, type_code: str = "building_fire"
) -> dict[str, Any]:
    created = d.post(
        "/incidents", json={"type": type_code, "location": {"lon": where[0], "lat": where[1]}}
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def test_desert_incident_is_recommended_by_flagged_straight_line_estimates(
    doha_engine: Engine, api: dict[str, Api], fleet: dict[str, tuple[int, tuple[float, float]]]
) -> None:
    d = api["dispatcher"]
    inc = new_incident(d)
    response = d.get(f"/incidents/{inc['id']}/recommendations")
    assert response.status_code == 200, response.text
    rec = response.json()

    flag = rec["estimate"]
    assert flag["method"] == "straight_line" and flag["reason"] == "off_network"
    assert flag["speed_kph"] == DEFAULTS.straight_line_speed_kph
    assert flag["detour_factor"] == DEFAULTS.straight_line_detour
    assert flag["snap_limit_m"] == DEFAULTS.snap_limit_m
    truth_road = road_distance_m(doha_engine, *DESERT)
    assert truth_road > 10_000  # really far from every road
    assert flag["incident_road_distance_m"] == pytest.approx(truth_road, rel=0.01)

    # the plan is filled as usual, each requirement by straight-line order
    assert rec["complete"] is True
    by_id = {uid: (sign, where) for sign, (uid, where) in fleet.items()}
    eligible = {uid for uid, (sign, _) in by_id.items() if sign != "FE-STALE"}
    for req in rec["requirements"]:
        prefix = {"fire_suppression": "FE-", "ems_bls": "AMB-", "police": "POL-"}[req["capability"]]
        pool = sorted(
            (straight_line_eta(*where, DESERT)[1], uid)
            for uid, (sign, where) in by_id.items()
            if sign.startswith(prefix) and uid in eligible
        )
        assert [u["unit_id"] for u in req["units"]] == [uid for _, uid in pool[: req["count"]]]
        for unit in req["units"]:
            metres, eta = straight_line_eta(*by_id[unit["unit_id"]][1], DESERT)
            assert unit["estimate"] == {"method": "straight_line", "reason": "off_network"}
            assert unit["eta_s"] == pytest.approx(eta, rel=1e-6)
            assert unit["distance_m"] == pytest.approx(metres, rel=1e-6)
            assert unit["straight_line_m"] == unit["distance_m"]
            assert unit["route"] is None
    fire = rec["requirements"][0]
    # the unit that is itself off the network is the nearest: not excluded here
    assert fire["units"][0]["unit_id"] == fleet["FE-DESERT"][0]
    assert fire["excluded"] == {"stale_position": 1}


def test_on_network_incident_keeps_road_etas_and_excludes_an_off_network_unit(
    doha_engine: Engine, api: dict[str, Api], fleet: dict[str, tuple[int, tuple[float, float]]]
) -> None:
    d = api["dispatcher"]
    inc = new_incident(d, fleet["FE-0"][1], "open_area_fire")
    rec = d.get(f"/incidents/{inc['id']}/recommendations").json()
    assert rec["estimate"]["method"] == "road" and rec["estimate"]["reason"] is None
    fire = rec["requirements"][0]
    assert fire["units"][0]["unit_id"] == fleet["FE-0"][0]
    assert fire["units"][0]["estimate"] == {"method": "road", "reason": None}
    assert fire["excluded"] == {"off_network": 1, "stale_position": 1}


def test_a_unit_nobody_recommended_is_assigned_by_hand_with_its_estimate_recorded(
    doha_engine: Engine, api: dict[str, Api], fleet: dict[str, tuple[int, tuple[float, float]]]
) -> None:
    d = api["dispatcher"]
    inc = new_incident(d)
    rec = d.get(f"/incidents/{inc['id']}/recommendations").json()
    recommended = {u["unit_id"] for r in rec["requirements"] for u in r["units"]}
    # the available units, for the dispatcher's own pick: every one, flagged
    listing = d.get(f"/incidents/{inc['id']}/available-units").json()
    assert listing["estimate"]["method"] == "straight_line"
    listed = {u["unit_id"]: u for u in listing["units"]}
    assert set(listed) == {uid for uid, _ in fleet.values()}
    assert listed[fleet["FE-STALE"][0]]["stale"] is True
    etas = [u["eta_s"] for u in listing["units"]]
    assert etas == sorted(etas)

    uid, where = fleet["POL-2"]
    if uid in recommended:  # take a patrol the plan did not choose
        uid, where = next(
            (u, w) for s, (u, w) in fleet.items() if s.startswith("POL-") and u not in recommended
        )
    assert uid not in recommended
    response = d.post(f"/incidents/{inc['id']}/assignments", json={"units": [{"unit_id": uid}]})
    assert response.status_code == 201, response.text
    (assignment,) = [a for a in response.json()["assignments"] if a["unit_id"] == uid]
    metres, eta = straight_line_eta(*where, DESERT)
    assert assignment["estimate"] == {"method": "straight_line", "reason": "off_network"}
    assert assignment["eta_s"] == pytest.approx(eta, rel=1e-6)
    assert assignment["distance_m"] == pytest.approx(metres, rel=1e-6)
    assert response.json()["status"] == "dispatched"

    events = d.get(f"/incidents/{inc['id']}/timeline").json()["events"]
    assigned = [e["details"] for e in events if e["kind"] == "unit_assigned"]
    assert assigned[-1]["eta_method"] == "straight_line"
    assert assigned[-1]["assignment_id"] == assignment["id"]
    # now busy: no longer offered, and a second assignment is refused in the error shape
    listing = d.get(f"/incidents/{inc['id']}/available-units").json()
    assert uid not in {u["unit_id"] for u in listing["units"]}
    again = d.post(f"/incidents/{inc['id']}/assignments", json={"units": [{"unit_id": uid}]})
    assert_error_shape(again, 409, "unit_busy")


def test_hand_assignment_on_the_network_says_which_units_the_roads_cannot_bring(
    doha_engine: Engine, api: dict[str, Api], fleet: dict[str, tuple[int, tuple[float, float]]]
) -> None:
    d = api["dispatcher"]
    scene = fleet["AMB-0"][1]
    inc = new_incident(d, scene, "open_area_fire")
    nowhere = add_unit(doha_engine, "FE-NOWHERE", "fire_engine", fix_age_s=None)
    listing = d.get(f"/incidents/{inc['id']}/available-units").json()
    assert listing["estimate"]["method"] == "road"
    methods = [u["estimate"]["method"] for u in listing["units"]]
    # road ETAs first, then straight-line estimates, then units without a position
    assert methods == sorted(methods, key=["road", "straight_line", "none"].index)
    listed = {u["unit_id"]: u for u in listing["units"]}
    assert listed[fleet["AMB-0"][0]]["eta_s"] == pytest.approx(0.0, abs=1.0)
    assert listed[fleet["FE-DESERT"][0]]["estimate"] == {
        "method": "straight_line",
        "reason": "unit_off_network",
    }
    assert listed[nowhere]["estimate"] == {"method": "none", "reason": "no_position"}

    desert_uid = fleet["FE-DESERT"][0]
    response = d.post(
        f"/incidents/{inc['id']}/assignments",
        json={"units": [{"unit_id": desert_uid}, {"unit_id": nowhere}]},
    )
    assert response.status_code == 201, response.text
    got = {a["unit_id"]: a for a in response.json()["assignments"]}
    _, eta = straight_line_eta(*fleet["FE-DESERT"][1], scene)
    assert got[desert_uid]["estimate"] == {"method": "straight_line", "reason": "unit_off_network"}
    assert got[desert_uid]["eta_s"] == pytest.approx(eta, rel=1e-6)
    assert got[nowhere]["estimate"] == {"method": "none", "reason": "no_position"}
    assert got[nowhere]["eta_s"] is None
