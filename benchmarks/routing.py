"""Routing benchmark: Najda's ranking against networkx and pgRouting on the same tables.

Run with ``make bench`` (``.venv/bin/python benchmarks/routing.py``). It starts its own
throwaway PostgreSQL + PostGIS + pgRouting cluster (or uses ``DATABASE_URL`` when set),
imports the real Riyadh Al-Muhammadiyah roads with the road importer (``NAJDA_DATA_DIR``,
default ../shared/data), writes a GENERATED city-scale network (default 160k nodes) with
COPY, and prints for one incident and 200 / 1,000 available units the median time of:

- Najda: ``rank_units(k=5)``: snapping the incident, one bounded reverse Dijkstra (the
  compiled kernel of ``najda.routing.kernel``, stopped as soon as the five best are
  certain; scipy csgraph with ``NAJDA_ROUTING_KERNEL=scipy``), ETA and road distance of
  the five best, route geometry built when read. Timed *warm*: the
  units' road positions come from the graph's unit snap cache, as in dispatch, where a
  unit is snapped again only after it moved. Also printed: *cold* (every unit snapped
  in the call), warm with the five route geometries built, and warm over 200 different
  incidents (median and p90) rather than one repeated;
- networkx, one search per unit (the osmnx recipe: nearest node, then
  ``shortest_path`` = bidirectional Dijkstra per unit; on the big graph a sample of units
  is timed and the total extrapolated, which is printed as such);
- networkx, one reverse single-source Dijkstra over the whole graph (and, for reference,
  the same search cut off at the k-th unit's ETA);
- pgRouting ``pgr_dijkstraCost`` many-to-one on the same ``road_edge`` rows;

and the ratios; then dispatch's plan fill (2 fire, 1 EMS, 1 police) with every unit
ranked versus the search bounded by the plan. It also times loading the big graph from
PostGIS and measures the memory it adds. Options: ``--nodes N``, ``--runs R``, ``--keep``
(keep the cluster).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
from sqlalchemy import Engine, text

from najda.config import load_settings
from najda.db.localpg import LocalPostgres
from najda.db.migrate import upgrade
from najda.db.session import make_engine
from najda.ingest.roads import import_roads_file
from najda.routing import kernel
from najda.routing.engine import UnitPosition, UnitPositions, node_travel_times, rank_units
from najda.routing.graph import RoadGraph, load_graph, search_for
from najda.routing.snap import snap_index
from najda.routing.synthetic import generate_city, write_city

RIYADH = "roads/riyadh_almuhammadiyah_roads_osm.geojson"
DOHA = "roads/doha/doha_qatar_osm_roads.geojson"
K = 5
UNIT_COUNTS = (200, 1000)
DOHA_UNITS = (500,)
PER_UNIT_SAMPLE = 10
RANDOM_INCIDENTS = 200


# -- setup -------------------------------------------------------------------------------------


@contextmanager
def database(keep: bool) -> Iterator[Engine]:
    """DATABASE_URL when set, else a throwaway cluster removed afterwards."""
    url = os.environ.get("DATABASE_URL")
    if url:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        engine = make_engine(url=url)
        yield engine
        engine.dispose()
        return
    home = Path(tempfile.mkdtemp(prefix="najda-bench-", dir="/tmp"))
    os.chmod(home, 0o755)
    cluster = LocalPostgres(home, port=56000 + os.getpid() % 1000)
    cluster.start()
    engine = make_engine(url=cluster.url())
    try:
        yield engine
    finally:
        engine.dispose()
        if keep:
            print(f"cluster kept: {cluster.url()}")
        else:
            cluster.destroy()
            shutil.rmtree(home, ignore_errors=True)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def median_ms(fn: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def machine() -> str:
    model = platform.processor() or "?"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        model = fields.get("Model name", model).strip()
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


# -- the load measurement ----------------------------------------------------------------------


def measure_load(engine: Engine, region: str) -> tuple[RoadGraph, dict[str, float]]:
    """Load the big graph twice: once timed (RSS), once under tracemalloc."""
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    graph = load_graph(engine, region)
    loaded = time.perf_counter() - started
    snap_index(graph)
    search_for(graph, graph.travel_time_s, ("free_flow",), reverse=True)
    ready = time.perf_counter() - started
    gc.collect()
    rss_added = rss_mb() - before
    arrays = graph.nbytes() / 2**20
    del graph
    gc.collect()
    tracemalloc.start()
    again = load_graph(engine, region)
    snap_index(again)
    search_for(again, again.travel_time_s, ("free_flow",), reverse=True)
    gc.collect()
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return again, {
        "load_s": loaded,
        "ready_s": ready,
        "rss_added_mb": rss_added,
        "arrays_mb": arrays,
        "traced_retained_mb": retained / 2**20,
        "traced_peak_mb": peak / 2**20,
    }


# -- the engines -------------------------------------------------------------------------------


def scenario(
    graph: RoadGraph, n_units: int, seed: int
) -> tuple[tuple[float, float], list[UnitPosition]]:
    """One incident and ``n_units`` units near random nodes (seeded)."""
    rng = np.random.default_rng(seed)
    nodes = rng.integers(0, graph.node_count, n_units + 1)
    xy = graph.frame.to_xy(graph.lon[nodes], graph.lat[nodes])
    xy += rng.uniform(-25, 25, xy.shape)
    lonlat = graph.to_lonlat(xy)
    units = [UnitPosition(int(i + 1), float(x), float(y)) for i, (x, y) in enumerate(lonlat[1:])]
    return (float(lonlat[0, 0]), float(lonlat[0, 1])), units


def nearest_nodes(graph: RoadGraph, lon: Any, lat: Any) -> np.ndarray:
    from scipy.spatial import cKDTree

    tree = cKDTree(graph.frame.to_xy(graph.lon, graph.lat))
    return tree.query(graph.frame.to_xy(lon, lat))[1]


def random_incidents_ms(
    graph: RoadGraph, units: UnitPositions, *, seed: int
) -> tuple[float, float]:
    """Median and p90 of warm rankings for many different incidents (seeded), each
    ranked once: no repeated search area stays in the CPU caches."""
    rank_units(graph, scenario(graph, 0, seed)[0], units, K)
    times = []
    for i in range(RANDOM_INCIDENTS):
        incident, _ = scenario(graph, 0, seed * 1000 + i)
        started = time.perf_counter()
        rank_units(graph, incident, units, K)
        times.append(time.perf_counter() - started)
    return (statistics.median(times) * 1000, float(np.percentile(times, 90)) * 1000)


def networkx_graph(engine: Engine, region: str, graph: RoadGraph) -> nx.DiGraph:
    """A networkx DiGraph of the road_edge rows (the cheaper of parallel edges), by node id."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT e.u, e.v, e.travel_time_s FROM road_edge e JOIN region r "
                "ON r.id = e.region_id WHERE r.code = :c"
            ),
            {"c": region},
        ).all()
    g = nx.DiGraph()
    for u, v, t in rows:
        if u != v and (not g.has_edge(u, v) or g[u][v]["travel_time"] > t):
            g.add_edge(u, v, travel_time=t)
    return g


