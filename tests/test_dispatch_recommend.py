"""Response plans filled by the fastest units, checked against networkx on the same
road_edge rows; eligibility; the own_first policy against nearest."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import Engine, text

from dispatch_helpers import (
    Api,
    add_unit,
    independent_etas,
    road_digraph,
    straight_segments,
)

FLEET = {"fire_engine": 7, "ambulance_bls": 3, "ambulance_als": 3, "patrol_car": 5}


def test_building_fire_plan_is_filled_by_the_fastest_units(
    riyadh_engine: Engine, api: dict[str, Api]
) -> None:
    segs = straight_segments(riyadh_engine)
    rng = random.Random(20261123)
    picked = rng.sample(segs, 1 + sum(FLEET.values()) + 2)
    incident_seg, unit_segs = picked[0], picked[1:]
    where: dict[int, object] = {}
    capabilities: dict[int, set[str]] = {}
    caps = {
        "fire_engine": {"fire_suppression"},
        "ambulance_bls": {"ems_bls"},
        "ambulance_als": {"ems_als", "ems_bls"},
        "patrol_car": {"police"},
    }
    i = 0
    for unit_type, n in FLEET.items():
        for k in range(n):
            seg = unit_segs[i]
            i += 1
            uid = add_unit(riyadh_engine, f"{unit_type}-{k}", unit_type, seg.lon, seg.lat)
            where[uid], capabilities[uid] = seg, caps[unit_type]
    # ineligible: busy, and a stale fix (older than position_max_age_s)
    busy = add_unit(
        riyadh_engine,
        "busy-engine",
        "fire_engine",
        unit_segs[i].lon,
        unit_segs[i].lat,
        status="out_of_service",
    )
    stale = add_unit(
        riyadh_engine,
        "stale-engine",
        "fire_engine",
        unit_segs[i + 1].lon,
        unit_segs[i + 1].lat,
        fix_age_s=3600,
    )

    d = api["dispatcher"]
    inc = d.post(
        "/incidents",
        json={
            "type": "building_fire",
            "location": {"lon": incident_seg.lon, "lat": incident_seg.lat},
        },
    ).json()
    rec = d.get(f"/incidents/{inc['id']}/recommendations").json()
    assert rec["policy"] == "nearest" and rec["complete"] is True

    truth = independent_etas(road_digraph(riyadh_engine), incident_seg, where)
    used: set[int] = set()
    plan = [("fire_suppression", 2), ("ems_bls", 1), ("police", 1)]
    assert [(r["capability"], r["count"]) for r in rec["requirements"]] == plan
    for req, (capability, count) in zip(rec["requirements"], plan, strict=True):
        pool = sorted(
            (t, uid)
            for uid, t in truth.items()
            if capability in capabilities[uid] and uid not in used
        )
        expected = [uid for _, uid in pool[:count]]
        got = [u["unit_id"] for u in req["units"]]
        assert got == expected, (capability, got, pool[: count + 2])
        for u in req["units"]:
            assert u["eta_s"] == pytest.approx(truth[u["unit_id"]], rel=1e-6, abs=1e-3)
            assert u["position_source"] == "gps"
            assert u["route"]["coordinates"][0] == pytest.approx(
                [where[u["unit_id"]].lon, where[u["unit_id"]].lat], abs=1e-6
            )
        used.update(got)
        assert busy not in got and stale not in got
    fire = rec["requirements"][0]
    assert fire["excluded"] == {"not_available": 1, "stale_position": 1}

    # once the engines are assigned, only the rest of the plan is outstanding
    engines = [{"unit_id": u["unit_id"], "capability": "fire_suppression"} for u in fire["units"]]
    assert d.post(f"/incidents/{inc['id']}/assignments", json={"units": engines}).status_code == 201
    rest = d.get(f"/incidents/{inc['id']}/recommendations").json()
    assert [r["capability"] for r in rest["requirements"]] == ["ems_bls", "police"]


def test_unfilled_requirement_says_what_is_missing(
    riyadh_engine: Engine, api: dict[str, Api]
) -> None:
    segs = straight_segments(riyadh_engine)
    add_unit(riyadh_engine, "E-1", "fire_engine", segs[3].lon, segs[3].lat)
    add_unit(riyadh_engine, "E-2", "fire_engine", segs[4].lon, segs[4].lat, fix_age_s=5000)
    d = api["dispatcher"]
    inc = d.post(
        "/incidents",
        json={"type": "building_fire", "location": {"lon": segs[40].lon, "lat": segs[40].lat}},
    ).json()
    rec = d.get(f"/incidents/{inc['id']}/recommendations").json()
    assert rec["complete"] is False
    assert {u["capability"]: u["missing"] for u in rec["unfilled"]} == {
        "fire_suppression": 1,
        "ems_bls": 1,
        "police": 1,
    }
    fire = rec["requirements"][0]
    assert len(fire["units"]) == 1 and fire["excluded"] == {"stale_position": 1}


def test_unit_without_any_fix_is_routed_from_its_station(
    riyadh_engine: Engine, api: dict[str, Api]
) -> None:
    with riyadh_engine.connect() as conn:
        station = conn.execute(
            text("""
            SELECT s.id FROM station s JOIN agency a ON a.id = s.agency_id
            WHERE a.code = 'red_crescent' ORDER BY s.snap_distance_m, s.id LIMIT 1""")
        ).scalar_one()
    uid = add_unit(riyadh_engine, "SRC-home", "ambulance_als", station_id=station, fix_age_s=None)
    seg = straight_segments(riyadh_engine)[30]
    d = api["dispatcher"]
    inc = d.post(
        "/incidents",
        json={"type": "traffic_accident_injuries", "location": {"lon": seg.lon, "lat": seg.lat}},
    ).json()
    rec = d.get(f"/incidents/{inc['id']}/recommendations").json()
    ems = rec["requirements"][1]
    assert ems["capability"] == "ems_als"
    assert [u["unit_id"] for u in ems["units"]] == [uid]
    assert ems["units"][0]["position_source"] == "station"


def _split_police_jurisdictions(engine: Engine, lon_split: float) -> None:
    """Two police jurisdictions dividing the road area west and east of ``lon_split``."""
    with engine.begin() as conn:
        conn.execute(
            text("""
            INSERT INTO jurisdiction (region_id, agency_id, code, name_en, name_ar, geom)
            SELECT r.id, a.id, j.code, j.en, j.ar, ST_Multi(ST_MakeEnvelope(j.x0, 24.6, j.x1,
                   24.9, 4326))
            FROM region r, agency a, (VALUES ('west', 'West precinct', 'المركز الغربي',
                                              46.5, :x),
                                             ('east', 'East precinct', 'المركز الشرقي',
                                              :x, 46.8)) AS j(code, en, ar, x0, x1)
            WHERE r.code = 'riyadh' AND a.code = 'police'"""),
            {"x": lon_split},
        )


def test_own_first_prefers_the_incidents_jurisdiction(
    riyadh_engine: Engine, api: dict[str, Api]
) -> None:
    segs = straight_segments(riyadh_engine)
    split = 46.651
    west = sorted((s for s in segs if s.lon < split), key=lambda s: split - s.lon)
    east = sorted((s for s in segs if s.lon > split), key=lambda s: s.lon - split)
    incident_seg, far_west, near_east = west[5], west[-5], east[5]
    _split_police_jurisdictions(riyadh_engine, split)
    w_unit = add_unit(riyadh_engine, "P-west", "patrol_car", far_west.lon, far_west.lat)
    e_unit = add_unit(riyadh_engine, "P-east", "patrol_car", near_east.lon, near_east.lat)

    d = api["dispatcher"]
    inc = d.post(
        "/incidents",
        json={"type": "gas_leak", "location": {"lon": incident_seg.lon, "lat": incident_seg.lat}},
    ).json()
    assert {j["agency"]: j["code"] for j in inc["jurisdictions"]}["police"] == "west"

    def police_pick(policy: str) -> list[dict[str, object]]:
        rec = d.get(f"/incidents/{inc['id']}/recommendations", params={"policy": policy}).json()
        assert rec["policy"] == policy
        return rec["requirements"][1]["units"]

    nearest = police_pick("nearest")
    own = police_pick("own_first")
    assert [u["unit_id"] for u in nearest] == [e_unit]
    assert [u["unit_id"] for u in own] == [w_unit]
    assert own[0]["eta_s"] > nearest[0]["eta_s"]

    # with no own unit available, own_first falls back to the others
    with riyadh_engine.begin() as conn:
        conn.execute(text("UPDATE unit SET status = 'out_of_service' WHERE id = :u"), {"u": w_unit})
    assert [u["unit_id"] for u in police_pick("own_first")] == [e_unit]

    features = d.get("/jurisdictions", params={"agency": "police"}).json()["features"]
    assert {"west", "east"} <= {f["properties"]["code"] for f in features}
    assert all(f["geometry"]["type"] == "MultiPolygon" for f in features)
