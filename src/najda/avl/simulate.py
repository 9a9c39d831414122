"""Demo units driving along real roads and reporting through the HTTP API.

The road network is read as plain ``road_edge`` rows (their LineStrings and speeds);
each simulated unit starts at the road node nearest its last position (or its station),
then drives edge after edge at the edge's speed, choosing at each node a random next
edge (not straight back when another exists). Every tick it reports a fix with
``POST /api/v1/avl/positions`` using the unit's device token, exactly as a tracker would.
``najda simulate units`` wires this to the command line.
"""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import Engine, text

from najda.avl.credentials import issue_credentials
from najda.dispatch.auth import User
from najda.dispatch.seed import UNIT_IN_REGION
from najda.errors import NotFound

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class Edge:
    u: int
    v: int
    coords: tuple[tuple[float, float], ...]  # (lon, lat)
    length_m: float
    speed_mps: float


@dataclass(frozen=True)
class SimUnit:
    unit_id: int
    call_sign: str
    token: str
    start_node: int


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat = math.radians((a[1] + b[1]) / 2)
    dx = math.radians(b[0] - a[0]) * math.cos(lat)
    dy = math.radians(b[1] - a[1])
    return EARTH_RADIUS_M * math.hypot(dx, dy)


def _bearing(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat = math.radians((a[1] + b[1]) / 2)
    dx = math.radians(b[0] - a[0]) * math.cos(lat)
    dy = math.radians(b[1] - a[1])
    return math.degrees(math.atan2(dx, dy)) % 360.0


class Driver:
    """One unit's position on the network, advanced by time."""

    def __init__(self, graph: dict[int, list[Edge]], node: int, rng: random.Random) -> None:
        self.graph, self.rng = graph, rng
        self.edge = self._next_edge(node, came_from=None)
        self.offset_m = 0.0

    def _next_edge(self, node: int, came_from: int | None) -> Edge:
        options = self.graph.get(node) or []
        if not options:
            raise NotFound(f"road node {node} has no outgoing edge")
        forward = [e for e in options if e.v != came_from] or options
        return self.rng.choice(forward)

    def advance(self, seconds: float) -> None:
        left = seconds * self.edge.speed_mps
        while self.offset_m + left >= self.edge.length_m:
            left -= self.edge.length_m - self.offset_m
            self.edge = self._next_edge(self.edge.v, came_from=self.edge.u)
            self.offset_m = 0.0
        self.offset_m += left

    def where(self) -> tuple[float, float, float]:
        """(lon, lat, heading) at the current offset along the edge's LineString."""
        coords, left = self.edge.coords, self.offset_m
        for a, b in pairwise(coords):
            step = _metres(a, b)
            if left <= step and step > 0:
                f = left / step
                return a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), _bearing(a, b)
            left -= step
        a, b = coords[-2], coords[-1]
        return b[0], b[1], _bearing(a, b)


def load_graph(engine: Engine, region: str) -> dict[int, list[Edge]]:
    """Outgoing edges by node, from the region's ``road_edge`` rows."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("""
            SELECT e.u, e.v, ST_AsGeoJSON(e.geom) AS g, e.length_m, e.speed_kph
            FROM road_edge e JOIN region r ON r.id = e.region_id WHERE r.code = :r"""),
            {"r": region},
        ).all()
    graph: dict[int, list[Edge]] = defaultdict(list)
    for r in rows:
        coords = tuple((float(x), float(y)) for x, y in json.loads(r.g)["coordinates"])
        graph[r.u].append(Edge(r.u, r.v, coords, float(r.length_m), float(r.speed_kph) / 3.6))
    if not graph:
        raise NotFound(f"region {region} has no roads; import it first")
    return dict(graph)


def prepare_units(
    engine: Engine, *, region: str, count: int, call_signs: Sequence[str] = ()
) -> list[SimUnit]:
    """Units of ``region`` to drive, each with fresh device credentials (replacing any).

    Posted patrols come first (they are the ones that drive about), agency after agency
    in turn, then station units. A unit is the region's when its station is, or when
    its position lies in the region (:data:`najda.dispatch.seed.UNIT_IN_REGION`); each
    starts at the road node nearest its position (or its station).
    """
    operator = User(id=0, username="simulator", role="admin")
    with engine.connect() as conn:
        rid = conn.execute(text("SELECT id FROM region WHERE code = :r"), {"r": region}).scalar()
        if rid is None:
            raise NotFound(f"region {region} is not imported (najda import region {region})")
        rows = conn.execute(
            text(f"""
            SELECT u.id, u.call_sign, n.id AS node
            FROM unit u LEFT JOIN station s ON s.id = u.station_id
            CROSS JOIN LATERAL (
                SELECT rn.id FROM road_node rn WHERE rn.region_id = :rid
                ORDER BY rn.geom <-> coalesce(u.last_position, s.geom) LIMIT 1) n
            WHERE {UNIT_IN_REGION}
              AND (cardinality(CAST(:signs AS text[])) = 0 OR u.call_sign = ANY(:signs))
              AND u.status <> 'out_of_service'
            ORDER BY u.station_id IS NOT NULL,
                     row_number() OVER (PARTITION BY u.station_id IS NOT NULL, u.agency_id
                                        ORDER BY u.id),
                     u.agency_id, u.id
            LIMIT :n"""),
            {"rid": rid, "signs": list(call_signs), "n": count},
        ).all()
    return [
        SimUnit(
            r.id, r.call_sign, issue_credentials(engine, unit_id=r.id, by=operator).token, r.node
        )
        for r in rows
    ]


def fix_body(driver: Driver, *, at: datetime | None = None) -> dict[str, Any]:
    lon, lat, heading = driver.where()
    return {
        "time": (at or datetime.now(UTC)).isoformat(),
        "lon": round(lon, 7),
        "lat": round(lat, 7),
        "speed": round(driver.edge.speed_mps, 2),
        "heading": round(heading, 1),
        "accuracy": 5.0,
    }


def drivers_for(
    units: Iterable[SimUnit], graph: dict[int, list[Edge]], seed: int = 0
) -> dict[int, Driver]:
    rng = random.Random(seed)
    return {
        u.unit_id: Driver(
            graph, u.start_node if u.start_node in graph else rng.choice(list(graph)), rng
        )
        for u in units
    }