def scipy_bounded_ms(graph: RoadGraph, ranking: Any, runs: int) -> float:
    """scipy's csgraph Dijkstra on the same reverse CSR, from the incident's edge head,
    bounded at the k-th ETA: the search alone, without snapping or ETA bookkeeping."""
    from scipy.sparse.csgraph import dijkstra

    from najda.routing.graph import FREE_FLOW, search_for

    search = search_for(graph, graph.travel_time_s, FREE_FLOW, reverse=True)
    matrix = search.matrix[: graph.node_count, : graph.node_count].tocsr()
    start = int(graph.edge_u[ranking.incident.edge])
    limit = ranking.ranked[-1].eta_s if ranking.ranked else np.inf
    return median_ms(lambda: dijkstra(matrix, directed=True, indices=start, limit=limit), runs)


def kernel_bounded_ms(graph: RoadGraph, ranking: Any, runs: int) -> float:
    """Najda's compiled search alone, same start and bound as :func:`scipy_bounded_ms`."""
    from najda.routing.graph import FREE_FLOW, search_for

    search = search_for(graph, graph.travel_time_s, FREE_FLOW, reverse=True)
    start = np.array([graph.edge_u[ranking.incident.edge]], dtype=np.int32)
    limit = ranking.ranked[-1].eta_s if ranking.ranked else np.inf

    def run() -> None:
        with search.walker(start, np.zeros(1)) as walker:
            walker.advance(limit)

    return median_ms(run, runs)


