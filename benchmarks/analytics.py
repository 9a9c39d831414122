"""Planner analytics on the real Doha region, against networkx and spopt in the same run.

Run: ``.venv/bin/python benchmarks/analytics.py`` (part of ``make bench``). It starts a
throwaway PostgreSQL + PostGIS cluster (or uses ``DATABASE_URL``), runs
``najda import region doha`` into it (``NAJDA_DATA_DIR``, default ../shared/data: 95,947
road edges, 39,697 nodes, 137 stations, 8 municipalities with populations), loads the
road graph once (as a server does before serving) and times:

- **coverage** of the whole city from every station within 4, 8 and 12 min: the domain
  call (:meth:`Planner.coverage`) first (population surface, demand ties and search built
  on demand) and warm; the same coverage from networkx's
  ``multi_source_dijkstra_path_length`` (same cutoff, same aggregation; checked equal);
  then over the API the planner page calls (Flask's test client, JSON and the GeoJSON
  drive-time areas, serialisation included), first and warm, with the bytes sent;
- **gaps** (8 min) and the **modelled heatmap** over the API, first and warm;
- **station siting, add 5** over the API (``/analytics/siting``, the solver time limit
  of the app's setting), within 4 and 8 min, every road node a candidate; and, as the
  reference, spopt's MCLP on a whole candidate set (one node per H3 res-8 cell, no
  reduction) against Najda's reduced solve of the same set: same optimum, both timed.

Options: ``--runs R`` (warm repetitions, default 7), ``--keep`` (keep the cluster),
``--generated`` (the earlier benchmark: coverage on a GENERATED 150k-node network).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import networkx as nx
import numpy as np

from najda.analytics import coverage as cov
from najda.analytics import siting
from najda.analytics.service import Planner
from najda.config import load_settings, project_root
from najda.db.migrate import upgrade
from najda.routing.graph import RoadGraph
from routing import database, machine  # benchmarks/routing.py: the private cluster

REGION = "doha"
THRESHOLDS = cov.DEFAULT_THRESHOLDS_MIN
TARGETS = {"coverage_first": 1.0, "coverage_warm": 0.2, "gaps": 1.0, "siting": 30.0}


# -- setup -------------------------------------------------------------------------------
def import_doha(engine: Any) -> float:
    from najda.ingest.region import import_region

    settings = load_settings().with_overrides(
        database_url=engine.url.render_as_string(hide_password=False),
        geo_data_dir=project_root() / "geo_data",
        online=False,
    )
    started = time.perf_counter()
    list(import_region(engine, settings, REGION))
    return time.perf_counter() - started


def web_client(engine: Any) -> Any:
    """The real app over ``engine`` and a planner's bearer token for its test client."""
    from najda.dispatch.auth import create_user, issue_token
    from najda.web import create_app

    settings = load_settings().with_overrides(
        database_url=engine.url.render_as_string(hide_password=False),
        geo_data_dir=project_root() / "geo_data",
        online=False,
        secret_key="bench",
    )
    user = create_user(engine, username="bench-planner", role="planner", password=None)
    token = issue_token(engine, user_id=user.id, name="bench")[1]
    app = create_app(settings)
    with app.app_context():  # the graph is loaded before serving, as a server does
        from najda.web.api.routing_adapter import graph_source

        graph_source().get(engine, REGION)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def median_s(fn: Callable[[], Any], runs: int) -> float:
    return statistics.median(timed(fn)[0] for _ in range(runs))


def row(name: str, seconds: float, extra: str = "") -> None:
    print(f"  {name:<58}{seconds * 1000:>10.1f} ms  {extra}")


def verdict(value: float, target: float) -> str:
    return f"target <= {target * 1000:,.0f} ms: {'met' if value <= target else 'MISSED'}"


# -- coverage ----------------------------------------------------------------------------
def networkx_digraph(graph: RoadGraph) -> nx.DiGraph:
    g = nx.DiGraph()
    for u, v, t in zip(
        graph.edge_u.tolist(), graph.edge_v.tolist(), graph.travel_time_s.tolist(), strict=True
    ):
        if u != v and (not g.has_edge(u, v) or g[u][v]["weight"] > t):
            g.add_edge(u, v, weight=t)
    return g


def networkx_coverage(
    g: nx.DiGraph, graph: RoadGraph, demand: cov.Demand, stations: np.ndarray
) -> cov.Coverage:
    lengths = nx.multi_source_dijkstra_path_length(
        g, set(stations.tolist()), cutoff=max(THRESHOLDS) * 60, weight="weight"
    )
    times = np.full(graph.node_count, np.inf)
    idx = np.fromiter(lengths.keys(), dtype=np.int64, count=len(lengths))
    times[idx] = np.fromiter(lengths.values(), dtype=float, count=len(lengths))
    return cov.coverage_from_node_times(times, demand, THRESHOLDS)


