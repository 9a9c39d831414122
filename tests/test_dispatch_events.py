"""The dispatch core's live events over real HTTP: a client connected to /api/v1/events
sees what another client does (incidents created, assigned, moved, released), and a
change that fails publishes nothing (the race loser's rolled-back transaction)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, text

from dispatch_helpers import (
    Api,
    Server,
    Stream,
    add_unit,
    event_stream,
    live_server,
    straight_segments,
    token_for,
)
from najda.web.api.events import event_hub

RACERS = 6


@pytest.fixture
def stream(riyadh_engine: Engine, server: Server) -> Iterator[Stream]:
    server.app.config["NAJDA_SSE_HEARTBEAT_S"] = 0.5
    with event_stream(server, token_for(riyadh_engine, "planner", name="watcher")) as s:
        yield s


def _brief(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(kind, status or unit) of the dispatch events, in the order they arrived."""
    out = []
    for e in events:
        p = e["payload"]
        if e["kind"].startswith("assignment."):
            out.append((e["kind"], p["incident_id"], p["unit_id"]))
        elif e["kind"].startswith("incident."):
            out.append((e["kind"], p["id"], p["status"]))
    return out


def test_another_clients_incident_reaches_a_connected_client(
    riyadh_engine: Engine, api: dict[str, Api], stream: Stream
) -> None:
    segs = straight_segments(riyadh_engine)
    place = segs[len(segs) // 2]
    unit = add_unit(riyadh_engine, "EV-P-1", "patrol_car", segs[40].lon, segs[40].lat)
    d = api["dispatcher"]

    r = d.post(
        "/incidents",
        json={"type": "security_report", "location": {"lon": place.lon, "lat": place.lat}},
    )
    assert r.status_code == 201, r.text
    inc = r.json()
    (created,) = stream.events_until("incident.created", id=inc["id"])
    assert created["payload"] == {
        "id": inc["id"],
        "number": inc["number"],
        "status": "received",
        "priority": inc["priority"],
        "type": "security_report",
        "lon": place.lon,
        "lat": place.lat,
    }

    r = d.post(
        f"/incidents/{inc['id']}/assignments",
        json={"units": [{"unit_id": unit, "capability": "police"}]},
    )
    assert r.status_code == 201, r.text
    assignment_id = r.json()["assignments"][0]["id"]
    seen = stream.events_until("incident.updated", id=inc["id"])
    assert _brief(seen) == [
        ("assignment.created", inc["id"], unit),
        ("incident.updated", inc["id"], "dispatched"),
    ]
    assert seen[0]["payload"]["id"] == assignment_id
    assert seen[1]["payload"]["change"] == "transition"
    assert seen[1]["payload"]["from_status"] == "received"

    assert (
        api["supervisor"]
        .post(f"/incidents/{inc['id']}/priority", json={"priority": 1, "reason": "weapon seen"})
        .status_code
        == 200
    )
    (updated,) = stream.events_until("incident.updated", id=inc["id"])
    assert (updated["payload"]["change"], updated["payload"]["priority"]) == ("priority", 1)

    assert (
        d.post(f"/incidents/{inc['id']}/transitions", json={"status": "cancelled"}).status_code
        == 200
    )
    seen = stream.events_until("assignment.released", incident_id=inc["id"])
    assert _brief(seen) == [
        ("incident.updated", inc["id"], "cancelled"),
        ("assignment.released", inc["id"], unit),
    ]
    assert seen[1]["payload"]["id"] == assignment_id


def test_a_failed_assignment_publishes_nothing(
    riyadh_engine: Engine, server: Server, api: dict[str, Api], stream: Stream
) -> None:
    # Each racer asks for its own free unit and the one shared unit, in one request: the
    # free unit (lower id, assigned first) is published inside the transaction, then the
    # shared unit is refused and the whole transaction rolls back with its events.
    segs = straight_segments(riyadh_engine)
    own = [
        add_unit(riyadh_engine, f"EV-OWN-{i}", "fire_engine", segs[i].lon, segs[i].lat)
        for i in range(RACERS)
    ]
    shared = add_unit(riyadh_engine, "EV-SHARED", "fire_engine", segs[90].lon, segs[90].lat)
    racers = [
        Api(server.url, token_for(riyadh_engine, "dispatcher", name=f"ev-d{i}"))
        for i in range(RACERS)
    ]
    incidents = [
        racers[i]
        .post(
            "/incidents",
            json={
                "type": "vehicle_fire",
                "location": {"lon": segs[100 + i].lon, "lat": segs[100 + i].lat},
            },
        )
        .json()["id"]
        for i in range(RACERS)
    ]
    stream.events_until("incident.created", id=incidents[-1])
    barrier = threading.Barrier(RACERS)

    def race(i: int) -> requests.Response:
        barrier.wait()
        return racers[i].post(
            f"/incidents/{incidents[i]}/assignments",
            json={"units": [{"unit_id": own[i]}, {"unit_id": shared}]},
        )

    with ThreadPoolExecutor(RACERS) as pool:
        answers = list(pool.map(race, range(RACERS)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] + [409] * (RACERS - 1), codes
    winner = next(i for i, r in enumerate(answers) if r.status_code == 201)

    # a later, successful change marks the end of everything the race published
    marker = incidents[(winner + 1) % RACERS]
    assert (
        api["supervisor"]
        .post(f"/incidents/{marker}/priority", json={"priority": 1, "reason": "marker"})
        .status_code
        == 200
    )
    seen = stream.events_until("incident.updated", id=marker, change="priority")
    assert _brief(seen) == [
        ("assignment.created", incidents[winner], own[winner]),
        ("assignment.created", incidents[winner], shared),
        ("incident.updated", incidents[winner], "dispatched"),
        ("incident.updated", marker, "received"),
    ]
    with riyadh_engine.connect() as conn:
        held = (
            conn.execute(
                text("SELECT unit_id FROM assignment WHERE released_at IS NULL ORDER BY unit_id")
            )
            .scalars()
            .all()
        )
    assert held == sorted([own[winner], shared])


def test_the_listener_thread_stops_with_the_server(engine: Engine) -> None:
    token = token_for(engine, "planner")
    with live_server(engine) as server, event_stream(server, token), server.app.app_context():
        hub = event_hub()
        assert hub.running and hub.listening
    assert not hub.running  # nothing left to reconnect to a dropped test database
