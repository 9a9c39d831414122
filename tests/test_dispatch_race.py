"""Two dispatchers, one unit: the database decides, exactly one assignment wins."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from dispatch_helpers import Api, add_unit, live_server, straight_segments, token_for

RACERS = 12


def test_many_dispatchers_race_for_one_unit(riyadh_engine: Engine) -> None:
    segs = straight_segments(riyadh_engine)
    unit = add_unit(riyadh_engine, "ENGINE-7", "fire_engine", segs[7].lon, segs[7].lat)
    with live_server(riyadh_engine) as server:
        tokens = [token_for(riyadh_engine, "dispatcher", name=f"d{i}") for i in range(RACERS)]
        apis = [Api(server.url, t) for t in tokens]
        incidents = [
            apis[i]
            .post(
                "/incidents",
                json={
                    "type": "vehicle_fire",
                    "location": {"lon": segs[100 + i].lon, "lat": segs[100 + i].lat},
                },
            )
            .json()
            for i in range(RACERS)
        ]
        apis[0].get(f"/incidents/{incidents[0]['id']}/recommendations")  # graph loaded
        barrier = threading.Barrier(RACERS)

        def race(i: int) -> requests.Response:
            barrier.wait()
            return apis[i].post(
                f"/incidents/{incidents[i]['id']}/assignments", json={"units": [{"unit_id": unit}]}
            )

        with ThreadPoolExecutor(RACERS) as pool:
            answers = list(pool.map(race, range(RACERS)))

    codes = sorted(r.status_code for r in answers)
    assert codes == [201] + [409] * (RACERS - 1), codes
    winner = next(incidents[i] for i, r in enumerate(answers) if r.status_code == 201)
    for r in answers:
        if r.status_code == 409:
            err = r.json()["error"]
            assert err["code"] == "unit_busy"
            assert err["details"]["held_by"] == {
                "incident_id": winner["id"],
                "number": winner["number"],
            }
            assert winner["number"] in err["message"]
    with riyadh_engine.connect() as conn:
        active = (
            conn.execute(
                text(
                    "SELECT incident_id FROM assignment WHERE unit_id = :u AND released_at IS NULL"
                ),
                {"u": unit},
            )
            .scalars()
            .all()
        )
        statuses = dict(conn.execute(text("SELECT id, status FROM incident")).all())
        events = conn.execute(
            text("SELECT count(*) FROM incident_event WHERE kind = 'unit_assigned'")
        ).scalar_one()
    assert active == [winner["id"]]
    assert events == 1
    assert [i for i, s in statuses.items() if s == "dispatched"] == [winner["id"]]


def test_database_itself_refuses_a_second_active_assignment(riyadh_engine: Engine) -> None:
    segs = straight_segments(riyadh_engine)
    unit = add_unit(riyadh_engine, "P-9", "patrol_car", segs[9].lon, segs[9].lat)
    with riyadh_engine.begin() as conn:
        ids = []
        for k in range(2):
            ids.append(
                conn.execute(
                    text("""
                INSERT INTO incident (number, region_id, incident_type_id, priority, geom)
                SELECT :n, r.id, t.id, 3, ST_SetSRID(ST_MakePoint(46.65, 24.74), 4326)
                FROM region r, incident_type t WHERE r.code = 'riyadh' AND t.code = 'gas_leak'
                RETURNING id"""),
                    {"n": f"T-{k}"},
                ).scalar_one()
            )
        conn.execute(
            text("INSERT INTO assignment (incident_id, unit_id) VALUES (:i, :u)"),
            {"i": ids[0], "u": unit},
        )
    with (
        pytest.raises(IntegrityError, match="ux_assignment_active_unit"),
        riyadh_engine.begin() as conn,
    ):
        conn.execute(
            text("INSERT INTO assignment (incident_id, unit_id) VALUES (:i, :u)"),
            {"i": ids[1], "u": unit},
        )
    with riyadh_engine.begin() as conn:  # a released assignment frees the unit
        conn.execute(text("UPDATE assignment SET released_at = now()"))
        conn.execute(
            text("INSERT INTO assignment (incident_id, unit_id) VALUES (:i, :u)"),
            {"i": ids[1], "u": unit},
        )


def test_concurrent_calls_get_distinct_consecutive_numbers(riyadh_engine: Engine) -> None:
    segs = straight_segments(riyadh_engine)
    with live_server(riyadh_engine) as server:
        api = Api(server.url, token_for(riyadh_engine, "dispatcher"))
        barrier = threading.Barrier(8)

        def call(i: int) -> str:
            barrier.wait()
            r = api.post(
                "/incidents",
                json={
                    "type": "road_obstruction",
                    "location": {"lon": segs[i].lon, "lat": segs[i].lat},
                },
            )
            assert r.status_code == 201, r.text
            return str(r.json()["number"])

        with ThreadPoolExecutor(8) as pool:
            numbers = sorted(pool.map(call, range(8)))
    year = datetime.now(ZoneInfo("Asia/Riyadh")).year
    assert numbers == [f"RYD-{year}-{n:06d}" for n in range(1, 9)]
