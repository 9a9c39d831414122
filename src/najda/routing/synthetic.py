"""GENERATED road networks for benchmarks and tests. Not real roads.

:func:`generate_city` lays out a jittered street grid of city scale (100k-500k nodes):
arterial lines (``primary``/``secondary``) every few blocks, ``tertiary`` collectors,
``residential`` local streets of which a share are one-way (a whole street in one
direction, as in real cities) and a share of local blocks missing. Only the largest
strongly connected component is kept, as the road importer does. The same seed always
gives the same network. Region codes and sources say ``generated`` so a generated
network is never mistaken for a surveyed one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components
from sqlalchemy import Connection, text

from najda.routing.graph import FloatArray, Int32Array, MetricFrame, RoadGraph, build_graph

CLASSES = ("primary", "secondary", "tertiary", "residential")
SPEED_KPH = np.array([60.0, 50.0, 40.0, 30.0])


@dataclass(frozen=True)
class SyntheticCity:
    """A generated road network (node index based).

    Attributes
    ----------
    name
        ``generated-grid-<nodes>-seed<seed>``.
    lon, lat
        Node coordinates.
    edge_u, edge_v
        Directed edges by node index.
    highway
        Index into :data:`CLASSES` per edge.
    oneway
        Whether the edge's street is one-way.
    length_m, speed_kph, travel_time_s
        Per edge.
    """

    name: str
    seed: int
    lon: FloatArray
    lat: FloatArray
    edge_u: Int32Array
    edge_v: Int32Array
    highway: NDArray[np.int8]
    oneway: NDArray[np.bool_]
    length_m: FloatArray
    speed_kph: FloatArray
    travel_time_s: FloatArray

    @property
    def node_count(self) -> int:
        return int(self.lon.size)

    @property
    def edge_count(self) -> int:
        return int(self.edge_u.size)

    def to_graph(
        self, *, region: str | None = None, node_id_base: int = 1, snap_limit_m: float = 500.0
    ) -> RoadGraph:
        """The network as a :class:`RoadGraph` directly (no database)."""
        ids = np.arange(self.node_count, dtype=np.int64) + node_id_base
        return build_graph(
            region=region or self.name,
            version=1,
            node_id=ids,
            lon=self.lon,
            lat=self.lat,
            edge_id=np.arange(self.edge_count, dtype=np.int64) + 1,
            edge_u_id=ids[self.edge_u],
            edge_v_id=ids[self.edge_v],
            length_m=self.length_m,
            travel_time_s=self.travel_time_s,
            highway=np.asarray(CLASSES)[self.highway],
            snap_limit_m=snap_limit_m,
            source=f"generated:{self.name}",
        )


def generate_city(
    *,
    nodes: int = 150_000,
    seed: int = 0,
    center: tuple[float, float] = (46.70, 24.70),
    block_m: float = 110.0,
    arterial_every: int = 8,
    oneway_share: float = 0.3,
    missing_share: float = 0.08,
) -> SyntheticCity:
    """Generate a city-like directed road network.

    Parameters
    ----------
    nodes
        Approximate node count (the kept component is within a few percent of it).
    seed
        Random seed; the same seed gives the same network.
    center
        (lon, lat) of the grid centre.
    block_m
        Block edge length before jitter.
    arterial_every
        Every n-th grid line is an arterial; every fourth line between is a collector.
    oneway_share
        Share of local streets that are one-way.
    missing_share
        Share of local blocks left out (dead ends, irregular blocks).
    """
    if nodes < 4:
        raise ValueError("a generated city needs at least 4 nodes")
    rng = np.random.default_rng(seed)
    side = math.ceil(math.sqrt(nodes * 1.02))
    xy = _jittered_grid(rng, side, block_m)
    line_class = _line_classes(side, arterial_every)
    line_oneway, line_dir = _one_way_lines(rng, line_class, oneway_share)
    u, v, cls, oneway = _grid_edges(rng, side, line_class, line_oneway, line_dir, missing_share)
    u, v, cls, oneway, xy = _largest_strong_component(u, v, cls, oneway, xy)
    frame = MetricFrame(*center)
    lonlat = frame.to_lonlat(xy - xy.mean(axis=0))
    length = np.hypot(*(xy[v] - xy[u]).T)
    speed = SPEED_KPH[cls]
    return SyntheticCity(
        name=f"generated-grid-{nodes}-seed{seed}",
        seed=seed,
        lon=lonlat[:, 0],
        lat=lonlat[:, 1],
        edge_u=u,
        edge_v=v,
        highway=cls,
        oneway=oneway,
        length_m=length,
        speed_kph=speed,
        travel_time_s=length / (speed / 3.6),
    )


def _jittered_grid(rng: np.random.Generator, side: int, block_m: float) -> FloatArray:
    j, i = np.meshgrid(np.arange(side), np.arange(side))
    jitter = rng.uniform(-0.2, 0.2, size=(side * side, 2)) * block_m
    return np.column_stack([j.ravel() * block_m, i.ravel() * block_m]) + jitter


def _line_classes(side: int, arterial_every: int) -> NDArray[np.int8]:
    """Class of each grid line (rows then columns share the scheme)."""
    k = np.arange(side)
    cls = np.full(side, 3, dtype=np.int8)
    cls[k % 4 == 2] = 2
    cls[k % arterial_every == 0] = 1
    cls[k % (arterial_every * 3) == 0] = 0
    return cls


def _one_way_lines(
    rng: np.random.Generator, line_class: NDArray[np.int8], share: float
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Per (row or column) line: one-way? and direction (True = increasing index)."""
    n = 2 * line_class.size
    local = np.concatenate([line_class, line_class]) == 3
    return local & (rng.random(n) < share), rng.random(n) < 0.5