def bench_coverage(engine: Any, planner: Planner, runs: int) -> dict[str, float]:
    print("coverage of the whole city from every station (domain call)")
    first, ours = timed(lambda: planner.coverage(thresholds_min=THRESHOLDS))
    warm = median_s(lambda: planner.coverage(thresholds_min=THRESHOLDS), runs)
    graph, demand = planner.graph(), planner.demand()
    nodes = np.unique(cov.station_nodes(graph, cov.load_stations(engine, REGION))[0])
    g = networkx_digraph(graph)
    t_nx, theirs = timed(lambda: networkx_coverage(g, graph, demand, nodes))
    assert np.allclose(ours.covered, theirs.covered, rtol=1e-9), "coverage differs from networkx"
    totals = ours.totals()
    shares = ", ".join(f"{t:g} min {totals[f'pct_placed_{t:g}min']:.2f} %" for t in THRESHOLDS)
    print(
        f"  {len(demand.surface):,} demand cells (H3 res 8), {nodes.size} station nodes; "
        f"covered (of the {totals['placed']:,.0f} people placed): {shares}; "
        "identical in networkx"
    )
    row("najda first call (surface, demand ties, search)", first, verdict(first, 1.0))
    row("najda warm (median)", warm, verdict(warm, 0.2))
    row("networkx multi_source_dijkstra_path_length + same sums", t_nx)
    print(f"  ratio networkx / najda warm: {t_nx / warm:.0f}x")
    return {"first": first, "warm": warm, "networkx": t_nx}


def bench_api(client: Any, runs: int) -> None:
    print("over the API the planner page calls (Flask test client, serialisation included)")
    base = f"/api/v1/analytics/{{}}?region={REGION}"
    calls = [
        ("coverage JSON", base.format("coverage"), TARGETS["coverage_warm"]),
        ("coverage GeoJSON (drive-time areas)", base.format("coverage") + "&format=geojson", 0.2),
        ("gaps 8 min GeoJSON", base.format("gaps") + "&threshold=8&format=geojson", 1.0),
        ("modelled heatmap GeoJSON", base.format("heatmap") + "&format=geojson", None),
    ]
    for name, url, target in calls:
        first, response = timed(lambda url=url: client.get(url))
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        warm = median_s(lambda url=url: client.get(url), runs)
        size = len(response.get_data())
        note = f"{size / 1e6:.2f} MB" + (f"; warm {verdict(warm, target)}" if target else "")
        row(f"{name}: first", first)
        row(f"{name}: warm", warm, note)


