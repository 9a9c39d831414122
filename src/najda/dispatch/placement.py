"""Where a point falls: its region, governorate and each agency's jurisdiction.

All three are spatial look-ups that PostGIS answers through GiST indexes (``ST_Covers``
with a constant point is index-assisted): governorates and jurisdictions through their
subdivided parts (``governorate_part``, ``jurisdiction_part``, migration 0007), whose
small pieces make the exact test cheap; regions through ``region.geom``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from najda.errors import InvalidInput, Unprocessable

_POINT = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"


@dataclass(frozen=True)
class Placement:
    region_id: int
    region_code: str
    incident_prefix: str
    timezone: str
    governorate_id: int | None
    #: agency id -> jurisdiction id, for every agency whose jurisdiction covers the point
    jurisdictions: dict[int, int] = field(default_factory=dict)


def check_coordinates(lon: object, lat: object) -> tuple[float, float]:
    """(lon, lat) as finite floats within WGS 84 ranges, else :class:`InvalidInput`."""
    values: list[float] = []
    for name, value, limit in (("lon", lon, 180.0), ("lat", lat, 90.0)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"{name} must be a number", details={"field": name})
        number = float(value)
        if not math.isfinite(number) or abs(number) > limit:
            raise InvalidInput(
                f"{name} must be between -{limit:g} and {limit:g}",
                details={"field": name, "value": number},
            )
        values.append(number)
    return values[0], values[1]


def place_point(conn: Connection, *, lon: float, lat: float) -> Placement:
    """Region, governorate and jurisdictions of a point, or 422 when outside every region."""
    params = {"lon": lon, "lat": lat}
    row = (
        conn.execute(
            text(f"""
        SELECT g.id AS governorate_id, g.region_id
        FROM governorate_part p JOIN governorate g ON g.id = p.governorate_id
        WHERE ST_Covers(p.geom, {_POINT}) ORDER BY p.area, g.id LIMIT 1"""),
            params,
        )
        .mappings()
        .first()
    )
    if row is not None:
        region_id, governorate_id = row["region_id"], row["governorate_id"]
    else:
        region_id = conn.execute(
            text(f"""
            SELECT id FROM region WHERE geom IS NOT NULL AND ST_Covers(geom, {_POINT})
            ORDER BY id LIMIT 1"""),
            params,
        ).scalar()
        governorate_id = None
    if region_id is None:
        raise Unprocessable(
            "the location is outside every imported region",
            code="outside_region",
            details={"lon": lon, "lat": lat},
        )
    region = (
        conn.execute(
            text("SELECT code, incident_prefix, timezone FROM region WHERE id = :id"),
            {"id": region_id},
        )
        .mappings()
        .one()
    )
    return Placement(
        region_id=region_id,
        region_code=region["code"],
        incident_prefix=region["incident_prefix"],
        timezone=region["timezone"],
        governorate_id=governorate_id,
        jurisdictions=jurisdictions_at(conn, region_id=region_id, lon=lon, lat=lat),
    )


def jurisdictions_at(conn: Connection, *, region_id: int, lon: float, lat: float) -> dict[int, int]:
    """Agency id -> the (smallest) jurisdiction of that agency covering the point."""
    rows = conn.execute(
        text(f"""
        SELECT DISTINCT ON (p.agency_id) p.agency_id, p.jurisdiction_id
        FROM jurisdiction_part p JOIN jurisdiction j ON j.id = p.jurisdiction_id
        WHERE j.region_id = :rid AND ST_Covers(p.geom, {_POINT})
        ORDER BY p.agency_id, p.area, p.jurisdiction_id"""),
        {"rid": region_id, "lon": lon, "lat": lat},
    ).all()
    return {int(agency): int(jid) for agency, jid in rows}


def next_incident_number(conn: Connection, *, region_id: int, prefix: str, year: int) -> str:
    """The next human number of the region and year, e.g. ``RYD-2026-000123``.

    The counter row is created or incremented in one statement; PostgreSQL's row lock
    makes concurrent callers wait their turn, and a rolled-back transaction gives its
    number back, so numbers are distinct and without gaps.
    """
    value = conn.execute(
        text("""
        INSERT INTO incident_sequence (region_id, year, last_value) VALUES (:rid, :year, 1)
        ON CONFLICT (region_id, year)
        DO UPDATE SET last_value = incident_sequence.last_value + 1
        RETURNING last_value"""),
        {"rid": region_id, "year": year},
    ).scalar_one()
    return f"{prefix}-{year}-{value:06d}"
