"""The Doha road network from each of its three files: the original imposm shapefile
(``type`` = highway class, ``oneway`` 1/0/-1, no node ids), a GeoJSON of OSM-style ways
and a PBF whose node ids are synthetic negative numbers. All three go through the same
builder and give the same graph, edge for edge; the region manifest imports the
shapefile. Small hand-made files pin down what the readers map."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
from click.testing import CliRunner
from shapely.geometry import LineString
from sqlalchemy import Engine, text

from najda.cli import main
from najda.errors import ImportFailed
from najda.ingest.osm import read_ways
from najda.ingest.roads import RoadGraph, build_road_graph, load_default_speeds

DOHA = Path("roads") / "doha"
FILES = {
    "shapefile": "doha_qatar_osm_roads.shp",
    "geojson": "doha_qatar_osm_roads.geojson",
    "pbf": "doha_qatar_roads.osm.pbf",
}
BIDI = "[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"


@pytest.fixture(scope="module")
def doha_graphs(data_dir: Path) -> dict[str, RoadGraph]:
    """The graph of each file, built once for the module (no database)."""
    speeds = load_default_speeds()
    return {
        kind: build_road_graph(read_ways(data_dir / DOHA / name), default_speeds=speeds)
        for kind, name in FILES.items()
    }


def edge_table(graph: RoadGraph) -> dict[str, np.ndarray]:
    """Every edge in one canonical order, its ends as coordinates at 1e-7 degrees (node
    numbers differ between files; places do not)."""
    lon = np.rint(graph.node_lon * 1e7).astype(np.int64)
    lat = np.rint(graph.node_lat * 1e7).astype(np.int64)
    ends = np.column_stack(
        (lon[graph.u], lat[graph.u], lon[graph.v], lat[graph.v], graph.osm_way_id)
    )
    order = np.lexsort((graph.length_m, *ends.T[::-1]))
    return {
        "ends": ends[order],
        "length_m": graph.length_m[order],
        "travel_time_s": graph.travel_time_s[order],
        "oneway": graph.oneway[order],
        "highway": graph.highway[order],
        "name_en": graph.name_en[order],
        "name_ar": graph.name_ar[order],
        "nodes": np.unique(np.column_stack((lon, lat)), axis=0),
    }


def test_shapefile_geojson_and_pbf_give_the_same_graph(
    doha_graphs: dict[str, RoadGraph],
) -> None:
    original = doha_graphs["shapefile"]
    assert (original.node_count, original.edge_count) == (39_697, 95_947)
    reference = edge_table(original)
    for kind in ("geojson", "pbf"):
        graph = doha_graphs[kind]
        assert (graph.node_count, graph.edge_count) == (39_697, 95_947), kind
        table = edge_table(graph)
        for column, values in reference.items():
            # exactly equal, lengths and times too: vertices lie on the same 1e-7 grid
            np.testing.assert_array_equal(table[column], values, err_msg=f"{kind}: {column}")
    # the directions are real: one-way streets both ways round, and two-way streets
    assert 0.15 < reference["oneway"].mean() < 0.6
    assert set(FILES) == set(doha_graphs)


def test_shapefile_text_is_read_as_utf8(doha_graphs: dict[str, RoadGraph]) -> None:
    """The .dbf declares Latin-1 but holds UTF-8: Arabic names come out as Arabic."""
    arabic = {n for n in doha_graphs["shapefile"].name_ar.tolist() if n}
    english = [n for n in doha_graphs["shapefile"].name_en.tolist() if n]
    assert {"شارع ابن رحال", "شارع الجزيرة العربية", "شارع ابن الأنباري"} <= arabic
    assert "Al Corniche Street" in english
    assert not [n for n in english if "Ø" in n or "Ù" in n]  # no mojibake


def test_the_region_imports_the_shapefile(
    doha_engine: Engine, doha_graphs: dict[str, RoadGraph]
) -> None:
    graph = doha_graphs["shapefile"]
    with doha_engine.connect() as conn:
        nodes, edges, metres = conn.execute(
            text("SELECT (SELECT count(*) FROM road_node), count(*), sum(length_m) FROM road_edge")
        ).one()
        source = conn.execute(text("SELECT source FROM graph_version")).scalar_one()
        marked = conn.execute(
            text("SELECT count(*) FROM road_edge WHERE name_en ~ :re OR name_ar ~ :re"),
            {"re": BIDI},
        ).scalar_one()
        arabic = conn.execute(
            text("SELECT count(*) FROM road_edge WHERE name_ar = 'شارع ابن رحال'")
        ).scalar_one()
    assert (nodes, edges) == (graph.node_count, graph.edge_count)
    assert metres == pytest.approx(float(graph.length_m.sum()), rel=1e-9)
    assert source.endswith("doha_qatar_osm_roads.shp")
    assert marked == 0 and arabic > 0


# -- small files: what the readers map ------------------------------------------------------
def _imposm_rows() -> list[dict[str, Any]]:
    """A square of streets (A-B-C-D) with the imposm columns, and a pier."""
    a, b, c, d = (51.50, 25.30), (51.51, 25.30), (51.51, 25.31), (51.50, 25.31)
    rows = [
        ("primary", "highway", 1, 0, "Corniche", [a, b]),  # one-way A -> B
        ("residential", "highway", -1, 0, "شارع\u200e الأول", [c, b]),  # one-way B -> C
        ("motorway", "highway", 0, 1, "", [c, d]),  # untagged: implied one-way C -> D
        ("residential", "highway", 0, 0, "", [d, a]),  # two-way
        ("residential", "highway", 0, 0, "", [a, c]),  # two-way diagonal
        ("pier", "man_made", 0, 0, "", [(51.49, 25.30), a]),
    ]
    return [
        {
            "osm_id": float(100 + i),
            "type": kind,
            "class": cls,
            "oneway": oneway,
            "bridge": bridge,
            "name": name or None,
            "geometry": LineString(coords),
        }
        for i, (kind, cls, oneway, bridge, name, coords) in enumerate(rows)
    ]


def _shapefile(tmp_path: Path, rows: list[dict[str, Any]], *, encoding: str = "UTF-8") -> Path:
    path = tmp_path / "roads.shp"
    gpd.GeoDataFrame(rows, crs=4326).to_file(path, engine="pyogrio", encoding=encoding)
    return path


def test_imposm_shapefile_columns_become_osm_tags(tmp_path: Path) -> None:
    skipped: dict[str, int] = {}
    ways = read_ways(_shapefile(tmp_path, _imposm_rows()), skipped=skipped)
    tags = {w.osm_id: dict(w.tags) for w in ways}
    assert tags[100] == {"highway": "primary", "oneway": "yes", "name": "Corniche"}
    assert tags[101]["oneway"] == "-1"
    assert tags[102] == {"highway": "motorway", "bridge": "yes"}  # 0: no tag at all
    assert tags[105] == {"man_made": "pier"}
    graph = build_road_graph(ways, keep_largest_component=False)
    directed = {(int(u), int(v)) for u, v in zip(graph.u, graph.v, strict=True)}
    place = {
        (round(x, 2), round(y, 2)): i
        for i, (x, y) in enumerate(zip(graph.node_lon, graph.node_lat, strict=True))
    }
    a, b, c, d = (place[p] for p in ((51.5, 25.3), (51.51, 25.3), (51.51, 25.31), (51.5, 25.31)))
    assert directed == {(a, b), (b, c), (c, d), (d, a), (a, d), (a, c), (c, a)}
    assert graph.stats.skipped == {"highway_missing": 1}  # the pier
    assert "شارع الأول" in graph.name_ar.tolist()  # the mark is gone


def test_shapefile_without_cpg_latin1_text_is_left_alone(tmp_path: Path) -> None:
    rows = _imposm_rows()[:1]
    rows[0]["name"] = "Rue de la Gare, Café"
    path = _shapefile(tmp_path, rows, encoding="ISO-8859-1")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    assert read_ways(path)[0].tags["name"] == "Rue de la Gare, Café"


def test_shapefile_without_cpg_utf8_text_is_read_as_utf8(tmp_path: Path) -> None:
    rows = _imposm_rows()[1:2]
    path = _shapefile(tmp_path, rows)
    path.with_suffix(".cpg").unlink()
    assert read_ways(path)[0].tags["name"] == "شارع\u200e الأول"


def test_a_shapefile_without_a_highway_or_type_column_is_refused(tmp_path: Path) -> None:
    rows = [{"kind": "road", "geometry": LineString([(51.5, 25.3), (51.6, 25.3)])}]
    path = tmp_path / "lines.shp"
    gpd.GeoDataFrame(rows, crs=4326).to_file(path, engine="pyogrio")
    with pytest.raises(ImportFailed, match=r"no highway \(or imposm type\) column; it has kind"):
        read_ways(path)


def test_pbf_with_negative_node_ids(tmp_path: Path) -> None:
    """Converters number new nodes -1, -2...: their locations are found too, mixed
    with positive ids in the same way."""
    import osmium

    path = tmp_path / "negative.osm.pbf"
    places = {-1: (51.50, 25.30), -2: (51.51, 25.30), 7: (51.51, 25.31), -3: (51.50, 25.31)}
    with osmium.SimpleWriter(str(path)) as writer:
        for node_id, (lon, lat) in sorted(places.items()):
            writer.add_node(osmium.osm.mutable.Node(id=node_id, location=(lon, lat)))
        writer.add_way(
            osmium.osm.mutable.Way(id=1, nodes=[-1, -2, 7], tags={"highway": "residential"})
        )
        writer.add_way(
            osmium.osm.mutable.Way(id=2, nodes=[7, -3, -1], tags={"highway": "residential"})
        )
    skipped: dict[str, int] = {}
    ways = read_ways(path, skipped=skipped)
    assert skipped == {}
    assert [w.node_ids.tolist() for w in ways if w.node_ids is not None] == [
        [-1, -2, 7],
        [7, -3, -1],
    ]
    for way in ways:
        assert way.node_ids is not None
        expected = np.array([places[int(i)] for i in way.node_ids])
        np.testing.assert_allclose(way.coords, expected, atol=1e-7)
    graph = build_road_graph(ways)
    assert (graph.node_count, graph.edge_count) == (2, 4)  # -1 and 7 join the two ways


def test_najda_import_roads_takes_a_shapefile(engine: Engine, tmp_path: Path) -> None:
    path = _shapefile(tmp_path, _imposm_rows())
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(
        main, ["import", "roads", str(path), "--region", "testland"], env={"DATABASE_URL": url}
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"roads: \d+ imported", result.output)
    with engine.connect() as conn:
        edges = conn.execute(text("SELECT count(*) FROM road_edge")).scalar_one()
    assert edges == 7  # the whole square is one strongly connected piece
