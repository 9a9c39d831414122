"""Coverage per governorate against an independent computation on real PostGIS.

The independent side shares nothing with Najda's code path but the population surface:
networkx's multi-source Dijkstra over the ``road_edge`` rows read with SQL, stations'
road nodes read with SQL, each demand cell tied to its nearest road node by PostGIS
(KNN on geography), and the sums per governorate done by PostgreSQL.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from sqlalchemy import Engine, text

from najda.analytics import coverage as cov
from najda.analytics.population import population_surface
from najda.routing.graph import load_graph

THRESHOLDS = (1.0, 2.0, 4.0)


def _networkx_times(engine: Engine, sources: list[int], cutoff_s: float) -> dict[int, float]:
    g = nx.DiGraph()
    with engine.connect() as conn:
        for u, v, t in conn.execute(
            text("SELECT u, v, min(travel_time_s) FROM road_edge WHERE u <> v GROUP BY u, v")
        ):
            g.add_edge(int(u), int(v), weight=float(t))
    return nx.multi_source_dijkstra_path_length(g, set(sources), cutoff=cutoff_s)


def _postgis_covered(
    engine: Engine, surface, times: dict[int, float], access_m: float
) -> dict[int, list[float]]:
    """Covered people per governorate id and threshold, summed by PostgreSQL."""
    s = surface
    with engine.begin() as conn:
        conn.execute(text("CREATE TEMP TABLE d (gid int, pop float8, geom geometry(Point, 4326))"))
        conn.execute(text("CREATE TEMP TABLE nt (node bigint PRIMARY KEY, t float8)"))
        conn.execute(
            text("INSERT INTO d VALUES (:g, :p, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
            [
                {
                    "g": int(s.governorates.id[s.governorate[i]]),
                    "p": float(s.population[i]),
                    "x": float(s.lon[i]),
                    "y": float(s.lat[i]),
                }
                for i in range(len(s))
            ],
        )
        conn.execute(
            text("INSERT INTO nt VALUES (:n, :t)"), [{"n": n, "t": t} for n, t in times.items()]
        )
        out: dict[int, list[float]] = {}
        for k, minutes in enumerate(THRESHOLDS):
            rows = conn.execute(
                text("""
                SELECT d.gid, sum(d.pop) FROM d
                CROSS JOIN LATERAL (SELECT n.id, ST_Distance(n.geom::geography,
                                                             d.geom::geography) AS dist
                                    FROM road_node n ORDER BY n.geom <-> d.geom LIMIT 1) near
                JOIN nt ON nt.node = near.id
                WHERE near.dist <= :access AND nt.t <= :limit GROUP BY d.gid"""),
                {"access": access_m, "limit": minutes * 60.0},
            ).all()
            for gid, covered in rows:
                out.setdefault(int(gid), [0.0] * len(THRESHOLDS))[k] = float(covered)
    return out


def test_coverage_per_governorate_matches_networkx_and_postgis(riyadh_engine: Engine) -> None:
    graph = load_graph(riyadh_engine, "riyadh")
    surface = population_surface(riyadh_engine, "riyadh", resolution=9)
    demand = cov.attach(graph, surface)
    stations = cov.load_stations(riyadh_engine, "riyadh")
    result = cov.coverage_from_stations(graph, demand, stations, thresholds_min=THRESHOLDS)
    assert len(result.sources_used) >= 2  # the stations near the Al-Muhammadiyah roads

    with riyadh_engine.connect() as conn:
        source_nodes = [
            int(n)
            for n in conn.execute(
                text("SELECT road_node_id FROM station WHERE snap_distance_m <= 500")
            ).scalars()
        ]
        gov_pop = dict(conn.execute(text("SELECT id, population FROM governorate")).all())
    assert sorted(source_nodes) == sorted(s.road_node_id for s in result.sources_used)
    times = _networkx_times(riyadh_engine, source_nodes, max(THRESHOLDS) * 60.0)
    expected = _postgis_covered(riyadh_engine, surface, times, cov.DEFAULT_ACCESS_M)

    rows = {r["governorate_id"]: r for r in result.governorate_rows()}
    assert set(rows) == set(gov_pop)
    assert set(expected) == {g for g, r in rows.items() if r["covered_4min"] > 0}
    for gid, row in rows.items():
        want = expected.get(gid, [0.0] * len(THRESHOLDS))
        for k, minutes in enumerate(THRESHOLDS):
            label = f"{minutes:g}min"
            assert row[f"covered_{label}"] == pytest.approx(want[k], rel=1e-9, abs=1e-6)
            assert row[f"pct_{label}"] == pytest.approx(100.0 * want[k] / gov_pop[gid], abs=1e-3)
    # the thresholds separate: some people are reached in 4 min but not in 1
    riyadh = max(rows.values(), key=lambda r: r["on_network"])
    assert 0 < riyadh["covered_1min"] < riyadh["covered_4min"] <= riyadh["on_network"]


def test_node_times_equal_networkx(riyadh_engine: Engine) -> None:
    graph = load_graph(riyadh_engine, "riyadh")
    demand = cov.attach(graph, population_surface(riyadh_engine, "riyadh", resolution=9))
    stations = cov.load_stations(riyadh_engine, "riyadh")
    result = cov.coverage_from_stations(graph, demand, stations, thresholds_min=(10,))
    nodes = [s.road_node_id for s in result.sources_used]
    times = _networkx_times(riyadh_engine, nodes, 600.0)
    ours = result.reach.node_times_s
    finite = np.isfinite(ours)
    assert finite.sum() == len(times)
    for node_id, t in times.items():
        assert ours[graph.node_index([node_id])[0]] == pytest.approx(t, rel=1e-9)


def test_gaps_hold_the_uncovered_people(riyadh_engine: Engine) -> None:
    graph = load_graph(riyadh_engine, "riyadh")
    surface = population_surface(riyadh_engine, "riyadh", resolution=8)
    demand = cov.attach(graph, surface)
    result = cov.coverage_from_stations(
        graph, demand, cov.load_stations(riyadh_engine, "riyadh"), thresholds_min=(2, 8)
    )
    gaps = result.gap_rows(2)
    placed = surface.population.sum()
    covered = result.covered[:, 0].sum()
    assert sum(r["population"] for r in gaps) == pytest.approx(placed - covered, rel=1e-9)
    assert {r["reason"] for r in gaps} == {"beyond", "off_network"}
    assert all(r["time_s"] is None or r["time_s"] > 120 for r in gaps)
    geo = cov.gaps_geojson(result, 2)
    assert len(geo["features"]) == len(gaps)
    ring = geo["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 7


def test_population_surface_keeps_governorate_totals(riyadh_engine: Engine) -> None:
    surface = population_surface(riyadh_engine, "riyadh", resolution=8)
    gov = surface.governorates
    with riyadh_engine.connect() as conn:
        figures = dict(conn.execute(text("SELECT id, population FROM governorate")).all())
    assert [figures[int(i)] for i in gov.id] == gov.population.tolist()
    placed = np.bincount(surface.governorate, weights=surface.population, minlength=len(gov))
    assert np.allclose(placed, gov.placed)
    assert np.all(gov.placed <= gov.population + 1e-6)
    riyadh = gov.name_en.index("Ar-Riyad")
    assert gov.placed[riyadh] == pytest.approx(gov.population[riyadh])  # localities exceed it
    assert math.isclose(gov.unplaced.sum(), gov.population.sum() - gov.placed.sum())
