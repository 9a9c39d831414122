"""An incident from call to closure through the real HTTP API on real PostGIS."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from dispatch_helpers import (
    Api,
    add_unit,
    assert_error_shape,
    straight_segments,
)


def _unit_status(api: Api, unit_id: int) -> str:
    units = api.get("/units").json()["features"]
    return next(f["properties"]["status"] for f in units if f["id"] == unit_id)


def test_full_lifecycle_of_an_incident(riyadh_engine: Engine, api: dict[str, Api]) -> None:
    segs = straight_segments(riyadh_engine)
    place, near = segs[len(segs) // 2], segs[len(segs) // 3]
    unit = add_unit(riyadh_engine, "TR-1", "traffic_patrol", near.lon, near.lat)
    d = api["dispatcher"]

    r = d.post(
        "/incidents",
        json={
            "type": "traffic_accident_damage",
            "location": {"lon": place.lon, "lat": place.lat},
            "address": "طريق الملك فهد",
            "caller_number": "+966 50 123 4567",
        },
    )
    assert r.status_code == 201, r.text
    inc = r.json()
    assert r.headers["Location"].endswith(f"/api/v1/incidents/{inc['id']}")
    assert inc["status"] == "received" and inc["priority"] == 4  # the type's default
    year = datetime.now(ZoneInfo("Asia/Riyadh")).year
    assert inc["number"] == f"RYD-{year}-000001"
    assert inc["governorate"] is not None and inc["governorate"]["name_ar"]
    assert {j["agency"] for j in inc["jurisdictions"]} >= {"police", "traffic"}
    assert inc["timestamps"]["received"].endswith("+03:00")

    rec = d.get(f"/incidents/{inc['id']}/recommendations").json()
    assert rec["complete"] is True
    assert [u["unit_id"] for u in rec["requirements"][0]["units"]] == [unit]

    r = d.post(
        f"/incidents/{inc['id']}/assignments",
        json={"units": [{"unit_id": unit, "capability": "traffic"}]},
    )
    assert r.status_code == 201, r.text
    inc = r.json()
    assert inc["status"] == "dispatched" and inc["timestamps"]["dispatched"]
    (a,) = inc["assignments"]
    assert a["active"] and a["eta_s"] > 0 and a["route"]["type"] == "LineString"
    assert _unit_status(d, unit) == "dispatched"

    for status, unit_status in (
        ("en_route", "en_route"),
        ("on_scene", "on_scene"),
        ("cleared", "available"),
        ("closed", "available"),
    ):
        r = d.post(f"/incidents/{inc['id']}/transitions", json={"status": status})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == status
        assert r.json()["timestamps"][status].endswith("+03:00")
        assert _unit_status(d, unit) == unit_status

    final = d.get(f"/incidents/{inc['id']}").json()
    assert all(
        final["timestamps"][s]
        for s in ("received", "dispatched", "en_route", "on_scene", "cleared", "closed")
    )
    assert final["assignments"][0]["active"] is False
    assert final["assignments"][0]["release_reason"] == "cleared"

    events = d.get(f"/incidents/{inc['id']}/timeline").json()["events"]
    assert [(e["kind"], e["to_status"]) for e in events] == [
        ("created", "received"),
        ("unit_assigned", None),
        ("transition", "dispatched"),
        ("transition", "en_route"),
        ("transition", "on_scene"),
        ("transition", "cleared"),
        ("transition", "closed"),
    ]
    assert {e["actor"] for e in events} == {"dispatcher-1"}

    # closed is final for a dispatcher: an invalid step is a 409 carrying the state
    err = assert_error_shape(
        d.post(f"/incidents/{inc['id']}/transitions", json={"status": "en_route"}),
        409,
        "invalid_transition",
    )
    assert err["details"]["current_status"] == "closed"
    # reopening is a supervisor's decision
    assert_error_shape(
        d.post(f"/incidents/{inc['id']}/transitions", json={"status": "received"}), 403, "forbidden"
    )
    r = api["supervisor"].post(
        f"/incidents/{inc['id']}/transitions",
        json={"status": "received", "note": "caller rang again"},
    )
    assert r.status_code == 200 and r.json()["status"] == "received"
    assert r.json()["timestamps"]["closed"] is None


def test_cancel_frees_units_and_timeline_is_append_only(
    riyadh_engine: Engine, api: dict[str, Api]
) -> None:
    segs = straight_segments(riyadh_engine)
    unit = add_unit(riyadh_engine, "AMB-1", "ambulance_als", segs[5].lon, segs[5].lat)
    d = api["dispatcher"]
    inc = d.post(
        "/incidents",
        json={
            "type": "traffic_accident_injuries",
            "location": {"lon": segs[50].lon, "lat": segs[50].lat},
        },
    ).json()
    d.post(
        f"/incidents/{inc['id']}/assignments",
        json={"units": [{"unit_id": unit, "capability": "ems_als"}]},
    )
    r = d.post(f"/incidents/{inc['id']}/transitions", json={"status": "cancelled"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert _unit_status(d, unit) == "available"
    with pytest.raises(Exception, match="append-only"), riyadh_engine.begin() as conn:
        conn.execute(text("UPDATE incident_event SET kind = 'x'"))
    with pytest.raises(Exception, match="append-only"), riyadh_engine.begin() as conn:
        conn.execute(text("DELETE FROM incident_event"))


def test_priority_default_override_and_reason(riyadh_engine: Engine, api: dict[str, Api]) -> None:
    seg = straight_segments(riyadh_engine)[10]
    where = {"lon": seg.lon, "lat": seg.lat}
    d, s = api["dispatcher"], api["supervisor"]
    assert_error_shape(
        d.post("/incidents", json={"type": "building_fire", "location": where, "priority": 3}),
        400,
        "priority_reason_required",
    )
    r = d.post(
        "/incidents",
        json={
            "type": "building_fire",
            "location": where,
            "priority": 2,
            "priority_reason": "fire reported out, smoke only",
        },
    )
    assert r.status_code == 201 and r.json()["priority"] == 2
    iid = r.json()["id"]
    assert_error_shape(
        d.post(f"/incidents/{iid}/priority", json={"priority": 1, "reason": "x"}), 403
    )
    assert_error_shape(
        s.post(f"/incidents/{iid}/priority", json={"priority": 1, "reason": ""}),
        400,
        "priority_reason_required",
    )
    r = s.post(f"/incidents/{iid}/priority", json={"priority": 1, "reason": "people trapped"})
    assert r.status_code == 200 and r.json()["priority"] == 1
    kinds = [e["kind"] for e in d.get(f"/incidents/{iid}/timeline").json()["events"]]
    assert kinds == ["created", "priority_changed"]
