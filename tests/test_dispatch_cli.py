"""`najda user create` and `najda seed demo` against a real imported region."""

from __future__ import annotations

import re

import requests
from click.testing import CliRunner
from sqlalchemy import Engine, text

from dispatch_helpers import live_server, straight_segments
from najda.cli import main


def _run(engine: Engine, *args: str) -> str:
    env = {"DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_user_create_prints_a_working_token(riyadh_engine: Engine) -> None:
    out = _run(
        riyadh_engine,
        "user",
        "create",
        "--role",
        "planner",
        "--password",
        "plan-it-well",
        "--token",
        "notebook",
        "nora",
    )
    assert "user nora (planner) created" in out
    token = re.search(r"API token \(shown once\): (\S+)", out).group(1)  # type: ignore[union-attr]
    with live_server(riyadh_engine) as server:
        me = requests.get(
            server.url + "/auth/me", timeout=30, headers={"Authorization": f"Bearer {token}"}
        ).json()
    assert me["user"]["role"] == "planner"
    env = {"DATABASE_URL": riyadh_engine.url.render_as_string(hide_password=False)}
    again = CliRunner().invoke(
        main, ["user", "create", "--role", "admin", "--no-password", "nora"], env=env
    )
    assert again.exit_code == 1 and "exists" in again.output


CALL_SIGN = re.compile(r"^[A-Z]{1,3}-(\d{1,4}|POST\d|PATROL)-\d{1,2}$")


def _logins(output: str) -> dict[str, str]:
    return dict(re.findall(r"user: (\w+)\s+password: (\S+)", output))


def test_seed_demo_puts_units_on_the_roads_and_prints_logins(riyadh_engine: Engine) -> None:
    out = _run(riyadh_engine, "seed", "demo")
    with riyadh_engine.connect() as conn:
        agencies = conn.execute(
            text("""
            SELECT a.code, count(*) FROM unit u JOIN agency a ON a.id = u.agency_id
            GROUP BY a.code""")
        ).all()
        far = conn.execute(
            text("""
            SELECT count(*) FROM unit u LEFT JOIN station s ON s.id = u.station_id
            WHERE coalesce(s.snap_distance_m, 0) > 500
               OR (u.station_id IS NULL AND NOT EXISTS (
                   SELECT 1 FROM road_node n WHERE n.geom = u.last_position))""")
        ).scalar()
        signs = dict(conn.execute(text("SELECT call_sign, station_id FROM unit")).all())
    assert {a for a, _ in agencies} >= {"police", "traffic", "civil_defence", "red_crescent"}, (
        agencies
    )
    assert far == 0
    assert f"demo: {len(signs)} units created" in out
    # call signs a person can say on the radio: agency, station number, unit
    assert [s for s in signs if not CALL_SIGN.match(s)] == []
    stations = {s.rsplit("-", 1)[0]: station for s, station in signs.items() if station}
    assert len(stations) == len(set(stations.values()))  # one station number, one station

    again = _run(riyadh_engine, "seed", "demo")
    assert "demo: 0 units created" in again  # nothing twice
    with riyadh_engine.connect() as conn:
        assert dict(conn.execute(text("SELECT call_sign, station_id FROM unit")).all()) == signs

    # each run resets the demo passwords and prints them: the printed ones work
    first, creds = _logins(out), _logins(again)
    assert {"dispatcher", "planner"} <= set(creds)
    assert creds["dispatcher"] != first["dispatcher"]
    seg = straight_segments(riyadh_engine)[len(straight_segments(riyadh_engine)) // 2]
    with live_server(riyadh_engine) as server:
        stale = requests.post(
            server.url + "/auth/login",
            timeout=30,
            json={"username": "dispatcher", "password": first["dispatcher"]},
        )
        assert stale.status_code == 401
        browser = requests.Session()
        r = browser.post(
            server.url + "/auth/login",
            timeout=30,
            json={"username": "dispatcher", "password": creds["dispatcher"]},
        )
        assert r.status_code == 200
        inc = browser.post(
            server.url + "/incidents",
            timeout=30,
            json={
                "type": "traffic_accident_injuries",
                "location": {"lon": seg.lon, "lat": seg.lat},
            },
        ).json()
        rec = browser.get(server.url + f"/incidents/{inc['id']}/recommendations", timeout=60).json()
    assert rec["requirements"][0]["units"], rec  # a traffic patrol on the road network
    assert rec["requirements"][0]["units"][0]["position_source"] == "posted"
