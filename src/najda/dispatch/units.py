"""Units as dispatch sees them: state for eligibility, and the listing for maps."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from najda.dispatch.auth import User, require
from najda.dispatch.plans import UnitState
from najda.dispatch.store import transaction
from najda.dispatch.timefmt import utcnow
from najda.errors import InvalidInput, NotFound

_STATE_SQL = """
    SELECT u.id, u.call_sign, u.agency_id, a.code AS agency_code, t.code AS unit_type,
           t.capabilities, u.status, ST_X(u.last_position) AS fix_lon,
           ST_Y(u.last_position) AS fix_lat, u.last_fix_at, ST_X(s.geom) AS st_lon,
           ST_Y(s.geom) AS st_lat, {home} AS home_jurisdiction_id
    FROM unit u
    JOIN unit_type t ON t.id = u.unit_type_id
    JOIN agency a ON a.id = u.agency_id
    LEFT JOIN station s ON s.id = u.station_id
"""
# A unit's home jurisdiction: its agency's covering its station (else its last position).
# Only the own_first policy needs it, and it is the costly part of the query.
_HOME_SQL = """
    LEFT JOIN LATERAL (
        SELECT p.jurisdiction_id AS id FROM jurisdiction_part p
        WHERE p.agency_id = u.agency_id
          AND ST_Covers(p.geom, coalesce(s.geom, u.last_position))
        ORDER BY p.area, p.jurisdiction_id LIMIT 1) hj ON true
"""


def _point(lon: float | None, lat: float | None) -> tuple[float, float] | None:
    return None if lon is None or lat is None else (float(lon), float(lat))


# Rows read again unchanged (most units between two requests) give the same UnitState:
# a worker keeps them by row value, so a recommendation does not rebuild ~200 objects.
_STATES: dict[tuple[Any, ...], UnitState] = {}
_STATES_MAX = 50_000


def _state(row: Any) -> UnitState:
    key = tuple(tuple(v) if isinstance(v, list) else v for v in row)  # arrays come as lists
    state = _STATES.get(key)
    if state is None:
        if len(_STATES) >= _STATES_MAX:
            _STATES.clear()
        state = _STATES[key] = _new_state(row)
    return state


def _new_state(row: Any) -> UnitState:
    return UnitState(
        unit_id=row.id,
        call_sign=row.call_sign,
        agency_id=row.agency_id,
        agency_code=row.agency_code,
        unit_type=row.unit_type,
        capabilities=frozenset(row.capabilities or ()),
        status=row.status,
        last_position=_point(row.fix_lon, row.fix_lat),
        last_fix_at=row.last_fix_at,
        station_position=_point(row.st_lon, row.st_lat),
        home_jurisdiction_id=row.home_jurisdiction_id,
    )


def unit_states(
    conn: Connection,
    *,
    capabilities: Iterable[str] | None = None,
    unit_ids: Iterable[int] | None = None,
    home_jurisdictions: bool = True,
) -> list[UnitState]:
    """Units having any of ``capabilities`` (or exactly ``unit_ids``), by id.

    A unit's home jurisdiction is its agency's jurisdiction covering its home station
    (or, without a station, its last position); without ``home_jurisdictions`` it is
    left None (the ``nearest`` policy does not use it).
    """
    where: list[str] = []
    params: dict[str, Any] = {}
    if capabilities is not None:
        where.append("t.capabilities && CAST(:caps AS text[])")
        params["caps"] = sorted(set(capabilities))
    if unit_ids is not None:
        where.append("u.id = ANY(:ids)")
        params["ids"] = sorted(set(unit_ids))
    sql = _STATE_SQL.format(home="hj.id" if home_jurisdictions else "NULL")
    sql += _HOME_SQL if home_jurisdictions else ""
    sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY u.id"
    return [_state(r) for r in conn.execute(text(sql), params)]


@dataclass(frozen=True)
class UnitListing:
    state: UnitState
    station_code: str | None
    stale: bool
    incident: dict[str, Any] | None


def list_units(
    engine: Engine,
    *,
    by: User,
    max_age_s: float,
    status: str | None = None,
    agency: str | None = None,
    now: datetime | None = None,
) -> list[UnitListing]:
    """Every unit with its status, position, staleness and the incident it serves."""
    require(by, "read")
    if status is not None and status not in (
        "available",
        "dispatched",
        "en_route",
        "on_scene",
        "returning",
        "out_of_service",
    ):
        raise InvalidInput(f"unknown unit status: {status}", details={"parameter": "status"})
    with transaction(engine) as conn:
        states = [
            s
            for s in unit_states(conn)
            if (status is None or s.status == status)
            and (agency is None or s.agency_code == agency)
        ]
        return _listings(conn, states, max_age_s=max_age_s, now=now)


def get_unit(
    engine: Engine, unit_id: int, *, by: User, max_age_s: float, now: datetime | None = None
) -> UnitListing:
    """One unit as :func:`list_units` shows it, else 404."""
    require(by, "read")
    with transaction(engine) as conn:
        return unit_listing(conn, unit_id, max_age_s=max_age_s, now=now)


def unit_listing(
    conn: Connection, unit_id: int, *, max_age_s: float, now: datetime | None = None
) -> UnitListing:
    """One unit as :func:`list_units` shows it, read on the caller's transaction."""
    states = unit_states(conn, unit_ids=[unit_id])
    if not states:
        raise NotFound(f"no unit {unit_id}", details={"unit_id": unit_id})
    return _listings(conn, states, max_age_s=max_age_s, now=now)[0]