def pgrouting_ms(
    engine: Engine, region: str, starts: list[int], target: int, runs: int
) -> tuple[float, dict[int, float]]:
    sql = text(
        "SELECT start_vid, agg_cost FROM pgr_dijkstraCost("
        " 'SELECT id, u AS source, v AS target, travel_time_s AS cost FROM road_edge"
        "  WHERE region_id = ' || :rid, CAST(:starts AS bigint[]), CAST(:target AS bigint),"
        " directed => true)"
    )
    with engine.connect() as conn:
        rid = conn.execute(
            text("SELECT id FROM region WHERE code = :c"), {"c": region}
        ).scalar_one()
        result: dict[int, float] = {}

        def run() -> None:
            rows = conn.execute(sql, {"rid": rid, "starts": starts, "target": target}).all()
            result.update({int(a): float(b) for a, b in rows})

        return median_ms(run, runs), result


def bench_graph(
    engine: Engine,
    region: str,
    graph: RoadGraph,
    *,
    runs: int,
    big: bool,
    unit_counts: tuple[int, ...] = UNIT_COUNTS,
) -> list[dict[str, Any]]:
    print(f"\n== {region}: {graph.node_count:,} nodes, {graph.edge_count:,} edges ==", flush=True)
    started = time.perf_counter()
    g = networkx_graph(engine, region, graph)
    print(f"   (networkx graph built in {time.perf_counter() - started:.1f} s)", flush=True)
    rev = g.reverse(copy=False)
    rows = []
    for n_units in unit_counts:
        incident, units = scenario(graph, n_units, seed=n_units)
        rows.append(bench_one(engine, region, graph, g, rev, incident, units, runs=runs, big=big))
    return rows


