"""Real road networks (Helsinki PBF, Riyadh Al-Muhammadiyah GeoJSON) imported by the road
importer: ETAs against networkx built straight from the road_edge rows, and node-to-node
times against pgRouting's pgr_dijkstraCost on the same tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import shapely
from sqlalchemy import Engine, text

from conftest import clone_database
from najda.db.localpg import LocalPostgres
from najda.db.session import make_engine
from najda.ingest.roads import import_roads_file
from najda.routing.engine import node_travel_times
from najda.routing.graph import RoadGraph, load_graph
from test_routing_engine import check_against_networkx, reference_graph

RIYADH = "roads/riyadh_almuhammadiyah_roads_osm.geojson"


@pytest.fixture(scope="module")
def roads_engine(
    pg_cluster: LocalPostgres, schema_template: str, helsinki_pbf: Path, data_dir: Path
) -> Iterator[Engine]:
    """One database holding both imported networks, for this module."""
    name = clone_database(pg_cluster, schema_template, prefix="routing_real")
    engine = make_engine(url=pg_cluster.url(name))
    import_roads_file(engine, "helsinki", helsinki_pbf)
    import_roads_file(engine, "riyadh", data_dir / RIYADH)
    yield engine
    engine.dispose()
    pg_cluster.drop_database(name)


@pytest.fixture(scope="module", params=["helsinki", "riyadh"])
def real(request: pytest.FixtureRequest, roads_engine: Engine) -> tuple[str, RoadGraph]:
    return request.param, load_graph(roads_engine, request.param)


def rows_reference(engine: Engine, region: str) -> object:
    """networkx graph from the road_edge rows themselves (not from the loaded arrays)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT e.u, e.v, e.travel_time_s FROM road_edge e JOIN region r "
                "ON r.id = e.region_id WHERE r.code = :c"
            ),
            {"c": region},
        ).all()
    u, v, w = zip(*rows, strict=True)
    return reference_graph(u, v, w)


def pgrouting_costs(
    engine: Engine, region: str, starts: list[int], target: int
) -> dict[int, float]:
    """Travel time from each start node to ``target`` by pgRouting's pgr_dijkstraCost over
    the same road_edge rows (node ids)."""
    with engine.connect() as conn:
        rid = conn.execute(
            text("SELECT id FROM region WHERE code = :c"), {"c": region}
        ).scalar_one()
        rows = conn.execute(
            text(
                "SELECT start_vid, agg_cost FROM pgr_dijkstraCost("
                "  'SELECT id, u AS source, v AS target, travel_time_s AS cost FROM road_edge "
                "   WHERE region_id = ' || :rid, CAST(:starts AS bigint[]), CAST(:target AS bigint),"
                "  directed => true)"
            ),
            {"rid": rid, "starts": starts, "target": target},
        ).all()
    return {int(node): float(cost) for node, cost in rows}


def test_real_network_loaded_whole(real: tuple[str, RoadGraph], roads_engine: Engine) -> None:
    region, graph = real
    with roads_engine.connect() as conn:
        edges = conn.execute(
            text(
                "SELECT count(*) FROM road_edge e JOIN region r ON r.id = e.region_id "
                "WHERE r.code = :c"
            ),
            {"c": region},
        ).scalar_one()
    assert graph.edge_count == edges > 500
    assert graph.version >= 1
    assert (graph.twin < 0).any()  # one-way streets exist on both


def test_etas_equal_networkx_on_real_networks(
    real: tuple[str, RoadGraph], roads_engine: Engine
) -> None:
    region, graph = real
    ref = rows_reference(roads_engine, region)
    seed = {"helsinki": 60, "riyadh": 24}[region]
    pairs = check_against_networkx(
        graph, ref, np.random.default_rng(seed), incidents=20, units_each=15, k=6
    )
    assert pairs >= 300


def test_node_times_agree_with_pgrouting(roads_engine: Engine) -> None:
    graph = load_graph(roads_engine, "riyadh")
    rng = np.random.default_rng(7)
    target = int(rng.integers(graph.node_count))
    starts = rng.choice(graph.node_count, 60, replace=False)
    ours = node_travel_times(graph, [target], direction="to")
    theirs = pgrouting_costs(
        roads_engine, "riyadh", graph.node_id[starts].tolist(), int(graph.node_id[target])
    )
    assert len(theirs) >= 50  # every start but the target itself is reachable (one SCC)
    for s in starts:
        node = int(graph.node_id[s])
        if node in theirs:
            assert ours[s] == pytest.approx(theirs[node], rel=1e-6)
        else:
            assert s == target or not np.isfinite(ours[s])


def test_isochrone_polygon_on_real_curved_roads(real: tuple[str, RoadGraph]) -> None:
    """Real edges have different vertex counts; the reachable area must still build."""
    from najda.routing.engine import isochrone

    _, graph = real
    mid = len(graph.lon) // 2
    iso = isochrone(graph, (float(graph.lon[mid]), float(graph.lat[mid])), 2.0)
    assert iso.polygon.is_valid and iso.polygon.area > 0
    reached = np.flatnonzero(iso.reach.node_times_s <= 120.0)
    inside = shapely.contains_xy(iso.polygon.buffer(1e-6), graph.lon[reached], graph.lat[reached])
    assert reached.size > 1 and inside.all()