def _grid_edges(
    rng: np.random.Generator,
    side: int,
    line_class: NDArray[np.int8],
    line_oneway: NDArray[np.bool_],
    line_dir: NDArray[np.bool_],
    missing: float,
) -> tuple[Int32Array, Int32Array, NDArray[np.int8], NDArray[np.bool_]]:
    idx = np.arange(side * side, dtype=np.int32).reshape(side, side)
    rows = np.repeat(np.arange(side), side - 1)
    cols = np.repeat(np.arange(side), side - 1)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].T.ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].T.ravel()])
    line = np.concatenate([rows, side + cols])
    cls = line_class[line % side]
    keep = (cls != 3) | (rng.random(a.size) >= missing)
    a, b, line, cls = a[keep], b[keep], line[keep], cls[keep]
    one = line_oneway[line]
    fwd = ~one | line_dir[line]
    back = ~one | ~line_dir[line]
    u = np.concatenate([a[fwd], b[back]])
    v = np.concatenate([b[fwd], a[back]])
    return u, v, np.concatenate([cls[fwd], cls[back]]), np.concatenate([one[fwd], one[back]])


def _largest_strong_component(
    u: Int32Array, v: Int32Array, cls: NDArray[np.int8], oneway: NDArray[np.bool_], xy: FloatArray
) -> tuple[Any, ...]:
    n = xy.shape[0]
    adj = sp.csr_matrix((np.ones(u.size), (u, v)), shape=(n, n))
    _, labels = connected_components(adj, directed=True, connection="strong")
    big = np.argmax(np.bincount(labels))
    keep_node = labels == big
    new_index = np.cumsum(keep_node) - 1
    keep_edge = keep_node[u] & keep_node[v]
    return (
        new_index[u[keep_edge]].astype(np.int32),
        new_index[v[keep_edge]].astype(np.int32),
        cls[keep_edge],
        oneway[keep_edge],
        xy[keep_node],
    )


# -- writing into road_node / road_edge ---------------------------------------------------


def write_city(conn: Connection, city: SyntheticCity, *, region: str | None = None) -> int:
    """Write ``city`` as a region's road graph with COPY; returns the new graph version.

    The region (default: the city's generated name) is created if missing, its nodes get
    fresh ids above every existing ``road_node.id``, and a ``graph_version`` row marks the
    graph as ``generated``.
    """
    from najda.ingest.base import copy_rows, ensure_region

    code = region or city.name
    rid = ensure_region(
        conn, code, name_en=f"Generated road network ({city.name})", name_ar="شبكة طرق مولدة"
    )
    base = int(conn.execute(text("SELECT coalesce(max(id), 0) + 1 FROM road_node")).scalar_one())
    copy_rows(conn, "road_node", ["id", "region_id", "geom"], _node_rows(city, rid, base))
    conn.execute(
        text(
            "SELECT setval(pg_get_serial_sequence('road_node', 'id'), "
            "(SELECT max(id) FROM road_node))"
        )
    )
    copy_rows(
        conn,
        "road_edge",
        [
            "region_id",
            "u",
            "v",
            "highway",
            "oneway",
            "length_m",
            "speed_kph",
            "travel_time_s",
            "geom",
        ],
        _edge_rows(city, rid, base),
    )
    version = int(
        conn.execute(
            text("SELECT coalesce(max(version), 0) + 1 FROM graph_version WHERE region_id = :r"),
            {"r": rid},
        ).scalar_one()
    )
    conn.execute(
        text(
            "INSERT INTO graph_version (region_id, version, source, node_count, edge_count, "
            "component_count) VALUES (:r, :v, :s, :n, :e, 1)"
        ),
        {
            "r": rid,
            "v": version,
            "s": f"generated:{city.name}",
            "n": city.node_count,
            "e": city.edge_count,
        },
    )
    return version


def _node_rows(city: SyntheticCity, rid: int, base: int) -> Iterator[tuple[Any, ...]]:
    for i, (x, y) in enumerate(zip(city.lon.tolist(), city.lat.tolist(), strict=True)):
        yield (base + i, rid, f"SRID=4326;POINT({x:.8f} {y:.8f})")


def _edge_rows(city: SyntheticCity, rid: int, base: int) -> Iterator[tuple[Any, ...]]:
    lon, lat = city.lon.tolist(), city.lat.tolist()
    names = [CLASSES[c] for c in city.highway.tolist()]
    columns = zip(
        city.edge_u.tolist(),
        city.edge_v.tolist(),
        names,
        city.oneway.tolist(),
        city.length_m.tolist(),
        city.speed_kph.tolist(),
        city.travel_time_s.tolist(),
        strict=True,
    )
    for u, v, hw, one, length, speed, tt in columns:
        geom = f"SRID=4326;LINESTRING({lon[u]:.8f} {lat[u]:.8f},{lon[v]:.8f} {lat[v]:.8f})"
        yield (rid, base + u, base + v, hw, one, length, speed, tt, geom)
