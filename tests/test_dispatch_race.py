"""Two dispatchers, one unit: the database decides, exactly one assignment wins.

And an assignment racing a supervisor who takes the unit out of service waits for the
unit's row lock, then sees the unit out of service and is refused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from dispatch_helpers import (
    Api,
    add_unit,
    assert_error_shape,
    live_server,
    straight_segments,
    token_for,
)

RACERS = 12
WAIT_S = 30.0  # the bound on every wait below; a healthy run needs well under a second


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


def test_assignment_waiting_on_a_unit_taken_out_of_service_is_refused(
    riyadh_engine: Engine,
) -> None:
    """A supervisor's transaction holds the unit's row lock with the unit already out of
    service (what ``set_in_service`` does before it commits) while a dispatcher assigns
    the unit: the assignment must block on that lock and, once the supervisor commits,
    be refused with a 409 and leave nothing stored."""
    segs = straight_segments(riyadh_engine)
    unit = add_unit(riyadh_engine, "ENGINE-OOS", "fire_engine", segs[11].lon, segs[11].lat)
    with live_server(riyadh_engine) as server:
        api = Api(server.url, token_for(riyadh_engine, "dispatcher"))
        r = api.post(
            "/incidents",
            json={"type": "vehicle_fire", "location": {"lon": segs[12].lon, "lat": segs[12].lat}},
        )
        assert r.status_code == 201, r.text
        incident = r.json()
        api.get(f"/incidents/{incident['id']}/recommendations")  # graph loaded

        locked, release = threading.Event(), threading.Event()
        holder_pid: list[int] = []

        def supervisor() -> None:
            with riyadh_engine.begin() as conn:
                holder_pid.append(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
                conn.execute(
                    text("SELECT id FROM unit WHERE id = :u FOR UPDATE"), {"u": unit}
                ).one()
                conn.execute(
                    text("UPDATE unit SET status = 'out_of_service' WHERE id = :u"), {"u": unit}
                )
                locked.set()
                assert release.wait(WAIT_S), "the test never released the supervisor"
            # leaving the block commits: the unit is out of service from here on

        def dispatcher() -> requests.Response:
            return api.post(
                f"/incidents/{incident['id']}/assignments", json={"units": [{"unit_id": unit}]}
            )

        with ThreadPoolExecutor(2) as pool:
            held = pool.submit(supervisor)
            try:
                assert locked.wait(WAIT_S), "the supervisor never took the lock"
                assigned = pool.submit(dispatcher)
                _wait_until_blocked_by(riyadh_engine, holder_pid[0], assigned.done)
            finally:
                release.set()
            held.result(timeout=WAIT_S)
            answer = assigned.result(timeout=WAIT_S)

    error = assert_error_shape(answer, 409, "unit_unavailable")
    assert error["details"] == {
        "unit_id": unit,
        "call_sign": "ENGINE-OOS",
        "unit_status": "out_of_service",
    }
    assert "out of service" in error["message"]
    with riyadh_engine.connect() as conn:
        status = conn.execute(text("SELECT status FROM unit WHERE id = :u"), {"u": unit})
        assert status.scalar_one() == "out_of_service"
        assert conn.execute(text("SELECT count(*) FROM assignment")).scalar_one() == 0
        assert (
            conn.execute(
                text("SELECT status FROM incident WHERE id = :i"), {"i": incident["id"]}
            ).scalar_one()
            == "received"
        )
        assert (
            conn.execute(
                text("SELECT count(*) FROM incident_event WHERE kind = 'unit_assigned'")
            ).scalar_one()
            == 0
        )


def _wait_until_blocked_by(engine: Engine, pid: int, gave_up: Callable[[], bool]) -> None:
    """Return once some backend waits for a lock held by backend ``pid``.

    Nothing inside the server can signal "I am now waiting for the row lock", so this
    asks PostgreSQL, for at most ``WAIT_S``; ``gave_up`` ends the wait early (the request
    finished without ever waiting for the lock: the race this test needs never happened).
    """
    deadline = time.monotonic() + WAIT_S
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            if gave_up():
                raise AssertionError("the request finished without waiting for the lock")
            blocked = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE :p = ANY(pg_blocking_pids(pid))"),
                {"p": pid},
            ).scalar_one()
            conn.rollback()  # a fresh snapshot of pg_stat_activity next time
            if blocked:
                return
            time.sleep(0.01)
    raise AssertionError(f"no request blocked on the supervisor's lock within {WAIT_S} s")
