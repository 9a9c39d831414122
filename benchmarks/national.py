"""A GENERATED national-scale road graph (3M nodes): memory per server and first ranking.

Run with ``.venv/bin/python benchmarks/national.py`` (part of ``make bench``). Not real
roads: :func:`najda.routing.synthetic.generate_city` at national size, named as such.

1. *build* (this process): generate the graph, write it to a graph store
   (:mod:`najda.routing.store`) with its derived arrays (both search directions, the
   snapping grid), as the first server process on a machine does after loading from
   PostGIS; prints the time of each step and the store's size on disk;
2. *serve* (a fresh process, as a server starting on a machine that has the store):
   open the store (memory maps), then rank the 5 best of 500 units for one incident,
   and report the seconds from the start of the open to the first answer, the process's
   RSS and PSS then, after 200 more incidents (median, p90), and after a search over the
   whole graph has touched every page (the ceiling);
3. the same first ranking with scipy's bounded reverse Dijkstra, for the ratio.

Targets: <= 2 GB per server; first ranking <= 2 s after load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from najda.routing.arrays import folder_bytes
from najda.routing.engine import UnitPosition, node_travel_times, rank_units
from najda.routing.graph import FREE_FLOW, GraphRef, search_for
from najda.routing.snap import snap_index
from najda.routing.store import GraphStore


def memory_mb() -> dict[str, float]:
    out = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        key = line.split(":")[0]
        if key in ("Rss", "Pss"):
            out[key.lower() + "_mb"] = int(line.split()[1]) / 1024
    return out


def build(root: Path, nodes: int, seed: int) -> dict[str, Any]:
    from najda.routing.synthetic import generate_city

    t0 = time.perf_counter()
    city = generate_city(nodes=nodes, seed=seed)
    t1 = time.perf_counter()
    graph = city.to_graph(region="national")
    graph.fingerprint = f"{city.name}|generated"
    del city
    t2 = time.perf_counter()
    store = GraphStore(root)
    store.save(graph)
    ref = GraphRef("national", 0, graph.version, graph.fingerprint)
    stored = store.open(ref, snap_limit_m=500.0)
    assert stored is not None
    t3 = time.perf_counter()
    snap_index(stored)
    for reverse in (True, False):
        search_for(stored, stored.travel_time_s, FREE_FLOW, reverse=reverse)
    t4 = time.perf_counter()
    return {
        "nodes": stored.node_count,
        "edges": stored.edge_count,
        "generate_s": t1 - t0,
        "arrays_s": t2 - t1,
        "store_s": t3 - t2,
        "derived_s": t4 - t3,
        "store_mb": folder_bytes(root) / 1e6,
        "fingerprint": graph.fingerprint,
        "version": graph.version,
    }


def serve(root: Path, fingerprint: str, version: int, units: int, seed: int) -> dict[str, Any]:
    """In a fresh process: open the store and answer as a server would."""
    started = time.perf_counter()
    from najda.routing.warm import warm_up

    warm_up()  # a server compiles (or loads) its kernels before it opens graphs
    compiled = time.perf_counter()
    graph = GraphStore(root).open(GraphRef("national", 0, version, fingerprint), snap_limit_m=500.0)
    assert graph is not None
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, graph.node_count, units)
    fleet = [
        UnitPosition(i, float(graph.lon[j]) + 1e-4, float(graph.lat[j]))
        for i, j in enumerate(picks)
    ]
    incidents = [
        (float(graph.lon[j]), float(graph.lat[j]) + 1e-4)
        for j in rng.integers(0, graph.node_count, 201)
    ]
    opened = time.perf_counter()
    first = rank_units(graph, incidents[0], fleet, k=5)
    answered = time.perf_counter()
    after_first = memory_mb()
    times = []
    for at in incidents[1:]:
        t = time.perf_counter()
        rank_units(graph, at, fleet, k=5)
        times.append((time.perf_counter() - t) * 1e3)
    after_200 = memory_mb()
    scipy_first = _scipy_bounded_ms(graph, incidents[0], first)
    node_travel_times(graph, np.array([0], dtype=np.int32))  # touches every page of one search
    snap_index(graph).nbytes()
    return {
        "compile_s": compiled - started,
        "open_s": opened - compiled,
        "first_ranking_s": answered - opened,
        "open_to_first_answer_s": answered - compiled,
        "memory_after_first": after_first,
        "median_ms": statistics.median(times),
        "p90_ms": float(np.percentile(times, 90)),
        "memory_after_200": after_200,
        "memory_after_whole_graph_search": memory_mb(),
        "scipy_bounded_ms": scipy_first,
        "first_ranked": [(r.unit_id, round(r.eta_s, 3)) for r in first.ranked],
    }


def _scipy_bounded_ms(graph: Any, at: tuple[float, float], ranking: Any) -> float:
    """scipy's csgraph Dijkstra over the same reverse search, bounded at the 5th ETA."""
    from scipy.sparse.csgraph import dijkstra

    search = search_for(graph, graph.travel_time_s, FREE_FLOW, reverse=True)
    matrix = search.matrix[: graph.node_count, : graph.node_count].tocsr()
    start = int(graph.edge_v[ranking.incident.edge])
    limit = max(r.eta_s for r in ranking.ranked)
    t = time.perf_counter()
    dijkstra(matrix, directed=True, indices=start, limit=limit)
    return (time.perf_counter() - t) * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=3_000_000)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # the child's arguments (JSON)
    args = parser.parse_args(argv)
    if args.serve:
        job = json.loads(args.serve)
        print(
            json.dumps(
                serve(Path(job["root"]), job["fingerprint"], job["version"], args.units, args.seed)
            )
        )
        return 0
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    root = Path(tempfile.mkdtemp(prefix="najda-national-", dir="/tmp"))
    try:
        built = build(root, args.nodes, args.seed)
        print(json.dumps(built), flush=True)
        job = json.dumps(
            {"root": str(root), "fingerprint": built["fingerprint"], "version": built["version"]}
        )
        child = subprocess.run(
            [sys.executable, __file__, "--units", str(args.units), "--serve", job],
            capture_output=True,
            text=True,
            check=True,
        )
        served = json.loads(child.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(served, indent=1))
    m1, m2, m3 = (
        served[k]
        for k in ("memory_after_first", "memory_after_200", "memory_after_whole_graph_search")
    )
    print(
        f"\nGENERATED graph: {built['nodes']:,} nodes, {built['edges']:,} edges; load average at end: {os.getloadavg()[0]:.2f}"
    )
    print(
        f"build once: generate {built['generate_s']:.1f} s, arrays {built['arrays_s']:.1f} s, store {built['store_s']:.1f} s, derived (search x2, snap grid) {built['derived_s']:.1f} s; store on disk {built['store_mb']:.0f} MB"
    )
    print(
        f"server: kernels {served['compile_s']:.2f} s; open (mmap) {served['open_s'] * 1e3:.0f} ms; first ranking (5 of {args.units}) {served['first_ranking_s'] * 1e3:.0f} ms -> {served['open_to_first_answer_s']:.2f} s from open to first answer (target <= 2 s)"
    )
    print(
        f"warm: median {served['median_ms']:.2f} ms, p90 {served['p90_ms']:.2f} ms over 200 incidents; scipy bounded reverse Dijkstra {served['scipy_bounded_ms']:.1f} ms"
    )
    print(
        f"memory RSS / PSS: after first ranking {m1['rss_mb']:.0f} / {m1['pss_mb']:.0f} MB; after 200 {m2['rss_mb']:.0f} / {m2['pss_mb']:.0f} MB; every page touched {m3['rss_mb']:.0f} / {m3['pss_mb']:.0f} MB (target <= 2,048 MB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
