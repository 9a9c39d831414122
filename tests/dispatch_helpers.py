"""Helpers shared by tests/test_dispatch_*.py: a real server, users, units, road facts.

Nothing here re-implements production wiring: the app comes from ``create_app``, users
and tokens from :mod:`najda.dispatch.auth`; units are plain rows as an importer or the
AVL feed would leave them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import networkx as nx
import requests
from sqlalchemy import Engine, text
from werkzeug.serving import make_server

from najda.config import load_settings, project_root
from najda.dispatch.auth import create_user, issue_token
from najda.web import create_app
from najda.web.api.events import stop_event_hub

ROLES = ("dispatcher", "supervisor", "planner", "admin")
PASSWORD = "test-password-1"


def app_for(engine: Engine, **overrides: Any) -> Any:
    """The real app over ``engine``; ``overrides`` win over the test defaults."""
    defaults: dict[str, Any] = {
        "geo_data_dir": project_root() / "geo_data",
        "online": False,
        "secret_key": "test-secret",
    }
    settings = load_settings().with_overrides(
        database_url=engine.url.render_as_string(hide_password=False),
        **{**defaults, **overrides},
    )
    return create_app(settings, config={"TESTING": True})


@dataclass
class Server:
    url: str
    app: Any


@contextmanager
def live_server(engine: Engine, **overrides: Any) -> Iterator[Server]:
    """The real app behind werkzeug's threaded server on a free port.

    At teardown the event stream's LISTEN thread is stopped too: it would otherwise try
    to reconnect to a test database that is about to be dropped.
    """
    app = app_for(engine, **overrides)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(url=f"http://127.0.0.1:{server.port}/api/v1", app=app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        stop_event_hub(app)
        app.extensions["najda"].engine.dispose()


class Api:
    """A caller of the running server with one API token."""

    def __init__(self, base: str, token: str | None) -> None:
        self.base = base
        self.http = requests.Session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.http.get(self.base + path, timeout=60, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> requests.Response:
        return self.http.post(self.base + path, json=json, timeout=60, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.http.delete(self.base + path, timeout=60, **kw)


def token_for(
    engine: Engine, role: str, *, name: str | None = None, password: str | None = None
) -> str:
    """An API token of a new user with ``role`` (a service account without password)."""
    user = create_user(engine, username=name or f"{role}-1", role=role, password=password)
    return issue_token(engine, user_id=user.id, name="tests")[1]


def sign_in(client: Any, engine: Engine, *, role: str = "planner", name: str | None = None) -> Any:
    """A Flask test ``client`` logged in (``POST /api/v1/auth/login``, a session cookie)
    as a new person with ``role``."""
    username = name or f"{role}-web"
    create_user(engine, username=username, role=role, password=PASSWORD)
    response = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.get_data(as_text=True)
    return client


def clients(engine: Engine, base: str) -> dict[str, Api]:
    return {role: Api(base, token_for(engine, role)) for role in ROLES}


def assert_error_shape(
    response: requests.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text[:500])
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


# -- live events -------------------------------------------------------------------------
class Stream:
    """A reader of one Server-Sent Events response, message by message."""

    def __init__(self, response: requests.Response) -> None:
        self.response = response
        self.lines = response.iter_lines(chunk_size=1, decode_unicode=True)

    def next_message(self, deadline: float) -> list[str]:
        message: list[str] = []
        for line in self.lines:
            if line == "":
                return message
            message.append(line)
            if time.monotonic() > deadline:
                break
        raise AssertionError(f"stream ended or timed out with {message}")

    def wait_for_heartbeat(self, timeout_s: float = 10.0) -> None:
        """Read until a heartbeat comment arrives (events before it are dropped)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.next_message(deadline) == [": heartbeat"]:
                return
        raise AssertionError(f"no heartbeat within {timeout_s} s")

    def wait_for(self, kind: str, timeout_s: float = 10.0) -> tuple[dict[str, Any], int]:
        """The first event of ``kind`` and how many heartbeats came before it."""
        deadline, beats = time.monotonic() + timeout_s, 0
        while time.monotonic() < deadline:
            message = self.next_message(deadline)
            beats += message == [": heartbeat"]
            fields = dict(line.split(": ", 1) for line in message if not line.startswith(":"))
            if fields.get("event") == kind:
                return json.loads(fields["data"]), beats
        raise AssertionError(f"no {kind} event within {timeout_s} s")

    def events_until(
        self, kind: str, *, timeout_s: float = 10.0, **match: Any
    ) -> list[dict[str, Any]]:
        """Every event up to and including the first ``kind`` whose payload has ``match``."""
        deadline, seen = time.monotonic() + timeout_s, []
        while time.monotonic() < deadline:
            message = self.next_message(deadline)
            data = next((line[6:] for line in message if line.startswith("data: ")), None)
            if data is None:
                continue
            event = json.loads(data)
            seen.append(event)
            payload = event["payload"]
            if event["kind"] == kind and all(payload.get(k) == v for k, v in match.items()):
                return seen
        raise AssertionError(f"no {kind} {match} within {timeout_s} s; saw {seen}")