def _listings(
    conn: Connection, states: list[UnitState], *, max_age_s: float, now: datetime | None
) -> list[UnitListing]:
    now = now or utcnow()
    extra = _unit_extras(conn, [s.unit_id for s in states])
    out = []
    for s in states:
        station, incident = extra.get(s.unit_id, (None, None))
        stale = s.last_fix_at is not None and (now - s.last_fix_at).total_seconds() > max_age_s
        out.append(UnitListing(state=s, station_code=station, stale=stale, incident=incident))
    return out


def _unit_extras(
    conn: Connection, unit_ids: list[int]
) -> dict[int, tuple[str | None, dict[str, Any] | None]]:
    rows = conn.execute(
        text("""
        SELECT u.id, s.code AS station_code, i.id AS incident_id, i.number
        FROM unit u LEFT JOIN station s ON s.id = u.station_id
        LEFT JOIN assignment x ON x.unit_id = u.id AND x.released_at IS NULL
        LEFT JOIN incident i ON i.id = x.incident_id
        WHERE u.id = ANY(:ids)"""),
        {"ids": unit_ids},
    ).all()
    return {
        r.id: (r.station_code, {"id": r.incident_id, "number": r.number} if r.incident_id else None)
        for r in rows
    }


def jurisdictions_geojson(
    engine: Engine, *, by: User, region: str | None = None, agency: str | None = None
) -> dict[str, Any]:
    """Agency jurisdictions as a GeoJSON FeatureCollection."""
    require(by, "read")
    with transaction(engine) as conn:
        rows = conn.execute(
            text("""
            SELECT j.id, j.code, j.name_en, j.name_ar, a.code AS agency, a.color,
                   r.code AS region, ST_AsGeoJSON(j.geom, 6) AS geometry
            FROM jurisdiction j JOIN agency a ON a.id = j.agency_id
            JOIN region r ON r.id = j.region_id
            WHERE (CAST(:region AS text) IS NULL OR r.code = :region)
              AND (CAST(:agency AS text) IS NULL OR a.code = :agency)
            ORDER BY a.code, j.code"""),
            {"region": region, "agency": agency},
        ).mappings()
        features = [
            {
                "type": "Feature",
                "id": r["id"],
                "geometry": json.loads(r["geometry"]),
                "properties": {
                    k: r[k]
                    for k in ("id", "code", "name_en", "name_ar", "agency", "color", "region")
                },
            }
            for r in rows
        ]
    return {"type": "FeatureCollection", "features": features}
