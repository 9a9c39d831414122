"""Demo seeding: units of several agencies on the road network, and demo people.

Units are put only at stations within ``max_snap_m`` of the imported road graph (a
station far from every road would be routed from far away). Security and traffic
patrols are spread over the whole road network (:func:`patrol_posts`): shared out among
the governorates (municipalities) in proportion to their road nodes, at least one each,
and placed within each at the centres of its road nodes' clusters (k-means), so a whole
city is patrolled, not one corner of it. Every station agency that has no station near
the roads gets two standby posts on road nodes instead. Both are *posted* units: a
position without a fix time (see the position rule in :mod:`najda.dispatch.plans`).

Call signs are what a radio operator can say: the agency's prefix (the region's own,
``AMB`` for Doha's ambulances, else :data:`CALL_PREFIX`), the station's short number and
the unit's place in the station's kit (``SRC-12-1``, ``CD-3-2``), or ``CD-POST1-1`` and
``P-PATROL-7`` for posts and patrols. A station's short number is its
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

import numpy as np
from sqlalchemy import Connection, Engine, text
from werkzeug.security import generate_password_hash

from najda.dispatch.store import transaction
from najda.errors import NotFound
from najda.ingest.agencies import region_agencies

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


def _station_units(
    conn: Connection, stations: list[DemoStation], prefixes: Mapping[str, str]
) -> int:
    created = 0
    specialists_done = False
    for station in stations:
        kit = list(STATION_KIT.get(station.agency, ()))
        if station.agency == "civil_defence" and not specialists_done:
            kit += SPECIALISTS
            specialists_done = True
        if station.staffed:
            continue
        prefix = prefixes.get(station.agency, "U")
        for n, unit_type in enumerate(kit, start=1):
            created += _add_unit(
                conn,
                call_sign=f"{prefix}-{station.number}-{n}",
                unit_type=unit_type,
                station_id=station.id,
            )
    return created


def _call_prefixes(conn: Connection, region: str) -> dict[str, str]:
    """Call-sign prefix per agency: the region's own where its manifest names one."""
    local = {a["code"]: a["call_prefix"] for a in region_agencies(conn, region)}
    return {**CALL_PREFIX, **{code: p for code, p in local.items() if p}}


#: a unit belongs to region :rid when its station does, or, without a station, when its
#: position lies in the region (positions move as units drive, but stay in the region)
UNIT_IN_REGION = """(
    (u.station_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM station s WHERE s.id = u.station_id AND s.region_id = :rid))
    OR (u.station_id IS NULL AND EXISTS (
        SELECT 1 FROM region r WHERE r.id = :rid AND ST_Covers(
            coalesce(r.geom, (SELECT ST_Envelope(ST_Collect(n.geom)) FROM road_node n
                              WHERE n.region_id = :rid)),
            u.last_position))))"""


def _road_nodes(conn: Connection, rid: int) -> list[int]:
    return [
        int(n)
        for n in conn.execute(
            text("SELECT id FROM road_node WHERE region_id = :rid ORDER BY id"), {"rid": rid}
        ).scalars()
    ]


def _standby_posts(
    conn: Connection,
    agencies: list[str],
    nodes: list[int],
    rng: random.Random,
    prefixes: Mapping[str, str],
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
                    call_sign=f"{prefixes[agency]}-POST{post}-{n}",
                    unit_type=unit_type,
                    station_id=None,
                    node_id=node,
                )
    return created


#: the unit types of the posted patrols, by agency
PATROL_TYPES = {"police": "patrol_car", "traffic": "traffic_patrol"}


def _posted_patrols(
    conn: Connection, rid: int, count: int, seed: int, prefixes: Mapping[str, str]
) -> int:
    """``count`` patrols of each of police and traffic, spread over the region's roads.

    A region that already has posted patrols gets none (re-runs add nothing); numbers
    go on from the highest in use, so two regions' patrols never share a call sign.
    """
    if conn.execute(
        text(f"""SELECT EXISTS (SELECT 1 FROM unit u WHERE u.call_sign LIKE '%-PATROL-%'
                               AND {UNIT_IN_REGION})"""),
        {"rid": rid},
    ).scalar_one():
        return 0
    nodes = _node_table(conn, rid)
    created, taken = 0, np.zeros(len(nodes["id"]), dtype=bool)
    for k, (agency, unit_type) in enumerate(PATROL_TYPES.items()):
        picked = spread_posts(
            nodes["lonlat"], nodes["group"], count=count, seed=seed + k, exclude=taken
        )
        taken[picked] = True
        first = _highest_patrol(conn, prefixes[agency]) + 1
        for n, i in enumerate(picked.tolist(), start=first):
            created += _add_unit(
                conn,
                call_sign=f"{prefixes[agency]}-PATROL-{n}",
                unit_type=unit_type,
                station_id=None,
                node_id=int(nodes["id"][i]),
            )
    return created


def _highest_patrol(conn: Connection, prefix: str) -> int:
    return int(
        conn.execute(
            text("""
            SELECT coalesce(max(CAST(split_part(call_sign, '-', 3) AS integer)), 0)
            FROM unit WHERE call_sign ~ ('^' || :p || '-PATROL-[0-9]+$')"""),
            {"p": prefix},
        ).scalar_one()
    )


