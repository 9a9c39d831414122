"""Time to recompute region-wide coverage on a GENERATED 150k-node road network.

Coverage = one multi-source forward search from every station (bounded at the largest
threshold) + the population-weighted sums per governorate for 4, 8 and 12 minutes
(:func:`najda.analytics.coverage.coverage_from_node_times`). The same is computed with
networkx (``multi_source_dijkstra_path_length`` with the same cutoff) and the results
are checked equal. Target: Najda under 1 s.

The network is generated (``najda.routing.synthetic.generate_city``), not surveyed; the
population is synthetic too: one demand row per road node's H3 res-9 cell, people drawn
from a log-normal law, 20 "governorates" as vertical strips of the city.

Run: ``.venv/bin/python benchmarks/analytics.py [--nodes 150000] [--stations 120]``
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import networkx as nx
import numpy as np

from najda.analytics.coverage import DEFAULT_THRESHOLDS_MIN, Demand, coverage_from_node_times
from najda.analytics.population import Governorates, PopulationSurface
from najda.routing.engine import node_travel_times
from najda.routing.synthetic import generate_city


def synthetic_demand(graph, rng: np.random.Generator, districts: int = 20) -> Demand:
    import h3

    cells = np.array(
        [
            h3.latlng_to_cell(la, lo, 9)
            for lo, la in zip(graph.lon.tolist(), graph.lat.tolist(), strict=True)
        ]
    )
    uniq, first = np.unique(cells, return_index=True)
    node = first.astype(np.int32)  # the cell's first road node stands for it
    edges = np.quantile(graph.lon, np.linspace(0, 1, districts + 1)[1:-1])
    strip = np.digitize(graph.lon[node], edges)
    pop = rng.lognormal(mean=6.0, sigma=1.0, size=uniq.size)
    placed = np.bincount(strip, weights=pop, minlength=districts)
    gov = Governorates(
        id=np.arange(districts),
        code=tuple(f"d{i}" for i in range(districts)),
        name_en=tuple(f"District {i}" for i in range(districts)),
        name_ar=tuple(f"حي {i}" for i in range(districts)),
        population=placed * 1.05,
        placed=placed,
    )
    surface = PopulationSurface(
        region="generated",
        resolution=9,
        cell=uniq,
        lon=graph.lon[node],
        lat=graph.lat[node],
        population=pop,
        governorate=strip.astype(np.int64),
        governorates=gov,
    )
    return Demand(surface, node, 0.0)


def najda_coverage(graph, demand: Demand, stations: np.ndarray):
    times = node_travel_times(graph, stations, limit_s=max(DEFAULT_THRESHOLDS_MIN) * 60)
    return coverage_from_node_times(times, demand, DEFAULT_THRESHOLDS_MIN)


def networkx_coverage(g: nx.DiGraph, graph, demand: Demand, stations: np.ndarray):
    lengths = nx.multi_source_dijkstra_path_length(
        g, set(stations.tolist()), cutoff=max(DEFAULT_THRESHOLDS_MIN) * 60, weight="weight"
    )
    times = np.full(graph.node_count, np.inf)
    idx = np.fromiter(lengths.keys(), dtype=np.int64, count=len(lengths))
    times[idx] = np.fromiter(lengths.values(), dtype=float, count=len(lengths))
    return coverage_from_node_times(times, demand, DEFAULT_THRESHOLDS_MIN)


def timed(fn, repeat: int) -> tuple[float, object]:
    samples, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=150_000)
    parser.add_argument("--stations", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    city = generate_city(nodes=args.nodes, seed=1)
    graph = city.to_graph()
    demand = synthetic_demand(graph, rng)
    stations = np.sort(rng.choice(graph.node_count, size=args.stations, replace=False))
    stations = stations.astype(np.int32)
    minutes = ", ".join(f"{t:g}" for t in DEFAULT_THRESHOLDS_MIN)
    print(
        f"generated network {city.name}: {graph.node_count:,} nodes, "
        f"{graph.edge_count:,} edges; {len(demand.surface):,} H3 cells, "
        f"{args.stations} stations, thresholds {minutes} min"
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )

    najda_coverage(graph, demand, stations)  # builds the CSR search matrix once per graph
    t_najda, ours = timed(lambda: najda_coverage(graph, demand, stations), args.repeat)

    g = nx.DiGraph()
    w = graph.travel_time_s
    for u, v, t in zip(graph.edge_u.tolist(), graph.edge_v.tolist(), w.tolist(), strict=True):
        if u != v and (not g.has_edge(u, v) or g[u][v]["weight"] > t):
            g.add_edge(u, v, weight=t)
    t_nx, theirs = timed(
        lambda: networkx_coverage(g, graph, demand, stations), max(1, args.repeat // 3)
    )

    assert np.allclose(ours.covered, theirs.covered, rtol=1e-9), "results differ"
    totals = ours.totals()
    print(
        "covered: "
        + ", ".join(f"{t:g} min {totals[f'pct_{t:g}min']:.2f} %" for t in DEFAULT_THRESHOLDS_MIN)
        + " (identical in both)"
    )
    print(f"{'engine':<44}{'median':>12}")
    from najda.routing import kernel

    engine_name = "numba kernel" if kernel.AVAILABLE else "scipy csgraph"
    label = f"najda ({engine_name}, one multi-source search)"
    print(f"{label:<44}{t_najda * 1000:>10.1f} ms")
    print(f"{'networkx multi_source_dijkstra_path_length':<44}{t_nx * 1000:>10.1f} ms")
    print(
        f"ratio networkx / najda: {t_nx / t_najda:.1f}x; target najda < 1 s: "
        f"{'met' if t_najda < 1.0 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
