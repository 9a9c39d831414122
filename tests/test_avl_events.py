"""Server-Sent Events over real HTTP: a browser-like client connected to /api/v1/events
receives the position a unit reports, events published by another process's
transaction arrive on commit only, and heartbeats keep the stream alive."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import Engine

from dispatch_helpers import (
    Api,
    Server,
    Stream,
    add_unit,
    assert_error_shape,
    event_stream,
    live_server,
    token_for,
)
from najda import events


@pytest.fixture
def server(engine: Engine) -> Iterator[Server]:
    with live_server(engine) as s:
        s.app.config["NAJDA_SSE_HEARTBEAT_S"] = 0.3
        yield s


@pytest.fixture
def stream(engine: Engine, server: Server) -> Iterator[Stream]:
    with event_stream(server, token_for(engine, "planner")) as s:
        yield s


def test_a_reported_position_reaches_a_connected_client(
    engine: Engine, server: Server, stream: Stream
) -> None:
    admin = Api(server.url, token_for(engine, "admin"))
    unit = add_unit(engine, "SSE-1", "patrol_car")
    token = admin.post(f"/avl/units/{unit}/credentials", json={}).json()["token"]
    stream.wait_for_heartbeat()  # the stream is alive before anything is reported
    now = datetime.now(UTC).replace(microsecond=0)
    r = requests.post(
        server.url + "/avl/positions",
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
        json={"time": now.isoformat(), "lon": 46.61, "lat": 24.71, "speed": 3},
    )
    assert r.status_code == 200
    event, _ = stream.wait_for("unit.position")
    assert event["kind"] == "unit.position"
    payload = event["payload"]
    assert (payload["unit_id"], payload["call_sign"], payload["lon"], payload["lat"]) == (
        unit,
        "SSE-1",
        46.61,
        24.71,
    )
    assert payload["fix_time"] == now.isoformat()


def test_events_are_delivered_on_commit_only(engine: Engine, stream: Stream) -> None:
    with engine.connect() as conn:
        with conn.begin() as tx:
            events.publish(conn, "incident.updated", {"id": 1, "note": "rolled back"})
            tx.rollback()
        with conn.begin():
            events.publish(conn, "incident.updated", {"id": 2, "note": "committed"})
    event, _ = stream.wait_for("incident.updated")
    assert event["payload"] == {"id": 2, "note": "committed"}


def test_the_stream_needs_the_read_permission(server: Server) -> None:
    assert_error_shape(requests.get(server.url + "/events", timeout=10), 401, "unauthorized")