# -- siting ------------------------------------------------------------------------------
def agency_without_stations(engine: Any) -> str | None:
    """An agency of the catalogue with no station in the region (siting from scratch)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT a.code FROM agency a WHERE NOT EXISTS (SELECT 1 FROM station s "
                "JOIN region r ON r.id = s.region_id WHERE s.agency_id = a.id AND r.code = :r) "
                "ORDER BY a.code LIMIT 1"
            ),
            {"r": REGION},
        ).scalar()


def bench_siting_api(client: Any, engine: Any) -> None:
    print("station siting, whole city, every road node a candidate (API)")
    scratch = agency_without_stations(engine)
    cases = [("mclp&add=5", 4, None), ("mclp&add=5", 8, None)]
    if scratch:  # no existing station: the most demand left to cover
        cases += [("mclp&add=5", 8, scratch), ("lscp", 8, scratch)]
    for model, minutes, agency in cases:
        url = f"/api/v1/analytics/siting?region={REGION}&model={model}&threshold={minutes}"
        url += f"&agency={agency}" if agency else ""
        elapsed, response = timed(lambda url=url: client.get(url))
        body = response.get_json()
        assert response.status_code == 200, body
        r = body["reduction"]
        gains = ", ".join(f"{s['gain']:,.0f}" for s in body["new_sites"][:5])
        who = f"{agency} (no station)" if agency else "all stations"
        row(f"{model.split('&')[0]} {who}, {minutes} min: added {body['added']}", elapsed)
        print(
            f"    candidates {r['candidates']:,} -> with gain {r['with_gain']:,} -> distinct "
            f"{r['distinct']:,} -> undominated {r['undominated']:,}; rows {r['rows']:,}; "
            f"{body['status']}{'' if body['exact'] else ' on a pool'}; "
            f"drive times {body['seconds']['drive_times']:.2f} s, solve "
            f"{body['seconds']['solve']:.2f} s; gains {gains}{'...' if body['added'] > 5 else ''}; covered "
            f"{body['pct_placed_before']:.2f} % -> {body['pct_placed_after']:.2f} % of placed; "
            f"{verdict(elapsed, TARGETS['siting'])}"
        )


def spopt_unreduced(inst: siting.SitingInstance, add: int) -> float:
    """spopt's MCLP on every candidate of ``inst`` (existing stations predefined)."""
    import pulp
    from spopt.locate import MCLP

    cost = np.where(inst.covers.toarray(), 0.0, 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model = MCLP.from_cost_matrix(
            cost,
            inst.weight,
            service_radius=1.0,
            p_facilities=add + int(inst.fixed.sum()),
            predefined_facilities_arr=inst.fixed.astype(int),
        )
        model.solve(pulp.PULP_CBC_CMD(msg=False))
    opened = [j for j, var in enumerate(model.fac_vars) if (var.value() or 0) > 0.5]
    return inst.covered_by(opened)


def bench_siting_reference(planner: Planner) -> None:
    print("reference: spopt MCLP on a whole candidate set (H3 res 8, no reduction), add 5")
    graph, demand = planner.graph(), planner.demand()
    stations = planner.sources("stations", None)
    for minutes in (4, 8):
        inst = siting.build_instance(
            graph, demand, stations, threshold_min=minutes, candidate_resolution=8
        )
        t_ours, ours = timed(lambda inst=inst: siting.solve(inst, model="mclp", add=5))
        t_spopt, best = timed(lambda inst=inst: spopt_unreduced(inst, 5))
        assert abs(ours.covered_after - best) <= 1e-6 * best, (ours.covered_after, best)
        r = ours.reduction.counts
        row(f"within {minutes} min: najda reduce + spopt ({r['solved_on']} columns)", t_ours)
        row(f"within {minutes} min: spopt on all {inst.candidates:,} candidates", t_spopt)
        print(
            f"    same optimum ({best:,.0f} people covered); ratio spopt / najda: "
            f"{t_spopt / t_ours:.1f}x"
        )


# -- the earlier, generated benchmark ---------------------------------------------------
def generated(nodes: int, n_stations: int, runs: int) -> None:
    """Coverage on a GENERATED city (not surveyed), as measured before Doha was in."""
    import h3

    from najda.analytics.population import Governorates, PopulationSurface
    from najda.routing.engine import node_travel_times
    from najda.routing.synthetic import generate_city

    rng = np.random.default_rng(7)
    graph = generate_city(nodes=nodes, seed=1).to_graph()
    cells = np.array(
        [h3.latlng_to_cell(la, lo, 9) for lo, la in zip(graph.lon, graph.lat, strict=True)]
    )
    uniq, first = np.unique(cells, return_index=True)
    strip = np.digitize(graph.lon[first], np.quantile(graph.lon, np.linspace(0, 1, 21)[1:-1]))
    pop = rng.lognormal(mean=6.0, sigma=1.0, size=uniq.size)
    placed = np.bincount(strip, weights=pop, minlength=20)
    gov = Governorates(
        id=np.arange(20),
        code=tuple(f"d{i}" for i in range(20)),
        name_en=tuple(f"District {i}" for i in range(20)),
        name_ar=tuple(f"حي {i}" for i in range(20)),
        population=placed * 1.05,
        placed=placed,
    )
    surface = PopulationSurface(
        "generated", 9, uniq, graph.lon[first], graph.lat[first], pop, strip, gov
    )
    demand = cov.Demand(surface, first.astype(np.int32), 0.0)
    stations = np.sort(rng.choice(graph.node_count, size=n_stations, replace=False))

    def ours() -> cov.Coverage:
        times = node_travel_times(graph, stations, limit_s=max(THRESHOLDS) * 60)
        return cov.coverage_from_node_times(times, demand, THRESHOLDS)

    ours()
    warm = median_s(ours, runs)
    g = networkx_digraph(graph)
    t_nx, theirs = timed(lambda: networkx_coverage(g, graph, demand, stations))
    assert np.allclose(ours().covered, theirs.covered, rtol=1e-9)
    print(f"generated network: {graph.node_count:,} nodes, {len(surface):,} cells")
    row("najda warm", warm)
    row("networkx multi_source_dijkstra_path_length", t_nx, f"ratio {t_nx / warm:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--generated", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    if args.generated:
        generated(150_000, 120, args.runs)
        return
    with database(args.keep) as engine:
        upgrade(engine)
        print(f"najda import region doha: {import_doha(engine):.1f} s")
        planner = Planner(engine, REGION)
        t_graph, graph = timed(planner.graph)
        print(
            f"road graph loaded in {t_graph:.1f} s (not part of the timings below, as a "
            f"server loads it before serving): {graph.node_count:,} nodes, "
            f"{graph.edge_count:,} edges"
        )
        bench_coverage(engine, planner, args.runs)
        client = web_client(engine)
        bench_api(client, args.runs)
        bench_siting_api(client, engine)
        bench_siting_reference(planner)


if __name__ == "__main__":
    main()
