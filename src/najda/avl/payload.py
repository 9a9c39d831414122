"""The JSON API's fix format (``POST /api/v1/avl/positions``).

One fix::

    {"time": "2026-11-23T08:00:00Z" | 1795420800 | 1795420800000,
     "lat": 24.7, "lon": 46.6,
     "speed": 12.5, "heading": 90, "accuracy": 5, "altitude": 610, "battery": 87}

``time`` is Unix seconds, milliseconds or ISO 8601; ``speed`` is in m/s, ``battery`` in
percent; all but time, lat and lon are optional. A batch is ``{"fixes": [fix, ...]}``
with at most :data:`najda.avl.ingest.MAX_BATCH` fixes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from najda.avl.fixes import Fix, parse_number, parse_time
from najda.avl.ingest import check_batch_size
from najda.errors import InvalidInput

FIELDS = ("time", "lat", "lon", "speed", "heading", "accuracy", "altitude", "battery")


def _with_index(exc: InvalidInput, index: int | None) -> InvalidInput:
    if index is not None:
        exc.details = {**exc.details, "index": index}
    return exc


def fix_from_json(raw: Any, *, index: int | None = None) -> Fix:
    """A :class:`Fix` from one JSON object (values are checked later, not here)."""
    if not isinstance(raw, Mapping):
        raise _with_index(InvalidInput("a fix must be a JSON object"), index)
    unknown = sorted(set(raw) - set(FIELDS))
    try:
        if unknown:
            raise InvalidInput(
                f"unknown field: {unknown[0]}", details={"field": unknown[0], "known": list(FIELDS)}
            )
        lat = parse_number(raw.get("lat"), "lat", required=True)
        lon = parse_number(raw.get("lon"), "lon", required=True)
        return Fix(
            time=parse_time(raw.get("time")),
            lat=lat or 0.0,
            lon=lon or 0.0,
            **{
                k: parse_number(raw.get(k), k)
                for k in ("speed", "heading", "accuracy", "altitude", "battery")
            },
        )
    except InvalidInput as exc:
        raise _with_index(exc, index) from None


def fixes_from_body(body: Mapping[str, Any]) -> tuple[list[Fix], bool]:
    """The fixes of a request body and whether it was a batch."""
    if "fixes" not in body:
        return [fix_from_json(body)], False
    items = body["fixes"]
    if set(body) != {"fixes"} or not isinstance(items, list):
        raise InvalidInput(
            'a batch is {"fixes": [...]} and nothing else', details={"field": "fixes"}
        )
    check_batch_size(len(items))
    return [fix_from_json(item, index=i) for i, item in enumerate(items)], True
