"""Demo seeding: units of several agencies on the road network, and demo people.

Units are put only at stations within ``max_snap_m`` of the imported road graph (a
station far from every road would be routed from far away). Security and traffic
patrols are spread over road nodes of the graph, and every station agency that has no
station near the roads gets two standby posts on road nodes instead. Both are *posted*
units: a position without a fix time (see the position rule in
:mod:`najda.dispatch.plans`).

Call signs are what a radio operator can say: the agency's prefix, the station's short
number and the unit's place in the station's kit (``SRC-12-1``, ``CD-3-2``), or
``CD-POST1-1`` and ``P-PATROL-7`` for posts and patrols. A station's short number is its
rank among its agency's stations by id, so stations imported later take new numbers and
the old ones keep theirs. Re-running adds nothing twice: call signs are unique, and a
station that already has units (from an earlier run) is left as it is. The demo people's
passwords are reset on every run and printed again (a stored hash cannot be shown).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, text
from werkzeug.security import generate_password_hash

from najda.dispatch.store import transaction
from najda.errors import NotFound

#: unit types put at every station of an agency
STATION_KIT: Mapping[str, tuple[str, ...]] = {
    "police": ("patrol_car", "patrol_car"),
    "civil_defence": ("fire_engine", "fire_engine", "rescue_unit"),
    "red_crescent": ("ambulance_als", "ambulance_bls"),
    "traffic": ("traffic_patrol",),
    "road_security": ("road_security_patrol",),
}
#: once per region, at the first civil defence station
SPECIALISTS = ("ladder_truck", "hazmat_unit")
CALL_PREFIX = {
    "police": "P",
    "civil_defence": "CD",
    "red_crescent": "SRC",
    "traffic": "T",
    "road_security": "RS",
    "coast_guard": "CG",
}
DEMO_PEOPLE = ("dispatcher", "planner", "supervisor")


@dataclass
class DemoReport:
    stations_used: int = 0
    units_created: int = 0
    credentials: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoStation:
    id: int
    agency: str
    number: int  # short number among the agency's stations
    staffed: bool  # already has units (from an earlier run)


def _stations(conn: Connection, region: str, max_snap_m: float) -> list[DemoStation]:
    rows = conn.execute(
        text("""
        SELECT s.id, s.agency, s.number,
               EXISTS (SELECT 1 FROM unit u WHERE u.station_id = s.id) AS staffed
        FROM (SELECT st.*, a.code AS agency,
                     row_number() OVER (PARTITION BY st.agency_id ORDER BY st.id) AS number
              FROM station st JOIN agency a ON a.id = st.agency_id) s
        JOIN region r ON r.id = s.region_id
        WHERE r.code = :r AND s.road_node_id IS NOT NULL AND s.snap_distance_m <= :m
        ORDER BY s.agency, s.snap_distance_m, s.id"""),
        {"r": region, "m": max_snap_m},
    ).all()
    return [DemoStation(int(r.id), str(r.agency), int(r.number), bool(r.staffed)) for r in rows]


def _add_unit(
    conn: Connection,
    *,
    call_sign: str,
    unit_type: str,
    station_id: int | None,
    node_id: int | None = None,
) -> int:
    return conn.execute(
        text("""
        INSERT INTO unit (call_sign, unit_type_id, agency_id, station_id, last_position)
        SELECT :cs, t.id, t.agency_id, :sid,
               (SELECT geom FROM road_node WHERE id = CAST(:node AS bigint))
        FROM unit_type t WHERE t.code = :type
        ON CONFLICT (call_sign) DO NOTHING"""),
        {"cs": call_sign, "type": unit_type, "sid": station_id, "node": node_id},
    ).rowcount


def _station_units(conn: Connection, stations: list[DemoStation]) -> int:
    created = 0
    specialists_done = False
    for station in stations:
        kit = list(STATION_KIT.get(station.agency, ()))
        if station.agency == "civil_defence" and not specialists_done:
            kit += SPECIALISTS
            specialists_done = True
        if station.staffed:
            continue
        prefix = CALL_PREFIX.get(station.agency, "U")
        for n, unit_type in enumerate(kit, start=1):
            created += _add_unit(
                conn,
                call_sign=f"{prefix}-{station.number}-{n}",
                unit_type=unit_type,
                station_id=station.id,
            )
    return created


def _road_nodes(conn: Connection, region: str) -> list[int]:
    return [
        int(n)
        for n in conn.execute(
            text("""
        SELECT n.id FROM road_node n JOIN region r ON r.id = n.region_id
        WHERE r.code = :r ORDER BY n.id"""),
            {"r": region},
        ).scalars()
    ]


def _standby_posts(
    conn: Connection, agencies: list[str], nodes: list[int], rng: random.Random
) -> int:
    """Two posts on road nodes for each agency without a station near the roads."""
    created = 0
    for agency in agencies:
        for post in (1, 2):
            kit = list(STATION_KIT[agency])
            if agency == "civil_defence" and post == 1:
                kit += SPECIALISTS
            node = rng.choice(nodes)
            for n, unit_type in enumerate(kit, start=1):
                created += _add_unit(
                    conn,
                    call_sign=f"{CALL_PREFIX[agency]}-POST{post}-{n}",
                    unit_type=unit_type,
                    station_id=None,
                    node_id=node,
                )
    return created


def _posted_patrols(conn: Connection, nodes: list[int], count: int, rng: random.Random) -> int:
    created = 0
    for n, node in enumerate(rng.sample(nodes, min(count * 2, len(nodes)))):
        unit_type, prefix = ("patrol_car", "P") if n % 2 == 0 else ("traffic_patrol", "T")
        created += _add_unit(
            conn,
            call_sign=f"{prefix}-PATROL-{n // 2 + 1}",
            unit_type=unit_type,
            station_id=None,
            node_id=int(node),
        )
    return created


def _demo_people(conn: Connection) -> dict[str, str]:
    """Fresh passwords for the demo dispatcher, planner and supervisor."""
    out = {}
    for role in DEMO_PEOPLE:
        password = secrets.token_urlsafe(9)
        conn.execute(
            text("""
            INSERT INTO app_user (username, role, display_name, password_hash)
            VALUES (:u, :role, :name, :h)
            ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash,
                                                 role = EXCLUDED.role, active = true"""),
            {
                "u": role,
                "role": role,
                "name": f"Demo {role}",
                "h": generate_password_hash(password),
            },
        )
        out[role] = password
    return out


STATION_AGENCIES = ("civil_defence", "police", "red_crescent")


def seed_demo(
    engine: Engine,
    *,
    region: str = "riyadh",
    max_snap_m: float = 500.0,
    patrols: int = 10,
    seed: int = 7,
) -> DemoReport:
    """Units at near-road stations and posted patrols; demo people with new passwords."""
    with transaction(engine) as conn:
        if (
            conn.execute(text("SELECT 1 FROM region WHERE code = :r"), {"r": region}).first()
            is None
        ):
            raise NotFound(f"region {region} is not imported (najda import region {region})")
        stations = _stations(conn, region, max_snap_m)
        report = DemoReport(stations_used=len(stations))
        nodes = _road_nodes(conn, region)
        rng = random.Random(seed)
        report.units_created = _station_units(conn, stations)
        if nodes:
            served = {station.agency for station in stations}
            missing = [a for a in STATION_AGENCIES if a not in served]
            report.units_created += _standby_posts(conn, missing, nodes, rng) + _posted_patrols(
                conn, nodes, patrols, rng
            )
        report.credentials = _demo_people(conn)
    return report