@contextmanager
def event_stream(server: Server, token: str) -> Iterator[Stream]:
    """A connected ``GET /events`` stream (the first message read: connected)."""
    response = requests.get(
        server.url + "/events",
        stream=True,
        timeout=(5, 10),
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        assert response.status_code == 200, response.text[:500]
        assert response.headers["Content-Type"].startswith("text/event-stream")
        stream = Stream(response)
        assert stream.next_message(time.monotonic() + 10) == ["retry: 3000", ": connected"]
        yield stream
    finally:
        response.close()


# -- units -----------------------------------------------------------------------------
def add_unit(
    engine: Engine,
    call_sign: str,
    unit_type: str,
    lon: float | None = None,
    lat: float | None = None,
    *,
    fix_age_s: float | None = 0.0,
    station_id: int | None = None,
    status: str = "available",
) -> int:
    """A unit of ``unit_type`` (its agency's), with a GPS fix ``fix_age_s`` old."""
    fix_at = (
        datetime.now(UTC) - timedelta(seconds=fix_age_s)
        if fix_age_s is not None and lon is not None
        else None
    )
    with engine.begin() as conn:
        return int(
            conn.execute(
                text("""
            INSERT INTO unit (call_sign, unit_type_id, agency_id, station_id, status,
                              last_position, last_fix_at)
            SELECT :cs, t.id, t.agency_id, :station, :status,
                   CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL
                        ELSE ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) END, :fix
            FROM unit_type t WHERE t.code = :type RETURNING id"""),
                {
                    "cs": call_sign,
                    "type": unit_type,
                    "station": station_id,
                    "status": status,
                    "lon": lon,
                    "lat": lat,
                    "fix": fix_at,
                },
            ).scalar_one()
        )


# -- road facts, read straight from road_edge --------------------------------------------
@dataclass(frozen=True)
class Segment:
    """A straight two-way or one-way road piece: its directed edges and midpoint."""

    edges: tuple[tuple[int, int, float], ...]  # (u, v, travel_time_s) per direction
    lon: float
    lat: float


def straight_segments(engine: Engine) -> list[Segment]:
    """Every two-vertex road segment between two nodes joined by no other edge.

    The midpoint of a straight segment is half-way in any local frame, so a point placed
    there is exactly half an edge's travel time from either end.
    """
    with engine.connect() as conn:
        rows = conn.execute(
            text("""
            WITH e AS (SELECT least(u, v) AS a, greatest(u, v) AS b, u, v, travel_time_s,
                              length_m, geom FROM road_edge WHERE ST_NPoints(geom) = 2),
                 pairs AS (SELECT least(u, v) AS a, greatest(u, v) AS b FROM road_edge
                           GROUP BY 1, 2
                           HAVING count(*) = count(DISTINCT (u, v))
                              AND bool_and(ST_NPoints(geom) = 2)
                              AND count(DISTINCT round(length_m::numeric, 3)) = 1)
            SELECT e.a, e.b, array_agg(e.u ORDER BY e.u) AS us, array_agg(e.v ORDER BY e.u) AS vs,
                   array_agg(e.travel_time_s ORDER BY e.u) AS tts,
                   ST_X(ST_LineInterpolatePoint(min(e.geom::text)::geometry, 0.5)) AS lon,
                   ST_Y(ST_LineInterpolatePoint(min(e.geom::text)::geometry, 0.5)) AS lat
            FROM e JOIN pairs p ON p.a = e.a AND p.b = e.b
            GROUP BY e.a, e.b ORDER BY e.a, e.b""")
        ).all()
    return [
        Segment(edges=tuple(zip(r.us, r.vs, r.tts, strict=True)), lon=r.lon, lat=r.lat)
        for r in rows
    ]


def road_digraph(engine: Engine) -> nx.DiGraph:
    """The road_edge rows as a networkx graph weighted by travel time."""
    graph = nx.DiGraph()
    with engine.connect() as conn:
        for u, v, t in conn.execute(text("SELECT u, v, travel_time_s FROM road_edge")):
            if not graph.has_edge(u, v) or graph[u][v]["weight"] > t:
                graph.add_edge(u, v, weight=t)
    return graph


def independent_etas(
    graph: nx.DiGraph, incident: Segment, units: dict[int, Segment]
) -> dict[int, float]:
    """Travel time from each unit's segment midpoint to the incident's, by networkx."""
    to_incident: list[tuple[dict[int, float], float]] = []
    reverse = graph.reverse(copy=False)
    for u, _v, t in incident.edges:
        to_incident.append(
            (nx.single_source_dijkstra_path_length(reverse, u, weight="weight"), 0.5 * t)
        )
    out = {}
    for unit_id, seg in units.items():
        best = float("inf")
        for _u, v, t in seg.edges:
            for dist, tail in to_incident:
                if v in dist:
                    best = min(best, 0.5 * t + dist[v] + tail)
        out[unit_id] = best
    return out
