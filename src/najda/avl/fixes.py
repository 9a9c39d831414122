"""GPS fixes: the plain value, parsing of the loose forms devices send, and validation.

Pure functions; nothing here touches the database or the web.

Units inside Najda: speed in metres per second, heading in degrees clockwise from north
(0-360), accuracy and altitude in metres, battery in percent (0-100). A negative speed,
heading, accuracy or battery means "unknown" (Traccar Client's convention) and becomes
``None``.

A fix is *refused* (never stored) when its coordinates are impossible (outside
-90..90 / -180..180, not finite, or exactly 0,0: a receiver with no fix), when its time
lies further in the future than :data:`MAX_CLOCK_SKEW_S`, when it is older than
:data:`MAX_FIX_AGE_S` (a device clock that never set), or when a measured value is out
of physical range.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from najda.errors import InvalidInput

#: a fix may be this far ahead of the server clock (devices drift a little)
MAX_CLOCK_SKEW_S = 120.0
#: fixes older than this are refused (Traccar Client buffers days offline, not months)
MAX_FIX_AGE_S = 30 * 24 * 3600.0
#: above this a ground or air ambulance is not moving; the receiver is wrong
MAX_SPEED_MPS = 150.0
KNOTS_TO_MPS = 1852.0 / 3600.0
KPH_TO_MPS = 1000.0 / 3600.0
# Unix seconds below this are seconds, above are milliseconds (Traccar's rule: 2^31).
_SECONDS_LIMIT = 2**31


@dataclass(frozen=True)
class Fix:
    """One position report of a unit."""

    time: datetime  # timezone-aware, UTC
    lat: float
    lon: float
    speed: float | None = None  # m/s
    heading: float | None = None  # degrees
    accuracy: float | None = None  # m
    altitude: float | None = None  # m
    battery: float | None = None  # percent


@dataclass(frozen=True)
class Refusal:
    """Why a fix is not stored: a stable ``code`` and a message safe to show."""

    code: str
    message: str


class FixRefused(InvalidInput):
    """A single fix that is refused (answered 422 with the reason)."""

    status = 422
    code = "fix_refused"


# -- parsing loose values ------------------------------------------------------------------
def parse_time(raw: object) -> datetime:
    """A fix time from Unix seconds, Unix milliseconds or ISO 8601 (UTC when no offset)."""
    if isinstance(raw, bool) or raw is None:
        raise InvalidInput("a fix time is required", details={"field": "time"})
    if isinstance(raw, int | float):
        return _from_epoch(float(raw))
    text = str(raw).strip()
    try:
        return _from_epoch(float(text))
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError as exc:
        raise InvalidInput(
            "the fix time is not Unix seconds, milliseconds or ISO 8601", details={"field": "time"}
        ) from exc
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _from_epoch(value: float) -> datetime:
    if not math.isfinite(value) or value < 0:
        raise InvalidInput("the fix time is not a valid Unix time", details={"field": "time"})
    seconds = value if value < _SECONDS_LIMIT else value / 1000.0
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise InvalidInput("the fix time is out of range", details={"field": "time"}) from exc


def parse_number(raw: object, field: str, *, required: bool = False) -> float | None:
    """A finite float from a JSON number or a numeric string; ``None`` when absent."""
    if raw is None or raw == "":
        if required:
            raise InvalidInput(f"{field} is required", details={"field": field})
        return None
    if isinstance(raw, bool):
        raise InvalidInput(f"{field} must be a number", details={"field": field})
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{field} must be a number", details={"field": field}) from exc
    if not math.isfinite(value):
        raise InvalidInput(f"{field} must be a finite number", details={"field": field})
    return value


def unknown_if_negative(value: float | None) -> float | None:
    return None if value is None or value < 0 else value


def scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


# -- validation ------------------------------------------------------------------------------
def _coordinates(fix: Fix) -> Refusal | None:
    if not (math.isfinite(fix.lat) and math.isfinite(fix.lon)):
        return Refusal("impossible_coordinates", "latitude and longitude must be finite")
    if not (-90.0 <= fix.lat <= 90.0 and -180.0 <= fix.lon <= 180.0):
        return Refusal(
            "impossible_coordinates", "latitude must lie in -90..90 and longitude in -180..180"
        )
    if fix.lat == 0.0 and fix.lon == 0.0:
        return Refusal("no_fix", "0,0 is what a receiver without a fix reports")
    return None


def _time(fix: Fix, now: datetime) -> Refusal | None:
    if fix.time > now + timedelta(seconds=MAX_CLOCK_SKEW_S):
        return Refusal(
            "future_fix",
            f"the fix time is more than {MAX_CLOCK_SKEW_S:.0f} s ahead of the server clock",
        )
    if fix.time < now - timedelta(seconds=MAX_FIX_AGE_S):
        return Refusal("fix_too_old", f"the fix is older than {MAX_FIX_AGE_S / 86400:.0f} days")
    return None


def _ranges(fix: Fix) -> Refusal | None:
    if fix.speed is not None and fix.speed > MAX_SPEED_MPS:
        return Refusal("impossible_speed", f"speed above {MAX_SPEED_MPS:.0f} m/s")
    if fix.heading is not None and fix.heading > 360.0:
        return Refusal("impossible_heading", "heading must lie in 0..360 degrees")
    if fix.battery is not None and fix.battery > 100.0:
        return Refusal("impossible_battery", "battery must lie in 0..100 percent")
    return None


_CHECKS: tuple[Callable[..., Refusal | None], ...] = (_coordinates, _ranges)


def normalised(fix: Fix) -> Fix:
    """Negative auxiliary values become unknown; a heading of exactly 360 becomes 0."""
    heading = unknown_if_negative(fix.heading)
    return replace(
        fix,
        speed=unknown_if_negative(fix.speed),
        heading=0.0 if heading == 360.0 else heading,
        accuracy=unknown_if_negative(fix.accuracy),
        battery=unknown_if_negative(fix.battery),
    )


def check_fix(fix: Fix, *, now: datetime) -> Fix | Refusal:
    """The fix ready to store, or the reason it is refused."""
    fix = normalised(fix)
    for check in _CHECKS:
        refusal = check(fix)
        if refusal is not None:
            return refusal
    return _time(fix, now) or fix
