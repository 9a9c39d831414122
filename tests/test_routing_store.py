"""The graph store: one copy of a region's graph on disk, memory-mapped by every process.

Real PostGIS (the imported Riyadh region), real files, real processes.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, text

from najda.routing.engine import UnitPosition, rank_units
from najda.routing.graph import GraphCache, graph_ref, load_graph, search_for
from najda.routing.snap import snap_index
from najda.routing.store import GRAPH_ARRAYS, GraphStore


def _ref(engine: Engine, region: str = "riyadh"):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return graph_ref(conn, region)


def _mapped(array: np.ndarray) -> bool:
    base = array
    while base.base is not None and not isinstance(base, np.memmap):
        base = base.base
    return isinstance(base, np.memmap)


def test_a_stored_graph_is_mapped_and_equal_to_the_loaded_one(
    riyadh_engine: Engine, tmp_path: Path
) -> None:
    loaded = load_graph(riyadh_engine, "riyadh")
    store = GraphStore(tmp_path)
    first = GraphCache(store=store).get(riyadh_engine, "riyadh")
    again = GraphCache(store=store).get(riyadh_engine, "riyadh")  # another process's view
    assert first.store_dir == again.store_dir and first.store_dir is not None
    assert first.store_dir.parent == tmp_path
    for name in GRAPH_ARRAYS:
        np.testing.assert_array_equal(getattr(again, name), getattr(loaded, name))
        assert _mapped(getattr(again, name)), name
        assert not getattr(again, name).flags.writeable
    assert again.highway_classes == loaded.highway_classes
    assert again.frame == loaded.frame
    assert again.fingerprint == loaded.fingerprint != ""


def test_rankings_on_the_stored_graph_equal_those_on_the_loaded_one(
    riyadh_engine: Engine, tmp_path: Path
) -> None:
    loaded = load_graph(riyadh_engine, "riyadh")
    stored = GraphCache(store=GraphStore(tmp_path)).get(riyadh_engine, "riyadh")
    rng = np.random.default_rng(3)
    picks = rng.integers(0, loaded.node_count, 40)
    units = [
        UnitPosition(i, float(loaded.lon[j]) + 2e-4, float(loaded.lat[j]))
        for i, j in enumerate(picks)
    ]
    for j in rng.integers(0, loaded.node_count, 10):
        at = (float(loaded.lon[j]), float(loaded.lat[j]) + 1e-4)
        a = rank_units(loaded, at, units, k=5)
        b = rank_units(stored, at, units, k=5)
        assert [(r.unit_id, r.eta_s, r.distance_m) for r in a.ranked] == [
            (r.unit_id, r.eta_s, r.distance_m) for r in b.ranked
        ]
        assert [r.route.edge_ids.tolist() for r in a.ranked] == [
            r.route.edge_ids.tolist() for r in b.ranked
        ]


def test_derived_arrays_are_stored_beside_the_graph(riyadh_engine: Engine, tmp_path: Path) -> None:
    graph = GraphCache(store=GraphStore(tmp_path)).get(riyadh_engine, "riyadh")
    search = search_for(graph, graph.travel_time_s, ("free_flow",), reverse=True)
    index = snap_index(graph)
    assert graph.store_dir is not None
    derived = {p.name for p in (graph.store_dir / "derived").iterdir()}
    assert {"search-reverse", "snap-100m"} <= derived
    assert _mapped(search.cols) and _mapped(index.cell_seg)
    # a second process maps them instead of building them
    other = GraphCache(store=GraphStore(tmp_path)).get(riyadh_engine, "riyadh")
    np.testing.assert_array_equal(snap_index(other).cell_key, index.cell_key)
    assert _mapped(snap_index(other).cell_key)


def test_a_new_graph_version_gets_a_new_folder_and_old_ones_are_pruned(
    riyadh_engine: Engine, tmp_path: Path
) -> None:
    store = GraphStore(tmp_path, keep=2)
    cache = GraphCache(store=store)
    folders = []
    for _ in range(3):
        folders.append(cache.get(riyadh_engine, "riyadh").store_dir)
        with riyadh_engine.begin() as conn:  # what a re-import writes last
            conn.execute(
                text("""
                INSERT INTO graph_version (region_id, version, source, node_count, edge_count,
                                           component_count)
                SELECT region_id, version + 1, source, node_count, edge_count, component_count
                FROM graph_version WHERE region_id = (SELECT id FROM region WHERE code = 'riyadh')
                ORDER BY version DESC LIMIT 1""")
            )
    folders.append(cache.get(riyadh_engine, "riyadh").store_dir)
    assert len(set(folders)) == 4
    kept = {p for p in tmp_path.iterdir() if p.is_dir()}
    assert kept == set(folders[-2:])
    assert cache.get(riyadh_engine, "riyadh").version == _ref(riyadh_engine).version


def test_a_graph_of_another_database_is_never_read(
    riyadh_engine: Engine, engine: Engine, tmp_path: Path
) -> None:
    """Same region code and version, other content: the fingerprint tells them apart."""
    store = GraphStore(tmp_path)
    riyadh = _ref(riyadh_engine)
    fake = type(riyadh)(riyadh.region, riyadh.region_id, riyadh.version, "another|graph|1|2")
    GraphCache(store=store).get(riyadh_engine, "riyadh")
    assert store.open(fake, snap_limit_m=500) is None


def _open_in_child(args: tuple[str, str, str]) -> tuple[str, int, float]:
    from najda.db.session import make_engine

    url, region, root = args
    engine = make_engine(url=url)
    graph = GraphCache(store=GraphStore(Path(root))).get(engine, region)
    engine.dispose()
    return str(graph.store_dir), graph.edge_count, float(graph.travel_time_s.sum())


def test_processes_starting_together_share_one_folder(
    riyadh_engine: Engine, tmp_path: Path
) -> None:
    url = riyadh_engine.url.render_as_string(hide_password=False)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        results = pool.map(_open_in_child, [(url, "riyadh", str(tmp_path))] * 3)
    assert len(set(results)) == 1
    folders = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert [p.name for p in folders] == [Path(results[0][0]).name]  # no half-written copies


def test_an_unusable_store_still_serves(riyadh_engine: Engine, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")  # (root can write anywhere: a file in the way stops it)
    graph = GraphCache(store=GraphStore(blocker / "graphs")).get(riyadh_engine, "riyadh")
    assert graph.edge_count > 0 and graph.store_dir is None


@pytest.mark.parametrize("region", ["nowhere"])
def test_unknown_regions_are_not_found(riyadh_engine: Engine, tmp_path: Path, region: str) -> None:
    from najda.errors import NotFound

    with pytest.raises(NotFound):
        GraphCache(store=GraphStore(tmp_path)).get(riyadh_engine, region)
