"""Parsing of query-string parameters into plain values (no Flask here).

Each parser takes the raw string (or ``None`` when absent) and either returns a value or
raises :class:`najda.errors.InvalidInput` naming the parameter.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from najda.errors import InvalidInput

BBOX_FORMAT = "minLon,minLat,maxLon,maxLat (WGS84 degrees)"
_CLASS = re.compile(r"^[a-z][a-z_]{0,39}$")
_REGION = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class BBox:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    @property
    def width_deg(self) -> float:
        return self.max_lon - self.min_lon


def _bad_bbox(raw: str, reason: str) -> InvalidInput:
    return InvalidInput(
        f"bbox must be {BBOX_FORMAT}: {reason}.",
        code="invalid_bbox",
        details={"parameter": "bbox", "value": raw[:200], "expected": BBOX_FORMAT},
    )


def parse_bbox(raw: str | None) -> BBox | None:
    if raw is None or raw.strip() == "":
        return None
    parts = raw.split(",")
    if len(parts) != 4:
        raise _bad_bbox(raw, f"expected 4 numbers, got {len(parts)}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise _bad_bbox(raw, "not a number") from None
    if not all(math.isfinite(v) for v in values):
        raise _bad_bbox(raw, "not a finite number")
    box = BBox(*values)
    if not (-180 <= box.min_lon < box.max_lon <= 180):
        raise _bad_bbox(raw, "longitudes must satisfy -180 <= minLon < maxLon <= 180")
    if not (-90 <= box.min_lat < box.max_lat <= 90):
        raise _bad_bbox(raw, "latitudes must satisfy -90 <= minLat < maxLat <= 90")
    return box


def parse_int(raw: str | None, *, name: str, default: int, low: int, high: int) -> int:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer.", details={"parameter": name}) from None
    if not low <= value <= high:
        raise InvalidInput(
            f"{name} must be between {low} and {high}.", details={"parameter": name, "value": value}
        )
    return value


def parse_float(raw: str | None, *, name: str, low: float, high: float) -> float | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a number.", details={"parameter": name}) from None
    if not (math.isfinite(value) and low <= value <= high):
        raise InvalidInput(
            f"{name} must be between {low:g} and {high:g}.",
            details={"parameter": name, "value": raw[:50]},
        )
    return value


def parse_classes(raw: str | None) -> tuple[str, ...] | None:
    """Comma-separated road classes (OSM ``highway`` values), e.g. ``motorway,trunk``."""
    if raw is None or raw.strip() == "":
        return None
    classes = tuple(c.strip() for c in raw.split(",") if c.strip())
    bad = [c for c in classes if not _CLASS.match(c)]
    if bad or not classes:
        raise InvalidInput(
            "classes must be comma-separated OSM highway values.",
            details={"parameter": "classes", "invalid": bad[:10]},
        )
    return classes


def parse_bool(raw: str | None, *, name: str, default: bool) -> bool:
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes"}:
        return True
    if value in {"0", "false", "no"}:
        return False
    raise InvalidInput(f"{name} must be true or false.", details={"parameter": name})


def parse_region(raw: str | None) -> str | None:
    if raw is None or raw.strip() == "":
        return None
    if not _REGION.match(raw):
        raise InvalidInput(
            "region must be a region code such as riyadh.", details={"parameter": "region"}
        )
    return raw