def _node_table(conn: Connection, rid: int) -> dict[str, np.ndarray]:
    """The region's road nodes: id, (lon, lat) and the governorate each lies in (-1: none)."""
    rows = conn.execute(
        text("""
        SELECT DISTINCT ON (n.id) n.id, ST_X(n.geom) AS lon, ST_Y(n.geom) AS lat,
               coalesce(g.id, -1) AS gov
        FROM road_node n
        LEFT JOIN governorate g ON g.region_id = n.region_id AND ST_Covers(g.geom, n.geom)
        WHERE n.region_id = :rid ORDER BY n.id, g.id"""),
        {"rid": rid},
    ).all()
    table = np.array([(r.lon, r.lat, r.gov) for r in rows], dtype=np.float64).reshape(-1, 3)
    return {
        "id": np.array([r.id for r in rows], dtype=np.int64),
        "lonlat": table[:, :2],
        "group": table[:, 2].astype(np.int64),
    }


def spread_posts(
    lonlat: np.ndarray,
    group: np.ndarray,
    *,
    count: int,
    seed: int,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Indexes of ``count`` points spread over every group (governorate) of points.

    Each group gets a share of ``count`` in proportion to its points (road nodes: where
    the streets, and so the people, are), at least one while there are enough to go
    round (not group -1: points in no governorate); within a group the posts are the points nearest the centres of a k-means
    clustering of its points, so they spread over it instead of bunching.

    Parameters
    ----------
    lonlat
        (n, 2) longitudes and latitudes.
    group
        n group labels.
    count
        How many posts in all (fewer when there are fewer points).
    seed
        Seed of the clustering: the same inputs give the same posts.
    exclude
        n booleans: points not to use (posts of another agency).
    """
    usable = np.ones(len(lonlat), dtype=bool) if exclude is None else ~exclude
    labels, sizes = np.unique(group[usable], return_counts=True)
    quotas = _quotas(sizes, min(count, int(usable.sum())), floor=labels >= 0)
    posts = [
        _cluster_centres(np.flatnonzero(usable & (group == label)), lonlat, k, seed)
        for label, k in zip(labels.tolist(), quotas.tolist(), strict=True)
        if k > 0
    ]
    return np.concatenate(posts) if posts else np.empty(0, dtype=np.int64)


def _quotas(sizes: np.ndarray, count: int, *, floor: np.ndarray) -> np.ndarray:
    """Shares of ``count`` in proportion to ``sizes`` (largest remainders), at least one
    for each ``floor`` group while ``count`` allows, never more than a group's size."""
    quotas = np.zeros(sizes.size, dtype=np.int64)
    by_size = [g for g in np.argsort(-sizes, kind="stable").tolist() if floor[g]]
    quotas[by_size[:count]] = 1
    left = count - int(quotas.sum())
    if left > 0:
        ideal = sizes / sizes.sum() * count
        extra = np.maximum(np.floor(ideal) - quotas, 0).astype(np.int64)
        extra = np.minimum(extra, sizes - quotas)
        while extra.sum() > left:
            extra[np.argmax(extra)] -= 1
        quotas += extra
        left -= int(extra.sum())
        remainder = ideal - quotas
        for g in np.argsort(-remainder, kind="stable"):
            if left == 0:
                break
            if quotas[g] < sizes[g]:
                quotas[g] += 1
                left -= 1
    return quotas


def _cluster_centres(members: np.ndarray, lonlat: np.ndarray, k: int, seed: int) -> np.ndarray:
    """``k`` distinct members nearest the centres of a k-means clustering of them."""
    import warnings

    from scipy.cluster.vq import kmeans2
    from scipy.spatial import cKDTree

    if k >= len(members):
        return members
    points = lonlat[members]
    # equal-area enough at city scale: degrees of longitude shrink with latitude
    xy = points * np.array([np.cos(np.radians(points[:, 1].mean())), 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an empty cluster is re-seeded, not an error
        centres, _ = kmeans2(xy, k, minit="++", rng=np.random.default_rng(seed))
    tree, chosen = cKDTree(xy), []
    used: set[int] = set()
    for centre in centres:
        _, near = tree.query(centre, k=min(len(members), k + 1))
        pick = next((int(i) for i in np.atleast_1d(near) if int(i) not in used), None)
        if pick is not None:
            used.add(pick)
            chosen.append(pick)
    return members[np.array(chosen, dtype=np.int64)]


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
    """Units at near-road stations and posted patrols; demo people with new passwords.

    Parameters
    ----------
    patrols
        Posted patrols of each of police and traffic, spread over the whole region.
    """
    with transaction(engine) as conn:
        rid = conn.execute(text("SELECT id FROM region WHERE code = :r"), {"r": region}).scalar()
        if rid is None:
            raise NotFound(f"region {region} is not imported (najda import region {region})")
        stations = _stations(conn, region, max_snap_m)
        report = DemoReport(stations_used=len(stations))
        prefixes = _call_prefixes(conn, region)
        nodes = _road_nodes(conn, rid)
        report.units_created = _station_units(conn, stations, prefixes)
        if nodes:
            served = {station.agency for station in stations}
            missing = [a for a in STATION_AGENCIES if a not in served]
            report.units_created += _standby_posts(
                conn, missing, nodes, random.Random(seed), prefixes
            ) + _posted_patrols(conn, rid, patrols, seed, prefixes)
        report.credentials = _demo_people(conn)
    return report
