"""The OsmAnd protocol as Traccar speaks it: decoding both of its request formats.

Pure functions over plain mappings (the web layer hands in the request's parameters or
parsed JSON body). Field names and units follow Traccar's ``OsmAndProtocolDecoder``:

*Query or form parameters* (OsmAnd, Traccar Client up to 8, many hardware trackers):
``id`` / ``deviceid``, ``lat``, ``lon`` (or ``location=lat,lon``), ``timestamp`` (Unix
seconds, milliseconds or ISO 8601; absent means now), ``speed`` (knots, as Traccar Client
sends it), ``bearing`` / ``heading``, ``altitude``, ``accuracy``, ``batt`` (percent),
``valid``. Unknown parameters are ignored.

*JSON* (Traccar Client 9+, ``Content-Type: application/json``)::

    {"device_id": "...",
     "location": {"timestamp": "2026-11-23T08:00:00.000Z",
                  "coords": {"latitude", "longitude", "speed" (m/s), "heading",
                             "accuracy", "altitude"},
                  "battery": {"level": 0..1, "is_charging": bool}, ...}}

``location`` may also be a list of such objects (a batch). Negative speed, heading,
accuracy or battery level mean unknown.

Najda adds one thing Traccar does not have: the device's secret token, passed as a
``token`` parameter (Traccar Client keeps query parameters of its server URL, so the URL
``https://host/osmand?token=...`` works for both formats), as ``Authorization: Bearer``,
or as the password of HTTP Basic authentication.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from najda.avl.fixes import (
    KNOTS_TO_MPS,
    Fix,
    Refusal,
    parse_number,
    parse_time,
    scaled,
    unknown_if_negative,
)
from najda.avl.ingest import check_batch_size
from najda.errors import InvalidInput

DEVICE_KEYS = ("id", "deviceid")
_NO_FIX = Refusal("no_fix", "the report carries no position")
_INVALID = Refusal("no_fix", "the device marked the position invalid")


@dataclass(frozen=True)
class OsmAndReport:
    device_id: str
    fixes: list[Fix | Refusal]


def _first(params: Mapping[str, str], *keys: str) -> str | None:
    for key in keys:
        value = params.get(key)
        if value is not None and value != "":
            return value
    return None


def _query_position(params: Mapping[str, str]) -> tuple[float | None, float | None]:
    location = _first(params, "location")
    if location is not None and _first(params, "lat") is None:
        parts = location.split(",")
        if len(parts) != 2:
            raise InvalidInput("location must be lat,lon", details={"field": "location"})
        return parse_number(parts[0], "lat"), parse_number(parts[1], "lon")
    return parse_number(_first(params, "lat"), "lat"), parse_number(_first(params, "lon"), "lon")


def _valid_flag(raw: str | None) -> bool:
    return raw is None or raw.lower() in {"1", "true", "a"}


def query_device_id(params: Mapping[str, str]) -> str | None:
    return _first(params, *DEVICE_KEYS)


def parse_query(params: Mapping[str, str], *, now: datetime) -> OsmAndReport:
    """One report from query or form parameters.

    Raises
    ------
    InvalidInput
        No device id, or a value that is not a number or a time.
    """
    device_id = query_device_id(params)
    if device_id is None:
        raise InvalidInput("id (or deviceid) is required", details={"field": "id"})
    raw_time = _first(params, "timestamp")
    time = parse_time(raw_time) if raw_time is not None else now
    lat, lon = _query_position(params)
    if lat is None or lon is None:
        return OsmAndReport(device_id, [_NO_FIX])
    if not _valid_flag(_first(params, "valid")):
        return OsmAndReport(device_id, [_INVALID])
    fix = Fix(
        time=time,
        lat=lat,
        lon=lon,
        speed=scaled(
            unknown_if_negative(parse_number(_first(params, "speed"), "speed")), KNOTS_TO_MPS
        ),
        heading=parse_number(_first(params, "bearing", "heading"), "bearing"),
        altitude=parse_number(_first(params, "altitude"), "altitude"),
        accuracy=parse_number(_first(params, "accuracy"), "accuracy"),
        battery=parse_number(_first(params, "batt"), "batt"),
    )
    return OsmAndReport(device_id, [fix])


# -- Traccar Client 9+ JSON ------------------------------------------------------------------
def _object(raw: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{field} must be a JSON object", details={"field": field})
    return raw


def _json_fix(location: Mapping[str, Any]) -> Fix | Refusal:
    time = parse_time(location.get("timestamp"))
    coords = location.get("coords")
    if coords is None:
        return _NO_FIX
    coords = _object(coords, "location.coords")
    lat = parse_number(coords.get("latitude"), "location.coords.latitude", required=True)
    lon = parse_number(coords.get("longitude"), "location.coords.longitude", required=True)
    battery = location.get("battery")
    level = None
    if battery is not None:
        level = parse_number(
            _object(battery, "location.battery").get("level"), "location.battery.level"
        )
    return Fix(
        time=time,
        lat=lat or 0.0,
        lon=lon or 0.0,
        speed=parse_number(coords.get("speed"), "location.coords.speed"),
        heading=parse_number(coords.get("heading"), "location.coords.heading"),
        accuracy=parse_number(coords.get("accuracy"), "location.coords.accuracy"),
        altitude=parse_number(coords.get("altitude"), "location.coords.altitude"),
        battery=scaled(unknown_if_negative(level), 100.0),
    )


def parse_json(body: Any) -> OsmAndReport:
    """One report (or a batch) from Traccar Client 9's JSON body.

    Raises
    ------
    InvalidInput
        Not the expected shape, or a value that is not a number or a time.
    """
    root = _object(body, "body")
    device_id = root.get("device_id")
    if not isinstance(device_id, str) or not device_id:
        raise InvalidInput("device_id is required", details={"field": "device_id"})
    locations = root.get("location")
    items = locations if isinstance(locations, list) else [locations]
    check_batch_size(len(items))
    return OsmAndReport(device_id, [_json_fix(_object(item, "location")) for item in items])
