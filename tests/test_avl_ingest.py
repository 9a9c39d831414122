"""Field units report fixes over real HTTP into real PostGIS: the JSON API and both
formats of the OsmAnd protocol; duplicates, late fixes, refusals and credentials."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, text

from dispatch_helpers import Api, Server, add_unit, assert_error_shape, live_server, token_for

RIYADH = (46.6753, 24.7136)  # lon, lat


@dataclass
class Device:
    unit_id: int
    device_id: str
    token: str
    root: str  # http://127.0.0.1:port

    def api(self, path: str, body: Any, token: str | None = "same") -> requests.Response:
        bearer = self.token if token == "same" else token
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        return requests.post(f"{self.root}/api/v1{path}", json=body, headers=headers, timeout=30)


@pytest.fixture
def server(engine: Engine) -> Iterator[Server]:
    with live_server(engine) as s:
        yield s


@pytest.fixture
def admin(engine: Engine, server: Server) -> Api:
    return Api(server.url, token_for(engine, "admin"))


def _device(engine: Engine, server: Server, admin: Api, call_sign: str) -> Device:
    unit_id = add_unit(engine, call_sign, "patrol_car")
    issued = admin.post(f"/avl/units/{unit_id}/credentials", json={})
    assert issued.status_code == 201, issued.text
    body = issued.json()
    return Device(unit_id, body["device_id"], body["token"], server.url.removesuffix("/api/v1"))


@pytest.fixture
def device(engine: Engine, server: Server, admin: Api) -> Device:
    return _device(engine, server, admin, "RYD-P-101")


def ago(seconds: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=seconds)


def fix(t: datetime, dx: float = 0.0, **extra: Any) -> dict[str, Any]:
    return {"time": t.isoformat(), "lon": RIYADH[0] + dx, "lat": RIYADH[1], **extra}


def track(engine: Engine, unit_id: int) -> list[tuple[datetime, float, float]]:
    with engine.connect() as conn:
        return [
            (r.fix_time, r.lon, r.lat)
            for r in conn.execute(
                text(
                    "SELECT fix_time, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM position "
                    "WHERE unit_id = :u ORDER BY fix_time"
                ),
                {"u": unit_id},
            )
        ]


def latest(engine: Engine, unit_id: int) -> tuple[datetime | None, float | None]:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT last_fix_at, ST_X(last_position) AS lon FROM unit WHERE id = :u"),
            {"u": unit_id},
        ).one()
    return row.last_fix_at, row.lon


# -- the JSON API ----------------------------------------------------------------------------
def test_json_fix_is_stored_and_becomes_the_latest_position(engine: Engine, device: Device) -> None:
    t = ago(30)
    r = device.api("/avl/positions", fix(t, speed=12.5, heading=90, accuracy=4, battery=80))
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 1 and r.json()["latest_moved"] is True
    assert track(engine, device.unit_id) == [(t, RIYADH[0], RIYADH[1])]
    assert latest(engine, device.unit_id) == (t, RIYADH[0])
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT speed, heading, accuracy, battery, received_at FROM position")
        ).one()
    assert (row.speed, row.heading, row.accuracy, row.battery) == (12.5, 90, 4, 80)
    assert row.received_at > t


def test_a_resent_fix_is_stored_once(engine: Engine, device: Device) -> None:
    t = ago(20)
    first = device.api("/avl/positions", fix(t)).json()
    again = device.api("/avl/positions", fix(t)).json()
    batch = device.api("/avl/positions", {"fixes": [fix(t), fix(t), fix(ago(10))]}).json()
    assert (first["stored"], again["stored"], again["duplicates"]) == (1, 0, 1)
    assert (batch["stored"], batch["duplicates"]) == (1, 2)
    assert len(track(engine, device.unit_id)) == 2


def test_a_late_fix_joins_the_track_without_moving_the_latest_back(
    engine: Engine, device: Device
) -> None:
    new, old = ago(10), ago(300)
    device.api("/avl/positions", fix(new, dx=0.01))
    r = device.api("/avl/positions", fix(old, dx=-0.01)).json()
    assert r["stored"] == 1 and r["latest_moved"] is False
    assert [p[0] for p in track(engine, device.unit_id)] == [old, new]
    assert latest(engine, device.unit_id) == (new, pytest.approx(RIYADH[0] + 0.01))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (lambda: fix(datetime.now(UTC) + timedelta(minutes=10)), "future_fix"),
        (lambda: {**fix(ago(5)), "lat": 91.0}, "impossible_coordinates"),
        (lambda: {**fix(ago(5)), "lon": -180.5}, "impossible_coordinates"),
        (lambda: {**fix(ago(5)), "lat": 0, "lon": 0}, "no_fix"),
        (lambda: fix(ago(5), speed=400), "impossible_speed"),
    ],
)
def test_future_fixes_and_impossible_coordinates_are_refused(
    engine: Engine, device: Device, body: Any, reason: str
) -> None:
    err = assert_error_shape(device.api("/avl/positions", body()), 422, "fix_refused")
    assert err["details"]["reason"] == reason
    assert track(engine, device.unit_id) == []
    assert latest(engine, device.unit_id) == (None, None)


def test_a_batch_stores_the_good_fixes_and_lists_the_refused(
    engine: Engine, device: Device
) -> None:
    future = datetime.now(UTC) + timedelta(hours=1)
    fixes = [fix(ago(30)), fix(future), {**fix(ago(20)), "lat": -95}, fix(ago(10))]
    r = device.api("/avl/positions", {"fixes": fixes})
    assert r.status_code == 200
    assert [(x["index"], x["code"]) for x in r.json()["refused"]] == [
        (1, "future_fix"),
        (2, "impossible_coordinates"),
    ]
    assert r.json()["stored"] == 2
    assert latest(engine, device.unit_id)[0] == ago(10)


def test_batch_size_and_malformed_fixes_are_400(engine: Engine, device: Device) -> None:
    from najda.avl.ingest import MAX_BATCH

    too_many = {"fixes": [fix(ago(i + 1)) for i in range(MAX_BATCH + 1)]}
    err = assert_error_shape(device.api("/avl/positions", too_many), 400, "invalid_input")
    assert err["details"]["max"] == MAX_BATCH
    err = assert_error_shape(
        device.api(
            "/avl/positions", {"fixes": [fix(ago(1)), {"time": "yesterday", "lat": 1, "lon": 1}]}
        ),
        400,
    )
    assert err["details"] == {"field": "time", "index": 1}
    assert_error_shape(device.api("/avl/positions", {**fix(ago(1)), "lat": "north"}), 400)
    assert track(engine, device.unit_id) == []


def test_wrong_missing_and_revoked_tokens_get_the_same_401(
    engine: Engine, device: Device, admin: Api
) -> None:
    answers = [
        device.api("/avl/positions", fix(ago(5)), token=t)
        for t in ("njdd_wrong", None, device.token + "x")
    ]
    for r in answers:
        assert_error_shape(r, 401, "unauthorized")
    assert len({r.text for r in answers}) == 1
    assert admin.delete(f"/avl/units/{device.unit_id}/credentials").status_code == 200
    assert device.api("/avl/positions", fix(ago(5))).text == answers[0].text
    assert track(engine, device.unit_id) == []


def test_only_an_admin_issues_credentials_and_reissuing_replaces_the_token(
    engine: Engine, server: Server, device: Device, admin: Api
) -> None:
    dispatcher = Api(server.url, token_for(engine, "dispatcher"))
    assert_error_shape(
        dispatcher.post(f"/avl/units/{device.unit_id}/credentials", json={}), 403, "forbidden"
    )
    assert_error_shape(admin.post("/avl/units/999999/credentials", json={}), 404)
    again = admin.post(
        f"/avl/units/{device.unit_id}/credentials", json={"device_id": "traccar-4711"}
    ).json()
    assert again["device_id"] == "traccar-4711" and again["token"] != device.token
    assert again["osmand_url"].endswith(f"/osmand?token={again['token']}")
    assert device.api("/avl/positions", fix(ago(5))).status_code == 401
    assert device.api("/avl/positions", fix(ago(5)), token=again["token"]).status_code == 200
    other = add_unit(engine, "RYD-P-102", "patrol_car")
    taken = admin.post(f"/avl/units/{other}/credentials", json={"device_id": "traccar-4711"})
    assert_error_shape(taken, 409, "device_id_taken")
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT token_hash FROM unit WHERE id = :u"), {"u": device.unit_id}
        ).scalar_one()
    assert again["token"] not in stored and stored.startswith("sha256$")


# -- the OsmAnd protocol -----------------------------------------------------------------------
def osmand(
    device: Device,
    *,
    method: str = "GET",
    device_id: str | None = None,
    token: str | None = "same",
    **params: Any,
) -> requests.Response:
    query: dict[str, Any] = {"id": device_id or device.device_id}
    if token is not None:
        query["token"] = device.token if token == "same" else token
    url = f"{device.root}/osmand"
    if method == "GET":
        return requests.get(url, params={**query, **params}, timeout=30)
    return requests.post(url, params=query, data=params, timeout=30)


def test_osmand_query_and_form_reports_are_stored(engine: Engine, device: Device) -> None:
    t1, t2, t3 = ago(60), ago(40), ago(20)
    r = osmand(
        device,
        lat=24.7,
        lon=46.6,
        timestamp=int(t1.timestamp()),
        speed=10,
        bearing=45,
        altitude=610,
        accuracy=5,
        batt=77,
    )
    assert (r.status_code, r.content) == (200, b"")
    r = osmand(
        device,
        method="POST",
        lat=24.71,
        lon=46.61,
        timestamp=int(t2.timestamp() * 1000),
        heading=90,
    )
    assert (r.status_code, r.content) == (200, b"")
    r = osmand(
        device,
        deviceid=device.device_id,
        location="24.72,46.62",
        timestamp=t3.isoformat().replace("+00:00", "Z"),
    )
    assert r.status_code == 200
    assert track(engine, device.unit_id) == [
        (t1, 46.6, 24.7),
        (t2, 46.61, 24.71),
        (t3, 46.62, 24.72),
    ]
    with engine.connect() as conn:
        first = conn.execute(
            text(
                "SELECT speed, heading, altitude, accuracy, battery "
                "FROM position ORDER BY fix_time LIMIT 1"
            )
        ).one()
    # Traccar Client sends speed in knots; Najda stores m/s
    assert first.speed == pytest.approx(10 * 1852 / 3600)
    assert (first.heading, first.altitude, first.accuracy, first.battery) == (45, 610, 5, 77)
    assert latest(engine, device.unit_id) == (t3, 46.62)


def traccar_json(device: Device, t: datetime, **coords: Any) -> dict[str, Any]:
    return {
        "device_id": device.device_id,
        "location": {
            "timestamp": t.isoformat().replace("+00:00", ".000Z"),
            "is_moving": True,
            "event": "motionchange",
            "odometer": 1200,
            "coords": {
                "latitude": RIYADH[1],
                "longitude": RIYADH[0],
                "speed": 8.0,
                "heading": -1,
                "accuracy": 6.5,
                "altitude": 600.0,
                **coords,
            },
            "battery": {"level": 0.42, "is_charging": False},
            "activity": {"type": "in_vehicle"},
            "extras": {},
        },
    }


def test_traccar_client_json_is_stored(engine: Engine, device: Device) -> None:
    t = ago(15)
    url = f"{device.root}/osmand?token={device.token}"
    r = requests.post(url, json=traccar_json(device, t), timeout=30)
    assert (r.status_code, r.content) == (200, b"")
    again = requests.post(url, json=traccar_json(device, t), timeout=30)
    assert again.status_code == 200
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT fix_time, speed, heading, accuracy, battery FROM position")
        ).all()
    assert [(r.fix_time, r.speed, r.heading, r.accuracy, r.battery) for r in rows] == [
        (t, 8.0, None, 6.5, 42.0)
    ]


def test_osmand_refusals_are_answered_200_and_not_stored(engine: Engine, device: Device) -> None:
    future = int((datetime.now(UTC) + timedelta(hours=2)).timestamp())
    r = osmand(device, lat=24.7, lon=46.6, timestamp=future)
    assert r.status_code == 200 and r.headers["X-Najda-Refused"] == "future_fix"
    r = osmand(device, lat=124.7, lon=46.6)
    assert r.status_code == 200 and r.headers["X-Najda-Refused"] == "impossible_coordinates"
    r = requests.post(
        f"{device.root}/osmand?token={device.token}",
        json=traccar_json(device, ago(5), latitude=-91.0),
        timeout=30,
    )
    assert r.status_code == 200 and r.headers["X-Najda-Refused"] == "impossible_coordinates"
    assert track(engine, device.unit_id) == []


def test_osmand_unknown_device_and_wrong_token_get_the_same_401(
    engine: Engine, device: Device
) -> None:
    point = {"lat": 24.7, "lon": 46.6}
    answers = [
        osmand(device, device_id="no-such-device", **point),
        osmand(device, token="njdd_wrong", **point),
        osmand(device, token=None, **point),
        requests.post(
            f"{device.root}/osmand?token=njdd_wrong", json=traccar_json(device, ago(5)), timeout=30
        ),
        requests.post(
            f"{device.root}/osmand?token={device.token}",
            json={**traccar_json(device, ago(5)), "device_id": "ghost"},
            timeout=30,
        ),
    ]
    assert [r.status_code for r in answers] == [401] * 5
    assert len({r.text for r in answers}) == 1
    assert_error_shape(answers[0], 401, "unauthorized")
    assert track(engine, device.unit_id) == []


def test_osmand_without_id_or_with_unreadable_values_is_400(device: Device) -> None:
    r = requests.get(f"{device.root}/osmand", params={"lat": 1, "lon": 2}, timeout=30)
    assert r.status_code == 400
    assert osmand(device, lat="abc", lon=46.6).status_code == 400
    assert osmand(device, lat=24.7, lon=46.6, timestamp="soon").status_code == 400
