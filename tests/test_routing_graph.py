"""The CSR graph loaded from road_node/road_edge rows, its cache, and the generator."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sqlalchemy import Engine, text

from najda.errors import NotFound
from najda.ingest.base import copy_rows, ensure_region
from najda.routing.engine import UnitPosition, node_travel_times, rank_units
from najda.routing.graph import GraphCache, load_graph, search_for
from najda.routing.snap import unit_snap_cache
from najda.routing.synthetic import CLASSES, generate_city, write_city

ORIGIN = (46.70, 24.70)


def write_rows(
    engine: Engine,
    region: str,
    nodes: dict[int, tuple[float, float]],
    edges: list[tuple[int, int, float, str]],
    *,
    version: int | None = 1,
) -> None:
    """Nodes {id: (x m, y m)} and edges (u, v, seconds, class) as straight roads."""
    kx = 111_320.0 * math.cos(math.radians(ORIGIN[1]))
    lonlat = {i: (ORIGIN[0] + x / kx, ORIGIN[1] + y / 110_574.0) for i, (x, y) in nodes.items()}
    with engine.begin() as conn:
        rid = ensure_region(conn, region)
        copy_rows(
            conn,
            "road_node",
            ["id", "region_id", "geom"],
            [(i, rid, f"SRID=4326;POINT({x} {y})") for i, (x, y) in lonlat.items()],
        )
        rows = []
        for u, v, seconds, cls in edges:
            length = max(math.dist(nodes[u], nodes[v]), 1.0)
            (x1, y1), (x2, y2) = lonlat[u], lonlat[v]
            rows.append(
                (
                    rid,
                    u,
                    v,
                    cls,
                    length,
                    length / seconds * 3.6,
                    seconds,
                    f"SRID=4326;LINESTRING({x1} {y1},{x2} {y2})",
                )
            )
        copy_rows(
            conn,
            "road_edge",
            ["region_id", "u", "v", "highway", "length_m", "speed_kph", "travel_time_s", "geom"],
            rows,
        )
        if version is not None:
            conn.execute(
                text(
                    "INSERT INTO graph_version (region_id, version, source, node_count, "
                    "edge_count, component_count) VALUES (:r, :v, 'test rows', 0, 0, 0)"
                ),
                {"r": rid, "v": version},
            )


def test_graph_loads_from_the_road_tables(engine: Engine) -> None:
    nodes = {101: (0, 0), 102: (300, 0), 103: (300, 300)}
    write_rows(
        engine,
        "r1",
        nodes,
        [
            (101, 102, 30.0, "primary"),
            (102, 101, 30.0, "primary"),
            (102, 103, 40.0, "residential"),
            (102, 103, 25.0, "service"),  # parallel, faster
            (103, 103, 5.0, "service"),
        ],
    )  # self-loop
    graph = load_graph(engine, "r1")
    assert (graph.node_count, graph.edge_count, graph.version) == (3, 5, 1)
    assert graph.node_id.tolist() == [101, 102, 103]
    assert graph.highway_classes == ("primary", "residential", "service")
    assert graph.edge_u.dtype == np.int32 and graph.geom_xy.dtype == np.float64
    assert not any(v.dtype == object for v in vars(graph).values() if isinstance(v, np.ndarray))
    times = node_travel_times(graph, graph.node_index([101]))
    assert times.tolist() == [0.0, 30.0, 55.0]  # the faster parallel edge wins
    assert graph.twin[0] == 1 and graph.twin[2] == -1
    search = search_for(graph, graph.travel_time_s, ("free_flow",), reverse=False)
    assert search.nnz == 3  # parallel collapsed, self-loop dropped


def test_units_on_another_component_are_excluded_with_a_reason(engine: Engine) -> None:
    # two separate road networks in one region, written as rows (the importer would
    # keep only the largest strongly connected component)
    nodes = {1: (0, 0), 2: (400, 0), 3: (400, 400), 11: (3000, 0), 12: (3400, 0)}
    roads = [
        (1, 2, 40.0, "primary"),
        (2, 1, 40.0, "primary"),
        (2, 3, 40.0, "primary"),
        (3, 2, 40.0, "primary"),
        (11, 12, 40.0, "primary"),
        (12, 11, 40.0, "primary"),
    ]
    write_rows(engine, "islands", nodes, roads)
    graph = load_graph(engine, "islands")
    kx = 111_320.0 * math.cos(math.radians(ORIGIN[1]))

    def at(x: float, y: float) -> tuple[float, float]:
        return ORIGIN[0] + x / kx, ORIGIN[1] + y / 110_574.0

    units = [UnitPosition(5, *at(3200, 10)), UnitPosition(6, *at(400, 200))]
    ranking = rank_units(graph, at(200, 0), units, 2)
    assert [r.unit_id for r in ranking.ranked] == [6]
    assert [(x.unit_id, x.reason) for x in ranking.excluded] == [(5, "unreachable")]
    assert "not connected" in ranking.excluded[0].message
    assert ranking.ranked[0].eta_s == pytest.approx(20.0 + 20.0, rel=1e-3)


def test_cache_reloads_when_the_graph_version_changes(engine: Engine) -> None:
    write_rows(engine, "r2", {1: (0, 0), 2: (100, 0)}, [(1, 2, 10.0, "primary")])
    cache = GraphCache(maxsize=2)
    first = cache.get(engine, "r2")
    assert cache.get(engine, "r2") is first and cache.loads == 1
    kx = 111_320.0 * math.cos(math.radians(ORIGIN[1]))
    unit = [UnitPosition(1, ORIGIN[0] + 10 / kx, ORIGIN[1])]
    incident = (ORIGIN[0] + 90 / kx, ORIGIN[1])
    assert rank_units(first, incident, unit, 1).ranked[0].eta_s == pytest.approx(8.0, rel=1e-3)
    assert len(unit_snap_cache(first)) == 1
    with engine.begin() as conn:
        conn.execute(text("UPDATE road_edge SET travel_time_s = 20 WHERE u = 1"))
        conn.execute(
            text(
                "INSERT INTO graph_version (region_id, version, source, node_count, edge_count, "
                "component_count) SELECT region_id, 2, 'edit', 2, 1, 1 FROM road_node LIMIT 1"
            )
        )
    second = cache.get(engine, "r2")
    assert second is not first and second.version == 2 and cache.loads == 2
    assert second.travel_time_s.tolist() == [20.0]
    # unit road positions are kept with the graph: the new version starts without them
    assert len(unit_snap_cache(second)) == 0
    assert rank_units(second, incident, unit, 1).ranked[0].eta_s == pytest.approx(16.0, rel=1e-3)
    assert unit_snap_cache(second).misses == 1


def test_unknown_or_empty_regions_are_not_found(engine: Engine) -> None:
    with pytest.raises(NotFound):
        load_graph(engine, "nowhere")
    with engine.begin() as conn:
        ensure_region(conn, "empty")
    with pytest.raises(NotFound):
        load_graph(engine, "empty")


# -- the generator ----------------------------------------------------------------------------


def test_generated_city_is_deterministic_and_named_as_generated() -> None:
    a, b = generate_city(nodes=3000, seed=7), generate_city(nodes=3000, seed=7)
    c = generate_city(nodes=3000, seed=8)
    assert a.name == "generated-grid-3000-seed7"
    assert np.array_equal(a.edge_u, b.edge_u) and np.array_equal(a.lon, b.lon)
    assert not np.array_equal(a.lon[:100], c.lon[:100])
    assert 0.95 * 3000 <= a.node_count <= 1.05 * 3000


def test_generated_city_has_arterials_locals_and_one_way_streets() -> None:
    city = generate_city(nodes=5000, seed=1)
    assert set(np.unique(city.highway).tolist()) == set(range(len(CLASSES)))
    assert 0.02 < city.oneway.mean() < 0.3
    graph = city.to_graph()
    assert (graph.twin < 0).sum() == city.oneway.sum()
    times = node_travel_times(graph, [0])  # one strongly connected component
    assert np.isfinite(times).all()
    back = node_travel_times(graph, [0], direction="to")
    assert np.isfinite(back).all() and not np.allclose(times, back)


def test_generated_city_is_written_with_copy_and_loads_back(engine: Engine) -> None:
    city = generate_city(nodes=800, seed=3)
    with engine.begin() as conn:
        version = write_city(conn, city)
    graph = load_graph(engine, city.name)
    assert graph.version == version == 1
    assert (graph.node_count, graph.edge_count) == (city.node_count, city.edge_count)
    assert graph.travel_time_s.sum() == pytest.approx(city.travel_time_s.sum())
    with engine.connect() as conn:
        source = conn.execute(text("SELECT source FROM graph_version")).scalar_one()
        name = conn.execute(
            text("SELECT name_en FROM region WHERE code = :c"), {"c": city.name}
        ).scalar_one()
    assert source.startswith("generated:") and "Generated" in name


def test_concurrent_requests_load_a_graph_once(engine: Engine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    write_rows(engine, "r3", {1: (0, 0), 2: (100, 0)}, [(1, 2, 10.0, "primary")])
    cache = GraphCache(maxsize=2)
    with ThreadPoolExecutor(max_workers=8) as pool:
        graphs = list(pool.map(lambda _: cache.get(engine, "r3"), range(16)))
    assert cache.loads == 1
    assert all(g is graphs[0] for g in graphs)
