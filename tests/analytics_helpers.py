"""Independent computations the analytics tests compare Najda with: networkx over the
``road_edge`` rows read with SQL, and the stations' road nodes read with SQL."""

from __future__ import annotations

import networkx as nx
from sqlalchemy import Engine, text


def networkx_times(engine: Engine, sources: list[int], cutoff_s: float) -> dict[int, float]:
    """Time from the nearest of ``sources`` (road node ids) to every node within
    ``cutoff_s``: networkx's multi-source Dijkstra on the cheapest edge of each pair."""
    g = nx.DiGraph()
    with engine.connect() as conn:
        for u, v, t in conn.execute(
            text("SELECT u, v, min(travel_time_s) FROM road_edge WHERE u <> v GROUP BY u, v")
        ):
            g.add_edge(int(u), int(v), weight=float(t))
    return nx.multi_source_dijkstra_path_length(g, set(sources), cutoff=cutoff_s)


def station_road_nodes(engine: Engine) -> list[int]:
    """Road node ids of the stations linked within the snapping limit (500 m)."""
    with engine.connect() as conn:
        return [
            int(n)
            for n in conn.execute(
                text("SELECT road_node_id FROM station WHERE snap_distance_m <= 500")
            ).scalars()
        ]
