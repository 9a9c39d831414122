"""Tracks out: the fixes of one or several units in a time window, as GeoJSON.

Each unit becomes one Feature whose geometry is the LineString of its fixes in time order
(a Point for a single fix, ``null`` for none) and whose properties carry one entry per
vertex in parallel arrays (``times``, ``speeds``, ``headings`` ...; the ``coordTimes``
idea of GPX converters), so a map can play several units back together on one clock.
Times are UTC ISO 8601. Staleness follows the dispatch rule (a last fix older than
``position_max_age_s``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from najda.dispatch.auth import User, require
from najda.dispatch.store import transaction
from najda.errors import InvalidInput, NotFound

MAX_WINDOW = timedelta(hours=24)
MAX_UNITS = 50
MAX_FIXES_PER_UNIT = 20_000


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def check(self) -> Window:
        if self.end <= self.start:
            raise InvalidInput("the window must end after it starts", details={"parameter": "to"})
        if self.end - self.start > MAX_WINDOW:
            raise InvalidInput(
                f"a window spans at most {MAX_WINDOW.total_seconds() / 3600:.0f} hours",
                details={"parameter": "to"},
            )
        return self


def default_window(now: datetime) -> Window:
    return Window(now - timedelta(hours=1), now)


def is_stale(last_fix_at: datetime | None, *, now: datetime, max_age_s: float) -> bool:
    """A unit is stale when its tracker reported once but not within ``max_age_s``."""
    return last_fix_at is not None and (now - last_fix_at).total_seconds() > max_age_s


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _geometry(coords: list[list[float]]) -> dict[str, Any] | None:
    if not coords:
        return None
    if len(coords) == 1:
        return {"type": "Point", "coordinates": coords[0]}
    return {"type": "LineString", "coordinates": coords}


def _units(conn: Any, unit_ids: Sequence[int]) -> dict[int, Any]:
    rows = conn.execute(
        text("""
        SELECT u.id, u.call_sign, u.status, u.last_fix_at, a.code AS agency
        FROM unit u JOIN agency a ON a.id = u.agency_id WHERE u.id = ANY(:ids)"""),
        {"ids": list(unit_ids)},
    ).all()
    return {r.id: r for r in rows}


def _fixes(conn: Any, unit_ids: Sequence[int], window: Window) -> dict[int, list[Any]]:
    rows = conn.execute(
        text("""
        SELECT p.unit_id, p.fix_time, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat, p.speed,
               p.heading, p.accuracy, p.altitude, p.battery
        FROM unit u CROSS JOIN LATERAL (
            SELECT * FROM position p WHERE p.unit_id = u.id
              AND p.fix_time >= :start AND p.fix_time < :end
            ORDER BY p.fix_time LIMIT :limit) p
        WHERE u.id = ANY(:ids) ORDER BY p.unit_id, p.fix_time"""),
        {
            "ids": list(unit_ids),
            "start": window.start,
            "end": window.end,
            "limit": MAX_FIXES_PER_UNIT + 1,
        },
    ).all()
    out: dict[int, list[Any]] = defaultdict(list)
    for r in rows:
        out[r.unit_id].append(r)
    return out


def _feature(unit: Any, fixes: list[Any], *, now: datetime, max_age_s: float) -> dict[str, Any]:
    truncated = len(fixes) > MAX_FIXES_PER_UNIT
    fixes = fixes[:MAX_FIXES_PER_UNIT]
    return {
        "type": "Feature",
        "id": unit.id,
        "geometry": _geometry([[f.lon, f.lat] for f in fixes]),
        "properties": {
            "unit_id": unit.id,
            "call_sign": unit.call_sign,
            "agency": unit.agency,
            "status": unit.status,
            "last_fix_at": _iso(unit.last_fix_at),
            "stale": is_stale(unit.last_fix_at, now=now, max_age_s=max_age_s),
            "fix_count": len(fixes),
            "truncated": truncated,
            "times": [_iso(f.fix_time) for f in fixes],
            "speeds": [f.speed for f in fixes],
            "headings": [f.heading for f in fixes],
            "accuracies": [f.accuracy for f in fixes],
            "batteries": [f.battery for f in fixes],
        },
    }


def tracks(
    engine: Engine,
    unit_ids: Sequence[int],
    window: Window,
    *,
    by: User,
    max_age_s: float,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The units' tracks in ``window`` as a FeatureCollection, in the order asked.

    Raises
    ------
    InvalidInput
        No unit, too many units, or a window that is empty or too long.
    NotFound
        A unit id that does not exist.
    """
    require(by, "read")
    ids = list(dict.fromkeys(unit_ids))
    if not ids or len(ids) > MAX_UNITS:
        raise InvalidInput(f"name 1 to {MAX_UNITS} units", details={"parameter": "units"})
    window.check()
    now = now or datetime.now(UTC)
    with transaction(engine) as conn:
        units = _units(conn, ids)
        missing = [i for i in ids if i not in units]
        if missing:
            raise NotFound(f"no unit {missing[0]}", details={"unit_ids": missing})
        fixes = _fixes(conn, ids, window)
    features = [_feature(units[i], fixes.get(i, []), now=now, max_age_s=max_age_s) for i in ids]
    return {
        "type": "FeatureCollection",
        "start": _iso(window.start),
        "end": _iso(window.end),
        "features": features,
    }
