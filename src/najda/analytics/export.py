"""CSV of result rows (GeoJSON comes from the modules that own the geometry)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def rows_to_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Rows as CSV text (UTF-8, header first); nested values are left out, None is empty."""
    rows = list(rows)
    if columns is None:
        seen: dict[str, None] = {}
        for r in rows:
            for k, v in r.items():
                if not isinstance(v, dict | list):
                    seen.setdefault(k, None)
        columns = list(seen)
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
    return out.getvalue()


def points_geojson(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Rows with ``lon``/``lat`` as Point features."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
                "properties": {k: v for k, v in r.items() if not isinstance(v, dict | list)},
            }
            for r in rows
        ],
    }
