"""How good is a straight-line ETA? Calibration of the off-network fallback on a real city.

Where road routing cannot answer (an incident farther than ``NAJDA_SNAP_LIMIT_M`` from
every road), dispatch estimates travel time as the great-circle distance times
``NAJDA_STRAIGHT_LINE_DETOUR``, driven at ``NAJDA_STRAIGHT_LINE_SPEED_KPH``. This script
measures, on a region's real road graph, what those two numbers are between random
pairs of road nodes (road length over great-circle distance: the detour; road length
over free-flow road time: the speed), how far the estimate with the current settings is
from the road ETA, and how often ranking by it picks the same nearest unit as the roads.

Run against a database with the region imported (``DATABASE_URL``, or the embedded
cluster of ``NAJDA_HOME``)::

    NAJDA_HOME=/tmp/najda-try .venv/bin/python benchmarks/straight_line.py --region doha

Options: ``--pairs N`` (origins x targets sampled), ``--seed S``.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from najda.config import load_settings
from najda.db.session import make_engine
from najda.dispatch.travel import StraightLine, great_circle_m
from najda.routing.graph import load_graph


def _matrix(graph, weight):  # type: ignore[no-untyped-def]
    n = graph.node_count
    return csr_matrix((weight, (graph.edge_u, graph.edge_v)), shape=(n, n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--region", default="doha")
    parser.add_argument("--origins", type=int, default=60)
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()
    settings = load_settings()
    pace = StraightLine(
        speed_kph=settings.straight_line_speed_kph, detour_factor=settings.straight_line_detour
    )
    engine = make_engine(settings)
    graph = load_graph(engine, args.region, progress=False)
    rng = np.random.default_rng(args.seed)
    origins = rng.choice(graph.node_count, args.origins, replace=False)
    targets = rng.choice(graph.node_count, args.targets, replace=False)
    # reverse searches: time and length from every target (a unit) to each origin (an
    # incident), along the fastest route
    reverse_time = _matrix(graph, graph.travel_time_s).T.tocsr()
    times, pred = dijkstra(reverse_time, indices=origins, return_predecessors=True)
    edge_len = _edge_lengths(graph)
    lengths = np.full_like(times, np.nan)
    for i in range(len(origins)):
        lengths[i] = _route_lengths(graph.node_count, edge_len, pred[i], origins[i])
    t = times[:, targets]
    length = lengths[:, targets]
    gc = np.stack(
        [
            great_circle_m(graph.lon[targets], graph.lat[targets], graph.lon[o], graph.lat[o])
            for o in origins
        ]
    )
    ok = np.isfinite(t) & (gc > 1000)  # pairs a kilometre or more apart, connected
    detour = length[ok] / gc[ok]
    speed = length[ok] / t[ok] * 3.6
    ratio = pace.eta_s(gc[ok]) / t[ok]
    print(f"region {args.region}: {graph.node_count} nodes, {ok.sum()} pairs >= 1 km apart")
    _quantiles("detour (road length / great circle)", detour)
    _quantiles("road speed, free flow (km/h)", speed)
    _quantiles(
        f"settings {pace.speed_kph:g} km/h, detour x{pace.detour_factor:g}: estimate / road ETA",
        ratio,
    )
    same = _same_nearest(t, pace.eta_s(gc))
    print(
        f"nearest of the {args.targets} units by straight line is the nearest by road: {same:.0%}"
    )


def _quantiles(label: str, values: np.ndarray) -> None:
    p10, p50, p90 = np.percentile(values, [10, 50, 90])
    print(f"{label:<58} p10 {p10:.2f}  median {p50:.2f}  p90 {p90:.2f}")


def _edge_lengths(graph):  # type: ignore[no-untyped-def]
    """Length of the fastest edge from u to v, by (u, v) (parallel edges: the fastest)."""
    best: dict[tuple[int, int], tuple[float, float]] = {}
    for u, v, t, length in zip(
        graph.edge_u.tolist(),
        graph.edge_v.tolist(),
        graph.travel_time_s.tolist(),
        graph.length_m.tolist(),
        strict=True,
    ):
        if (u, v) not in best or t < best[(u, v)][0]:
            best[(u, v)] = (t, length)
    return {k: length for k, (_, length) in best.items()}


def _route_lengths(n, edge_len, pred, root):  # type: ignore[no-untyped-def]
    """Road length of each node's fastest route to ``root`` (from the predecessor tree)."""
    out = np.full(n, np.nan)
    out[root] = 0.0
    done = np.zeros(n, dtype=bool)
    done[root] = True
    for start in range(n):
        chain = []
        v = int(start)
        while not done[v] and pred[v] >= 0:
            chain.append(v)
            v = int(pred[v])
        if not done[v]:
            continue
        for w in reversed(chain):
            # reversed graph: pred[w] is the next node on w's way to the root
            out[w] = out[int(pred[w])] + edge_len[(w, int(pred[w]))]
            done[w] = True
    return out


def _same_nearest(road: np.ndarray, estimate: np.ndarray) -> float:
    agree = [
        int(np.nanargmin(np.where(np.isfinite(road[i]), road[i], np.inf)))
        == int(np.argmin(np.where(np.isfinite(road[i]), estimate[i], np.inf)))
        for i in range(road.shape[0])
    ]
    return float(np.mean(agree))


if __name__ == "__main__":
    main()