def bench_one(
    engine: Engine,
    region: str,
    graph: RoadGraph,
    g: nx.DiGraph,
    rev: nx.DiGraph,
    incident: tuple[float, float],
    units: list[UnitPosition],
    *,
    runs: int,
    big: bool,
) -> dict[str, Any]:
    n = len(units)
    many = max(runs * 20, 50)
    fleet = UnitPositions.of(units)  # as dispatch hands units over: arrays
    # cold: every unit snapped in the call (the graph's CSR and snap index are built)
    cold = median_ms(lambda: rank_units(graph, incident, fleet, K, cache_unit_snaps=False), many)
    # warm (the product path): unit road positions come from the graph's unit snap cache,
    # filled when each unit was first ranked at its position (dispatch re-snaps a unit
    # only after it moved); the incident is snapped in every call
    rank_units(graph, incident, fleet, K)
    najda = median_ms(lambda: rank_units(graph, incident, fleet, K), many)
    ranking = rank_units(graph, incident, fleet, K)

    def with_routes() -> None:
        for r in rank_units(graph, incident, fleet, K).ranked:
            r.route.coords  # noqa: B018 - builds the geometry

    routes_ms = median_ms(with_routes, many)
    spread = random_incidents_ms(graph, fleet, seed=n)
    lons = np.array([u.lon for u in units])
    lats = np.array([u.lat for u in units])
    unit_nodes = graph.node_id[nearest_nodes(graph, lons, lats)].tolist()
    target = int(graph.node_id[nearest_nodes(graph, [incident[0]], [incident[1]])[0]])

    sample = unit_nodes[:PER_UNIT_SAMPLE] if big else unit_nodes
    per_unit_runs = 1 if big else max(1, runs // 2)

    def per_unit() -> None:
        for s in sample:
            nx.bidirectional_dijkstra(g, s, target, weight="travel_time")

    per_unit_ms = median_ms(per_unit, per_unit_runs) * (n / len(sample))
    reverse_ms = median_ms(
        lambda: nx.single_source_dijkstra_path_length(rev, target, weight="travel_time"),
        max(1, runs // 2 if big else runs),
    )
    cutoff = ranking.ranked[-1].eta_s if ranking.ranked else None
    reverse_cut_ms = median_ms(
        lambda: nx.single_source_dijkstra_path_length(
            rev, target, cutoff=cutoff, weight="travel_time"
        ),
        max(1, runs // 2 if big else runs),
    )
    scipy_ms = scipy_bounded_ms(graph, ranking, max(runs * 20, 50))
    kernel_ms = kernel_bounded_ms(graph, ranking, max(runs * 20, 50))
    pgr_ms, pgr = pgrouting_ms(
        engine, region, unit_nodes, target, max(1, runs // 2 if big else runs)
    )
    ours = node_travel_times(graph, graph.node_index([target]), direction="to")
    idx = graph.node_index(list(pgr))
    agree = max(
        (abs(ours[i] - c) / max(c, 1e-9) for i, c in zip(idx, pgr.values(), strict=True)),
        default=0.0,
    )
    row = {
        "units": n,
        "najda_ms": najda,
        "najda_cold_ms": cold,
        "najda_routes_ms": routes_ms,
        "najda_random_ms": spread,
        "nx_per_unit_ms": per_unit_ms,
        "nx_per_unit_extrapolated": big,
        "nx_reverse_ms": reverse_ms,
        "nx_reverse_cutoff_ms": reverse_cut_ms,
        "pgr_ms": pgr_ms,
        "scipy_bounded_ms": scipy_ms,
        "kernel_bounded_ms": kernel_ms,
        "searches": ranking.searches,
        "pgr_max_rel_diff": agree,
    }
    print_row(row)
    return row


def print_row(r: dict[str, Any]) -> None:
    extra = ""
    if r["nx_per_unit_extrapolated"]:
        extra = f" (sampled {PER_UNIT_SAMPLE} units, extrapolated)"
    p50, p90 = r["najda_random_ms"]
    print(f"  {r['units']:>5} units, k={K}")
    print(
        f"    Najda rank_units, warm unit snaps   {r['najda_ms']:>12.3f} ms  "
        f"({r['searches']} search; ratios below are to this)"
    )
    print(f"      cold: snapping every unit         {r['najda_cold_ms']:>12.3f} ms")
    print(f"      warm + 5 route geometries built   {r['najda_routes_ms']:>12.3f} ms")
    print(
        f"      warm, {RANDOM_INCIDENTS} other incidents     "
        f"{p50:>12.3f} ms median, {p90:.3f} ms p90"
    )
    print(
        f"    scipy reverse Dijkstra, bounded     {r['scipy_bounded_ms']:>12.3f} ms  "
        f"Najda x{r['najda_ms'] / r['scipy_bounded_ms']:.2f} of it (snapping included in Najda)"
    )
    print(
        f"      Najda's search alone, same bound  {r['kernel_bounded_ms']:>12.3f} ms  "
        f"x{r['kernel_bounded_ms'] / r['scipy_bounded_ms']:.2f} of scipy's"
    )
    print(
        f"    networkx one search per unit        {r['nx_per_unit_ms']:>12.1f} ms  "
        f"x{r['nx_per_unit_ms'] / r['najda_ms']:,.0f}{extra}"
    )
    print(
        f"    networkx one reverse search (full)  {r['nx_reverse_ms']:>12.1f} ms  "
        f"x{r['nx_reverse_ms'] / r['najda_ms']:,.0f}"
    )
    print(
        f"    networkx reverse, cut at k-th ETA   {r['nx_reverse_cutoff_ms']:>12.1f} ms  "
        f"x{r['nx_reverse_cutoff_ms'] / r['najda_ms']:,.0f}"
    )
    print(
        f"    pgRouting pgr_dijkstraCost m-to-1   {r['pgr_ms']:>12.1f} ms  "
        f"x{r['pgr_ms'] / r['najda_ms']:,.0f}  (max rel diff vs Najda "
        f"{r['pgr_max_rel_diff']:.1e})",
        flush=True,
    )


def bench_plan(graph: RoadGraph, *, runs: int) -> None:
    """Dispatch's recommendation path: fill a building-fire plan from 200 / 1,000 units
    of mixed types, ranking all of them (k = all) or with the plan's bound."""
    from datetime import UTC, datetime

    from najda.dispatch.plans import Located, Requirement, UnitState, fill_plan
    from najda.dispatch.travel import rank_located

    kinds = [
        frozenset({"fire_suppression"}),
        frozenset({"ems_bls"}),
        frozenset({"ems_als", "ems_bls"}),
        frozenset({"police"}),
    ]
    plan = [Requirement("fire_suppression", 2), Requirement("ems_bls", 1), Requirement("police", 1)]
    now = datetime(2026, 11, 23, 8, tzinfo=UTC)
    print(
        "\n  dispatch: fill a building-fire plan (2 fire, 1 EMS, 1 police), warm unit snaps,"
        " routes of the chosen built"
    )
    for n in UNIT_COUNTS:
        incident, units = scenario(graph, n, seed=n + 7)
        located = [
            Located(
                UnitState(
                    u.id, f"U{u.id}", 1, "a", "t", kinds[u.id % 4], "available", (u.lon, u.lat), now
                ),
                (u.lon, u.lat),
                "gps",
            )
            for u in units
        ]

        def fill(
            bounded: bool,
            incident: tuple[float, float] = incident,
            located: list[Located] = located,
        ) -> list[list[int]]:
            extra = {"requirements": plan} if bounded else {}
            ranked, out = rank_located(graph, incident, located, at=now, **extra)
            filled = fill_plan(plan, ranked, excluded=out)
            for f in filled.fills:
                for r in f.chosen:
                    len(r.route)
            return [[r.unit.unit_id for r in f.chosen] for f in filled.fills]

        assert fill(True) == fill(False), "bounded and full fills differ"
        full = median_ms(lambda: fill(False), max(runs * 4, 10))
        bounded = median_ms(lambda: fill(True), max(runs * 20, 50))
        print(
            f"  {n:>5} units: ranking all (k = all) {full:>9.3f} ms; bounded by the plan "
            f"{bounded:>7.3f} ms (same fill)",
            flush=True,
        )


# -- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=160_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    started = time.perf_counter()
    ready = kernel.warm_up()
    if ready is None:
        print("search: scipy csgraph dijkstra (numba kernel not in use)")
    else:
        import numba

        print(
            f"search: compiled kernel, numba {numba.__version__}; compiled or loaded from its "
            f"cache in {ready:.2f} s (this process: {time.perf_counter() - started:.2f} s)"
        )
    riyadh = load_settings().data_dir / RIYADH
    with database(args.keep) as engine:
        upgrade(engine)
        started = time.perf_counter()
        import_roads_file(engine, "bench-riyadh", riyadh)
        print(f"Riyadh imported in {time.perf_counter() - started:.1f} s")
        real = load_graph(engine, "bench-riyadh")
        bench_graph(engine, "bench-riyadh", real, runs=args.runs, big=False)

        started = time.perf_counter()
        import_roads_file(engine, "bench-doha", load_settings().data_dir / DOHA)
        print(f"\nDoha (real, whole city) imported in {time.perf_counter() - started:.1f} s")
        doha = load_graph(engine, "bench-doha")
        doha_row = bench_graph(
            engine, "bench-doha", doha, runs=args.runs, big=True, unit_counts=DOHA_UNITS
        )[0]

        started = time.perf_counter()
        city = generate_city(nodes=args.nodes, seed=1)
        with engine.begin() as conn:
            write_city(conn, city)
        print(f"\n{city.name} (GENERATED) written in {time.perf_counter() - started:.1f} s")
        name = city.name
        del city
        big, load = measure_load(engine, name)
        print(
            f"graph load from PostGIS, {big.edge_count:,} edges: {load['load_s']:.1f} s "
            f"(+ snap index and reverse CSR: {load['ready_s']:.1f} s); added RSS "
            f"{load['rss_added_mb']:.0f} MB; tracemalloc retained "
            f"{load['traced_retained_mb']:.0f} MB, peak {load['traced_peak_mb']:.0f} MB; "
            f"graph arrays {load['arrays_mb']:.0f} MB"
        )
        rows = bench_graph(engine, name, big, runs=args.runs, big=True)
        first = rows[0]
        bench_plan(big, runs=args.runs)
        p50, _ = doha_row["najda_random_ms"]
        print("\ntargets on the real Doha graph, top-5 of 500 units:")
        print(f"  median <= 1 ms warm (200 incidents): {p50:.3f} ms")
        print(
            f"  within 4x of scipy's bounded reverse Dijkstra: "
            f"x{doha_row['najda_ms'] / doha_row['scipy_bounded_ms']:.2f}"
        )
        print(
            f"  >= 1,000x faster than pgRouting: x{doha_row['pgr_ms'] / doha_row['najda_ms']:,.0f}"
        )
        print("\ntargets on the generated graph, 200 units:")
        print(
            f"  Najda median <= 2 ms (warm unit snaps): {first['najda_ms']:.3f} ms "
            f"(cold {first['najda_cold_ms']:.3f} ms)"
        )
        print(f"  >= 1,000x faster than pgRouting: x{first['pgr_ms'] / first['najda_ms']:,.0f}")
        print(
            f"  >= 100x faster than networkx reverse search: "
            f"x{first['nx_reverse_ms'] / first['najda_ms']:,.0f}"
        )
        print(
            f"  load <= 15 s and < 300 MB: {load['load_s']:.1f} s, "
            f"{load['rss_added_mb']:.0f} MB RSS"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
