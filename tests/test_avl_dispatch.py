"""AVL meets dispatch on the imported Riyadh region, over real HTTP: a stale unit leaves the
recommendations and comes back with its next fix; field status reports move incidents
through the dispatch lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from sqlalchemy import Engine

from dispatch_helpers import (
    Api,
    Server,
    add_unit,
    assert_error_shape,
    straight_segments,
)
from najda.config import load_settings


def _credentials(api: dict[str, Api], unit_id: int) -> dict[str, Any]:
    r = api["admin"].post(f"/avl/units/{unit_id}/credentials", json={})
    assert r.status_code == 201, r.text
    return r.json()


def _recommended(api: dict[str, Api], incident_id: int) -> tuple[list[int], dict[str, int]]:
    rec = api["dispatcher"].get(f"/incidents/{incident_id}/recommendations").json()
    (req,) = rec["requirements"]
    return [u["unit_id"] for u in req["units"]], req["excluded"]


def test_a_stale_unit_drops_out_of_recommendations_and_returns_with_its_next_fix(
    riyadh_engine: Engine, server: Server, api: dict[str, Api]
) -> None:
    segs = straight_segments(riyadh_engine)
    place, near = segs[len(segs) // 2], segs[len(segs) // 3]
    unit = add_unit(riyadh_engine, "RYD-P-7", "patrol_car", fix_age_s=None)
    device = _credentials(api, unit)
    max_age = load_settings().position_max_age_s
    old = datetime.now(UTC) - timedelta(seconds=max_age + 60)
    r = requests.post(
        server.url + "/avl/positions",
        timeout=30,
        headers={"Authorization": f"Bearer {device['token']}"},
        json={"time": old.isoformat(), "lon": near.lon, "lat": near.lat},
    )
    assert r.status_code == 200 and r.json()["latest_moved"] is True

    inc = (
        api["dispatcher"]
        .post(
            "/incidents",
            json={"type": "security_report", "location": {"lon": place.lon, "lat": place.lat}},
        )
        .json()
    )
    chosen, excluded = _recommended(api, inc["id"])
    assert chosen == [] and excluded.get("stale_position") == 1
    units = api["dispatcher"].get("/units").json()["features"]
    assert next(f for f in units if f["id"] == unit)["properties"]["stale"] is True

    # its next fix comes through the OsmAnd protocol (Traccar Client)
    r = requests.get(
        server.url.removesuffix("/api/v1") + "/osmand",
        timeout=30,
        params={
            "id": device["device_id"],
            "token": device["token"],
            "lat": near.lat,
            "lon": near.lon,
            "timestamp": int(datetime.now(UTC).timestamp()),
        },
    )
    assert r.status_code == 200
    chosen, excluded = _recommended(api, inc["id"])
    assert chosen == [unit] and "stale_position" not in excluded


def _field(server: Server, token: str, status: str) -> requests.Response:
    return requests.post(
        server.url + "/avl/status",
        json={"status": status},
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
    )


def test_field_status_reports_follow_the_dispatch_lifecycle(
    riyadh_engine: Engine, server: Server, api: dict[str, Api]
) -> None:
    segs = straight_segments(riyadh_engine)
    place, near = segs[len(segs) // 2], segs[len(segs) // 3]
    unit = add_unit(riyadh_engine, "RYD-P-8", "patrol_car", near.lon, near.lat)
    token = _credentials(api, unit)["token"]
    d = api["dispatcher"]
    assert_error_shape(_field(server, token, "en_route"), 409, "no_assignment")
    assert_error_shape(_field(server, token, "cleared"), 400)
    assert_error_shape(_field(server, "njdd_nope", "en_route"), 401, "unauthorized")

    inc = d.post(
        "/incidents",
        json={"type": "security_report", "location": {"lon": place.lon, "lat": place.lat}},
    ).json()
    r = d.post(
        f"/incidents/{inc['id']}/assignments",
        json={"units": [{"unit_id": unit, "capability": "police"}]},
    )
    assert r.status_code == 201, r.text

    r = _field(server, token, "en_route")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "unit_id": unit,
        "status": "en_route",
        "incident_id": inc["id"],
        "incident_status": "en_route",
        "changed": True,
    }
    assert _field(server, token, "on_scene").json()["incident_status"] == "on_scene"
    assert _field(server, token, "on_scene").json()["changed"] is False
    # the lifecycle refuses going back; dispatch's 409 carries the current state
    err = assert_error_shape(_field(server, token, "en_route"), 409, "invalid_transition")
    assert err["details"]["current_status"] == "on_scene"

    r = _field(server, token, "available")
    assert r.status_code == 200 and r.json()["status"] == "available"
    final = d.get(f"/incidents/{inc['id']}").json()
    assert final["assignments"][0]["active"] is False
    events = d.get(f"/incidents/{inc['id']}/timeline").json()["events"]
    field = [(e["kind"], e["to_status"]) for e in events if e["actor"] == "RYD-P-8 (field)"]
    assert field == [
        ("transition", "en_route"),
        ("transition", "on_scene"),
        ("unit_released", None),
    ]


def test_each_unit_reports_its_own_progress_and_the_incident_follows_the_first(
    riyadh_engine: Engine, server: Server, api: dict[str, Api]
) -> None:
    segs = straight_segments(riyadh_engine)
    place = segs[len(segs) // 2]
    first, second = (
        add_unit(riyadh_engine, f"RYD-CD-{k}", "fire_engine", segs[k].lon, segs[k].lat)
        for k in (30, 60)
    )
    tokens = {u: _credentials(api, u)["token"] for u in (first, second)}
    d = api["dispatcher"]
    inc = d.post(
        "/incidents",
        json={"type": "vehicle_fire", "location": {"lon": place.lon, "lat": place.lat}},
    ).json()
    r = d.post(
        f"/incidents/{inc['id']}/assignments",
        json={"units": [{"unit_id": first}, {"unit_id": second}]},
    )
    assert r.status_code == 201, r.text

    def unit_statuses() -> dict[int, str]:
        units = d.get("/units").json()["features"]
        return {f["id"]: f["properties"]["status"] for f in units if f["id"] in tokens}

    # the first crew sets off: the incident follows it, the other crew stays dispatched
    assert _field(server, tokens[first], "en_route").json()["incident_status"] == "en_route"
    assert unit_statuses() == {first: "en_route", second: "dispatched"}
    # the second crew sets off later: only it moves
    r = _field(server, tokens[second], "en_route")
    assert (r.json()["changed"], r.json()["incident_status"]) == (True, "en_route")
    assert _field(server, tokens[second], "on_scene").json()["incident_status"] == "on_scene"
    assert unit_statuses() == {first: "en_route", second: "on_scene"}
    assert _field(server, tokens[first], "on_scene").json()["changed"] is True

    final = d.get(f"/incidents/{inc['id']}").json()
    times = {
        a["unit_id"]: (a["assigned_at"], a["en_route_at"], a["on_scene_at"])
        for a in final["assignments"]
    }
    assert all(t is not None for row in times.values() for t in row), times
    assert times[first][1] < times[second][1]  # the first crew set off first
    assert times[second][2] < times[first][2]  # and arrived second
    assert final["timestamps"]["en_route"] == times[first][1]
    assert final["timestamps"]["on_scene"] == times[second][2]
    events = d.get(f"/incidents/{inc['id']}/timeline").json()["events"]
    steps = [
        (e["kind"], e["to_status"] or e["details"].get("status"), e["details"].get("call_sign"))
        for e in events
        if "(field)" in (e["actor"] or "")
    ]
    assert steps == [
        ("transition", "en_route", "RYD-CD-30"),
        ("unit_status", "en_route", "RYD-CD-60"),
        ("transition", "on_scene", "RYD-CD-60"),
        ("unit_status", "on_scene", "RYD-CD-30"),
    ]


def test_a_dispatchers_step_moves_and_stamps_every_unit(
    riyadh_engine: Engine, api: dict[str, Api]
) -> None:
    segs = straight_segments(riyadh_engine)
    units = [
        add_unit(riyadh_engine, f"RYD-P-{k}", "patrol_car", segs[k].lon, segs[k].lat)
        for k in (31, 61)
    ]
    d = api["dispatcher"]
    inc = d.post(
        "/incidents",
        json={"type": "security_report", "location": {"lon": segs[90].lon, "lat": segs[90].lat}},
    ).json()
    d.post(f"/incidents/{inc['id']}/assignments", json={"units": [{"unit_id": u} for u in units]})
    r = d.post(f"/incidents/{inc['id']}/transitions", json={"status": "en_route"})
    assert r.status_code == 200, r.text
    stamped = {a["unit_id"]: a["en_route_at"] for a in r.json()["assignments"]}
    assert stamped == {u: r.json()["timestamps"]["en_route"] for u in units}
    assert all(a["on_scene_at"] is None for a in r.json()["assignments"])
