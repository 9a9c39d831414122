"""Tracks out as GeoJSON for one unit and for several together (playback), over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import Engine

from dispatch_helpers import Api, Server, add_unit, assert_error_shape, live_server, token_for


@pytest.fixture
def server(engine: Engine) -> Iterator[Server]:
    with live_server(engine) as s:
        yield s


def _device_token(admin: Api, unit_id: int) -> str:
    return str(admin.post(f"/avl/units/{unit_id}/credentials", json={}).json()["token"])


def _send(server: Server, token: str, fixes: list[dict[str, object]]) -> None:
    r = requests.post(
        server.url + "/avl/positions",
        json={"fixes": fixes},
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200 and r.json()["refused"] == [], r.text


def test_tracks_for_one_unit_and_for_playback_of_several(engine: Engine, server: Server) -> None:
    admin, planner = (Api(server.url, token_for(engine, role)) for role in ("admin", "planner"))
    a, b = add_unit(engine, "A-1", "patrol_car"), add_unit(engine, "B-1", "fire_engine")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    at = [t0 + timedelta(seconds=10 * i) for i in range(6)]
    # sent out of order: the track comes back in time order
    _send(
        server,
        _device_token(admin, a),
        [
            {"time": at[i].isoformat(), "lon": 46.6 + i / 1000, "lat": 24.7, "speed": float(i)}
            for i in (3, 0, 5, 1, 4, 2)
        ],
    )
    _send(server, _device_token(admin, b), [{"time": at[2].isoformat(), "lon": 46.7, "lat": 24.8}])

    window = {"from": at[1].isoformat(), "to": at[5].isoformat()}  # [from, to)
    one = planner.get(f"/avl/units/{a}/track", params=window)
    assert one.status_code == 200 and one.headers["Content-Type"] == "application/geo+json"
    (feature,) = one.json()["features"]
    assert feature["geometry"]["type"] == "LineString"
    assert feature["geometry"]["coordinates"] == [[46.6 + i / 1000, 24.7] for i in (1, 2, 3, 4)]
    props = feature["properties"]
    assert props["times"] == [at[i].isoformat() for i in (1, 2, 3, 4)]
    assert props["speeds"] == [1.0, 2.0, 3.0, 4.0] and props["fix_count"] == 4
    # its last fix is 29 minutes old, beyond position_max_age_s (10 minutes)
    assert props["call_sign"] == "A-1" and props["stale"] is True
    assert props["last_fix_at"] == at[5].isoformat()

    both = planner.get("/avl/tracks", params={**window, "units": f"{b},{a}"}).json()
    assert [f["id"] for f in both["features"]] == [b, a]
    assert both["features"][0]["geometry"] == {"type": "Point", "coordinates": [46.7, 24.8]}
    assert both["start"] == at[1].isoformat() and both["end"] == at[5].isoformat()

    empty = planner.get(
        f"/avl/units/{a}/track",
        params={
            "from": (t0 - timedelta(hours=2)).isoformat(),
            "to": (t0 - timedelta(hours=1)).isoformat(),
        },
    )
    assert empty.json()["features"][0]["geometry"] is None

    assert_error_shape(planner.get("/avl/units/999999/track"), 404)
    assert_error_shape(planner.get("/avl/tracks", params={"units": "1,x"}), 400)
    assert_error_shape(
        planner.get(
            f"/avl/units/{a}/track",
            params={"from": at[0].isoformat(), "to": (at[0] + timedelta(days=2)).isoformat()},
        ),
        400,
    )
    assert_error_shape(requests.get(f"{server.url}/avl/units/{a}/track", timeout=30), 401)
