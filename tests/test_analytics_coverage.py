"""Coverage per governorate against an independent computation on real PostGIS, on the
Al-Muhammadiyah district and on the whole Doha region.

The independent side shares nothing with Najda's code path but the population surface:
networkx's multi-source Dijkstra over the ``road_edge`` rows read with SQL, stations'
road nodes read with SQL, each demand cell tied to its nearest road node by PostGIS
(on the spheroid), and the sums per governorate.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from sqlalchemy import Engine, text

from analytics_helpers import networkx_times, station_road_nodes
from najda.analytics import coverage as cov
from najda.analytics.population import population_surface
from najda.routing.graph import load_graph

THRESHOLDS = {"riyadh": (1.0, 2.0, 4.0), "doha": (4.0, 8.0)}


TIE_M = 2.0  # nodes this close to equally near may go either way (projection vs spheroid)


def _postgis_nearest(engine: Engine, surface) -> tuple[np.ndarray, np.ndarray]:
    """Per demand row: the road node nearest its cell centre on the spheroid (the 16
    nearest in degrees re-ranked by metres) and its distance, from PostGIS."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("""
            SELECT near.id, near.dist
            FROM unnest(CAST(:x AS float8[]), CAST(:y AS float8[])) WITH ORDINALITY AS p(x, y, i)
            CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(p.x, p.y), 4326) AS geom) d
            CROSS JOIN LATERAL (
                SELECT c.id, c.dist FROM (
                    SELECT n.id, ST_Distance(n.geom::geography, d.geom::geography) AS dist
                    FROM road_node n ORDER BY n.geom <-> d.geom LIMIT 16) c
                ORDER BY c.dist LIMIT 1) near
            ORDER BY p.i"""),
            {"x": surface.lon.tolist(), "y": surface.lat.tolist()},
        ).all()
    return np.array([r[0] for r in rows]), np.array([r[1] for r in rows])


def _independent_covered(
    engine: Engine,
    graph,
    demand: cov.Demand,
    times: dict[int, float],
    thresholds: tuple[float, ...],
) -> dict[int, list[float]]:
    """Covered people per governorate id and threshold from networkx times and PostGIS
    nearest nodes; where Najda tied a cell to another node no more than :data:`TIE_M`
    farther, or judged its access distance within that margin, Najda's choice stands
    (and there are only a few such rows)."""
    s = demand.surface
    near, dist = _postgis_nearest(engine, s)
    ours = np.where(demand.node >= 0, graph.node_id[np.maximum(demand.node, 0)], -1)
    ours_dist = _metres(graph, s, demand.node)
    tie = (ours != np.where(dist <= demand.access_m, near, -1)) & (
        (np.abs(ours_dist - dist) <= TIE_M) | (np.abs(dist - demand.access_m) <= TIE_M)
    )
    assert tie.sum() <= max(3, len(s) // 100)
    node = np.where(tie, ours, np.where(dist <= demand.access_m, near, -1))
    t = np.array([times.get(int(n), np.inf) if n >= 0 else np.inf for n in node])
    gid = s.governorates.id[s.governorate]
    out: dict[int, list[float]] = {}
    for k, minutes in enumerate(thresholds):
        hit = t <= minutes * 60.0
        for g in np.unique(gid[hit]):
            covered = float(s.population[hit & (gid == g)].sum())
            out.setdefault(int(g), [0.0] * len(thresholds))[k] = covered
    return out


def _metres(graph, surface, node: np.ndarray) -> np.ndarray:
    """Haversine metres from each row's centre to its node (inf when off-network)."""
    i = np.maximum(node, 0)
    lon1, lat1, lon2, lat2 = map(np.radians, (surface.lon, surface.lat, graph.lon[i], graph.lat[i]))
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return np.where(node >= 0, 2 * 6_371_008.8 * np.arcsin(np.sqrt(h)), np.inf)


@pytest.mark.parametrize("region", ["riyadh", "doha"])
def test_coverage_per_governorate_matches_networkx_and_postgis(
    region: str, request: pytest.FixtureRequest
) -> None:
    engine: Engine = request.getfixturevalue(f"{region}_engine")
    thresholds = THRESHOLDS[region]
    graph = load_graph(engine, region)
    surface = population_surface(engine, region, resolution=9 if region == "riyadh" else 8)
    demand = cov.attach(graph, surface)
    stations = cov.load_stations(engine, region)
    result = cov.coverage_from_stations(graph, demand, stations, thresholds_min=thresholds)
    assert len(result.sources_used) >= 2  # the stations near the roads

    source_nodes = station_road_nodes(engine)
    with engine.connect() as conn:
        gov_pop = dict(conn.execute(text("SELECT id, population FROM governorate")).all())
    assert sorted(source_nodes) == sorted(s.road_node_id for s in result.sources_used)
    times = networkx_times(engine, source_nodes, max(thresholds) * 60.0)
    expected = _independent_covered(engine, graph, demand, times, thresholds)

    rows = {r["governorate_id"]: r for r in result.governorate_rows()}
    assert set(rows) == set(gov_pop)
    first = f"covered_{thresholds[0]:g}min"
    assert set(expected) == {g for g, r in rows.items() if r[first] > 0}
    for gid, row in rows.items():
        want = expected.get(gid, [0.0] * len(thresholds))
        for k, minutes in enumerate(thresholds):
            label = f"{minutes:g}min"
            assert row[f"covered_{label}"] == pytest.approx(want[k], rel=1e-9, abs=1e-6)
            assert row[f"pct_{label}"] == pytest.approx(100.0 * want[k] / gov_pop[gid], abs=1e-3)
    # the thresholds separate: some people are reached in the longer time only
    busiest = max(rows.values(), key=lambda r: r["on_network"])
    last = f"covered_{thresholds[-1]:g}min"
    assert 0 < busiest[first] < busiest[last] <= busiest["on_network"]


def test_node_times_equal_networkx(riyadh_engine: Engine) -> None:
    graph = load_graph(riyadh_engine, "riyadh")
    demand = cov.attach(graph, population_surface(riyadh_engine, "riyadh", resolution=9))
    stations = cov.load_stations(riyadh_engine, "riyadh")
    result = cov.coverage_from_stations(graph, demand, stations, thresholds_min=(10,))
    nodes = [s.road_node_id for s in result.sources_used]
    times = networkx_times(riyadh_engine, nodes, 600.0)
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
