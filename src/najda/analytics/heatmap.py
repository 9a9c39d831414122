"""Response-time heatmaps on H3 cells: modelled (road graph) and measured (history).

* Modelled: per H3 cell holding road nodes, the time from the nearest station (or
  available unit) to the cell's nodes, from ONE multi-source search (the per-node times
  of :class:`~najda.analytics.coverage.Coverage`); the cell shows the median of its
  nodes and their minimum.
* Measured: per H3 cell holding closed incidents, the median and 90th percentile of a
  stage (default ``response``: call answered to first unit on scene) from the incidents'
  own timestamps (:func:`najda.analytics.kpi.load_history`).
"""

from __future__ import annotations

from typing import Any

import h3
import numpy as np
import pandas as pd

from najda.analytics.kpi import STAGES
from najda.analytics.population import cell_polygon
from najda.errors import InvalidInput
from najda.routing.graph import FloatArray, RoadGraph

DEFAULT_RESOLUTION = 9
CELL_BUDGET = 8_000
COORD_DECIMALS = 5  # about 1 m: drawn geometry, not measurements


def _check_resolution(resolution: int) -> int:
    if isinstance(resolution, bool) or not isinstance(resolution, int) or not 6 <= resolution <= 11:
        raise InvalidInput(
            "resolution must be an integer from 6 to 11", details={"resolution": resolution}
        )
    return resolution


def node_cells(graph: RoadGraph, resolution: int) -> np.ndarray:
    """H3 cell of every road node (kept with the graph)."""

    def build() -> np.ndarray:
        return np.array(
            [
                h3.latlng_to_cell(la, lo, resolution)
                for lo, la in zip(graph.lon.tolist(), graph.lat.tolist(), strict=True)
            ]
        )

    cells: np.ndarray = graph.memo(("analytics", "node_cells", resolution), build)
    return cells


def fine_resolution(graph: RoadGraph, *, finest: int, budget: int = CELL_BUDGET) -> int:
    """The finest H3 resolution, from ``finest`` down to 6, at which the graph's road
    nodes fall in at most ``budget`` cells: fine cells on a district, coarser ones on a
    whole city, so that a map layer stays a few thousand shapes."""
    for resolution in range(finest, 6, -1):
        if np.unique(node_cells(graph, resolution)).size <= budget:
            return resolution
    return 6


def modelled(
    graph: RoadGraph, node_times: FloatArray, *, resolution: int = DEFAULT_RESOLUTION
) -> list[dict[str, Any]]:
    """Cells with reached road nodes: median and minimum time of their nodes."""
    cells = node_cells(graph, _check_resolution(resolution))
    ok = np.isfinite(node_times)
    if not ok.any():
        return []
    frame = pd.DataFrame({"cell": cells[ok], "t": node_times[ok]})
    grouped = frame.groupby("cell")["t"].agg(["median", "min", "count"]).reset_index()
    rows = []
    for r in grouped.itertuples(index=False):
        lat, lon = h3.cell_to_latlng(r.cell)
        rows.append(
            {
                "cell": r.cell,
                "lon": lon,
                "lat": lat,
                "time_s": round(float(r.median), 3),
                "min_s": round(float(r.min), 3),
                "nodes": int(r.count),
            }
        )
    return rows


def measured(
    history: pd.DataFrame, *, stage: str = "response", resolution: int = DEFAULT_RESOLUTION
) -> list[dict[str, Any]]:
    """Cells with incidents: count, median and p90 of ``stage`` (seconds)."""
    if stage not in STAGES:
        raise InvalidInput(
            f"unknown stage: {stage}", details={"stage": stage, "known": list(STAGES)}
        )
    _check_resolution(resolution)
    part = history[history[stage].notna()] if len(history) else history
    if not len(part):
        return []
    cells = [
        h3.latlng_to_cell(la, lo, resolution)
        for lo, la in zip(part["lon"], part["lat"], strict=True)
    ]
    frame = pd.DataFrame({"cell": cells, "t": part[stage].to_numpy(dtype=float)})
    rows = []
    for cell, group in frame.groupby("cell"):
        t = group["t"].to_numpy()
        lat, lon = h3.cell_to_latlng(str(cell))
        rows.append(
            {
                "cell": str(cell),
                "lon": lon,
                "lat": lat,
                "incidents": int(t.size),
                "time_s": round(float(np.percentile(t, 50)), 3),
                "p90_s": round(float(np.percentile(t, 90)), 3),
            }
        )
    return rows


def cells_geojson(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows with a ``cell`` as a FeatureCollection of hexagons."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": cell_polygon(r["cell"], decimals=COORD_DECIMALS),
                "properties": r,
            }
            for r in rows
        ],
    }


def cells_shape(cells: Any) -> dict[str, Any]:
    """H3 cells merged into one GeoJSON (Multi)Polygon (lon/lat, rounded)."""
    shape = h3.cells_to_geo([str(c) for c in cells])
    return {"type": shape["type"], "coordinates": _rounded(shape["coordinates"])}


def _rounded(coords: Any) -> Any:
    """Nested coordinate tuples as lists, each ring rounded at once by numpy."""
    if coords and isinstance(coords[0][0], float):
        return np.round(np.asarray(coords), COORD_DECIMALS).tolist()
    return [_rounded(c) for c in coords]
