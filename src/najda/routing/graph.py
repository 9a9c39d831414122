"""The travel-time road graph: compact numpy arrays built from ``road_node``/``road_edge``.

A :class:`RoadGraph` holds, per node, its database id and lon/lat; per directed edge, its
database id, tail and head node index, length, base travel time, road class and geometry
(one flat coordinate array plus offsets, in a local metric frame). Nothing in it is a
Python object per edge. Shortest-path searches run on CSR matrices derived from it
(:mod:`scipy.sparse.csgraph`), built lazily per travel-time profile and cached.

Coordinates are kept in a local equirectangular frame (metres east/north of the graph's
centre, x scaled by the cosine of the centre latitude); :meth:`RoadGraph.to_lonlat`
inverts it exactly. Snapping corrects the x scale to the query point's latitude, so the
distances it reports are metric to well under 0.1 % at city and region scale.

Load a graph with :func:`load_graph`, or through a :class:`GraphCache`, which rebuilds
it when the region's ``graph_version`` changes.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components, dijkstra
from sqlalchemy import Connection, Engine, text

from najda.errors import NotFound
from najda.routing import kernel
from najda.routing.arrays import load_arrays, save_arrays
from najda.routing.warm import warm_up

if TYPE_CHECKING:
    from najda.routing.store import GraphStore

log = logging.getLogger(__name__)

EARTH_RADIUS_M = 6_371_008.8
_DEG = math.pi / 180.0
_FETCH_ROWS = 50_000
_PROGRESS_FROM_ROWS = 100_000

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Int32Array = NDArray[np.int32]
#: named arrays and small values (see :mod:`najda.routing.arrays`)
Derived = tuple[dict[str, NDArray[Any]], dict[str, Any]]


@dataclass(frozen=True)
class MetricFrame:
    """Local equirectangular frame: metres east and north of (lon0, lat0)."""

    lon0: float
    lat0: float

    @property
    def kx(self) -> float:
        return EARTH_RADIUS_M * _DEG * math.cos(self.lat0 * _DEG)

    @property
    def ky(self) -> float:
        return EARTH_RADIUS_M * _DEG

    def to_xy(self, lon: Any, lat: Any) -> FloatArray:
        """(n, 2) metric coordinates of lon/lat arrays (or scalars)."""
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        return np.column_stack([(lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky])

    def to_lonlat(self, xy: FloatArray) -> FloatArray:
        """(n, 2) lon/lat of metric coordinates (exact inverse of :meth:`to_xy`)."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        return np.column_stack([xy[:, 0] / self.kx + self.lon0, xy[:, 1] / self.ky + self.lat0])


@dataclass(eq=False)
class RoadGraph:
    """A directed road graph for one region and graph version.

    Attributes
    ----------
    region
        Region code the graph was loaded for.
    version
        ``graph_version.version`` it was built from (0 when the region has none).
    node_id, lon, lat
        Per node: database id (sorted ascending) and coordinates.
    edge_id, edge_u, edge_v
        Per directed edge: database id, tail and head node *index*.
    length_m, travel_time_s
        Per edge: length and base (free-flow) travel time.
    highway_code, highway_classes
        Per edge: index into ``highway_classes`` (road class names, sorted).
    geom_offsets, geom_xy
        Edge ``e`` has vertices ``geom_xy[geom_offsets[e]:geom_offsets[e + 1]]`` in
        :attr:`frame` metres, oriented from tail to head.
    frame
        The metric frame of ``geom_xy``.
    twin
        Per edge: index of the opposite edge of the same two-way road (head and tail
        swapped, same length), or -1.
    component
        Per node: weakly connected component label. Nodes in different components can
        never reach each other.
    snap_limit_m
        Default snapping limit (from ``settings.snap_limit_m`` when loaded).
    source
        Where the graph came from, for logs and reports.
    fingerprint
        Identifies the ``graph_version`` row the graph was built from (its id, time and
        counts), so a stored copy is never mistaken for another database's graph.
    store_dir
        The folder of a :class:`~najda.routing.store.GraphStore` the arrays are mapped
        from; derived structures (search arrays, the snap index) are kept there too.
    """

    region: str
    version: int
    node_id: IntArray
    lon: FloatArray
    lat: FloatArray
    edge_id: IntArray
    edge_u: Int32Array
    edge_v: Int32Array
    length_m: FloatArray
    travel_time_s: FloatArray
    highway_code: NDArray[np.uint16]
    highway_classes: tuple[str, ...]
    geom_offsets: IntArray
    geom_xy: FloatArray
    frame: MetricFrame
    twin: Int32Array
    component: Int32Array
    snap_limit_m: float = 500.0
    source: str = ""
    fingerprint: str = ""
    store_dir: Path | None = None
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def node_count(self) -> int:
        return int(self.node_id.shape[0])

    @property
    def edge_count(self) -> int:
        return int(self.edge_id.shape[0])

    def node_index(self, ids: Any) -> Int32Array:
        """Node indices of database ids; :class:`~najda.errors.NotFound` for unknown ids."""
        ids = np.atleast_1d(np.asarray(ids, dtype=np.int64))
        pos = np.searchsorted(self.node_id, ids)
        pos = np.minimum(pos, self.node_count - 1)
        missing = self.node_id[pos] != ids
        if np.any(missing):
            raise NotFound(
                "road node not in the graph", details={"node_ids": ids[missing][:10].tolist()}
            )
        return pos.astype(np.int32)

    def edge_xy(self, edge: int) -> FloatArray:
        """Metric vertices of one edge, tail to head."""
        return self.geom_xy[self.geom_offsets[edge] : self.geom_offsets[edge + 1]]

    def to_lonlat(self, xy: FloatArray) -> FloatArray:
        return self.frame.to_lonlat(xy)

    def nbytes(self) -> int:
        """Bytes held by the arrays (caches of searches and the snap index excluded)."""
        return sum(v.nbytes for v in vars(self).values() if isinstance(v, np.ndarray))

    def derived(self, name: str, build: Callable[[], Derived]) -> Derived:
        """Arrays derived from the graph (search arrays, the snap index), built once.

        With a :attr:`store_dir` they are read from ``store_dir/derived/<name>`` (memory
        maps every process of a server shares) and written there by whoever builds them
        first; otherwise they are built and kept in memory.
        """

        def make() -> Derived:
            if self.store_dir is None:
                return build()
            folder = self.store_dir / "derived" / name
            found = load_arrays(folder)
            if found is None:
                arrays, meta = build()
                try:
                    save_arrays(folder, arrays, meta)
                except OSError as exc:  # a read-only store still serves the graph
                    log.warning("cannot store %s of %s: %s", name, self.source, exc)
                    return arrays, meta
                found = load_arrays(folder)
            return found if found is not None else build()

        value: Derived = self.memo(("derived", name), make)
        return value

    def memo(self, key: Any, build: Callable[[], Any], *, keep: int = 8) -> Any:
        """A derived structure cached on the graph (search matrices, snap index)."""
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        value = build()
        with self._lock:
            self._cache[key] = value
            weighted = [k for k in self._cache if isinstance(k, tuple) and k[0] == "search"]
            for old in weighted[:-keep]:
                del self._cache[old]
        return value


# -- building from arrays ----------------------------------------------------------------


def build_graph(
    *,
    region: str,
    version: int,
    node_id: Any,
    lon: Any,
    lat: Any,
    edge_id: Any,
    edge_u_id: Any,
    edge_v_id: Any,
    length_m: Any,
    travel_time_s: Any,
    highway: Any,
    geom_offsets: Any | None = None,
    geom_lonlat: Any | None = None,
    snap_limit_m: float = 500.0,
    source: str = "",
) -> RoadGraph:
    """A :class:`RoadGraph` from plain arrays (the loader and the generator both use it).

    Parameters
    ----------
    region, version
        Identify the graph.
    node_id, lon, lat
        Nodes: database id and coordinates (any order).
    edge_id, edge_u_id, edge_v_id
        Directed edges with tail and head given as node *ids*.
    length_m, travel_time_s, highway
        Per edge length, base travel time (> 0) and road class name.
    geom_offsets, geom_lonlat
        Edge geometries as offsets into one (n, 2) lon/lat array; straight lines between
        the end nodes when omitted.
    snap_limit_m
        Default snapping limit for this graph.
    source
        A description for logs.
    """
    node_id = np.asarray(node_id, dtype=np.int64)
    order = np.argsort(node_id, kind="stable")
    node_id = node_id[order]
    if node_id.size and np.any(node_id[1:] == node_id[:-1]):
        raise ValueError("duplicate road node ids")
    lon = np.asarray(lon, dtype=np.float64)[order]
    lat = np.asarray(lat, dtype=np.float64)[order]
    frame = MetricFrame(
        float(np.mean(lon)) if lon.size else 0.0, float(np.mean(lat)) if lat.size else 0.0
    )
    u = _lookup(node_id, np.asarray(edge_u_id, dtype=np.int64))
    v = _lookup(node_id, np.asarray(edge_v_id, dtype=np.int64))
    classes, codes = np.unique(np.asarray(highway, dtype=object).astype(str), return_inverse=True)
    if geom_offsets is None or geom_lonlat is None:
        offsets = np.arange(0, 2 * u.size + 1, 2, dtype=np.int64)
        xy = frame.to_xy(
            np.column_stack([lon[u], lon[v]]).ravel(), np.column_stack([lat[u], lat[v]]).ravel()
        )
    else:
        offsets = np.asarray(geom_offsets, dtype=np.int64)
        pts = np.asarray(geom_lonlat, dtype=np.float64).reshape(-1, 2)
        xy = frame.to_xy(pts[:, 0], pts[:, 1])
    length = np.asarray(length_m, dtype=np.float64)
    graph = RoadGraph(
        region=region,
        version=int(version),
        node_id=node_id,
        lon=lon,
        lat=lat,
        edge_id=np.asarray(edge_id, dtype=np.int64),
        edge_u=u,
        edge_v=v,
        length_m=length,
        travel_time_s=np.asarray(travel_time_s, dtype=np.float64),
        highway_code=codes.astype(np.uint16),
        highway_classes=tuple(str(c) for c in classes),
        geom_offsets=offsets,
        geom_xy=xy,
        frame=frame,
        twin=_twins(u, v, length),
        component=_weak_components(node_id.size, u, v),
        snap_limit_m=float(snap_limit_m),
        source=source,
    )
    validate(graph)
    return graph


def _lookup(sorted_ids: IntArray, ids: IntArray) -> Int32Array:
    pos = np.searchsorted(sorted_ids, ids)
    pos = np.minimum(pos, max(sorted_ids.size - 1, 0))
    if ids.size and (sorted_ids.size == 0 or np.any(sorted_ids[pos] != ids)):
        raise ValueError("an edge refers to a node that is not in the graph")
    return pos.astype(np.int32)


def _twins(u: Int32Array, v: Int32Array, length: FloatArray) -> Int32Array:
    """For each edge, the edge v->u of (nearly) the same length, else -1."""
    twin = np.full(u.size, -1, dtype=np.int32)
    if u.size == 0:
        return twin
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    rounded = np.round(length, 1)
    order = np.lexsort((u > v, rounded, hi, lo))
    a, b = order[:-1], order[1:]
    pair = (
        (lo[a] == lo[b])
        & (hi[a] == hi[b])
        & (rounded[a] == rounded[b])
        & (u[a] == v[b])
        & (v[a] == u[b])
        & (u[a] != v[a])
    )
    twin[a[pair]] = b[pair]
    twin[b[pair]] = a[pair]
    return twin


def _weak_components(n: int, u: Int32Array, v: Int32Array) -> Int32Array:
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    adj = sp.csr_matrix((np.ones(u.size), (u, v)), shape=(n, n))
    _, labels = connected_components(adj, directed=True, connection="weak")
    return labels.astype(np.int32)


def validate(graph: RoadGraph) -> None:
    """Raise ValueError when the arrays of ``graph`` do not fit together."""
    m = graph.edge_count
    sizes = [
        graph.edge_v.size,
        graph.length_m.size,
        graph.travel_time_s.size,
        graph.highway_code.size,
        graph.geom_offsets.size - 1,
    ]
    if any(s != m for s in sizes):
        raise ValueError("edge arrays differ in length")
    if m and not np.all(graph.travel_time_s > 0):
        raise ValueError("travel times must be positive")
    if m and np.any(np.diff(graph.geom_offsets) < 2):
        raise ValueError("every edge geometry needs at least two vertices")


# -- searches ------------------------------------------------------------------------------


class Search:
    """CSR arrays for one direction and one set of edge weights, and searches on them.

    Searches start from several road positions, each with its own initial time (the
    partial edge to the first node), as if from one virtual source ``n`` (one past the
    real nodes) that is every start node's predecessor. They run in the compiled kernel
    of :mod:`najda.routing.kernel` (numba): :meth:`walker` for a bounded search that can
    grow, :meth:`run` for dense arrays. Without it (``kernel.AVAILABLE`` False) they run
    in :func:`scipy.sparse.csgraph.dijkstra` on :attr:`matrix`, whose row ``n`` is the
    virtual node with out-entries rewritten per query under a lock. Both give the same
    times (see the kernel's notes).

    A search holds 16 bytes per edge (``cols``, ``weight``, ``entry_edge``) plus
    ``indptr``; :attr:`matrix` (scipy's form, used by the fallback and by analytics) is
    built only when first asked for. Build the arrays with :func:`search_arrays` (they
    can be stored and memory-mapped) and wrap them with :meth:`from_arrays`.
    """

    def __init__(
        self,
        n: int,
        src: Int32Array,
        dst: Int32Array,
        weight: FloatArray,
        *,
        capacity: int = 4,
        pool: kernel.ScratchPool | None = None,
    ) -> None:
        arrays = search_arrays(n, src, dst, weight)
        self._setup(n, arrays, capacity=capacity, pool=pool)

    @classmethod
    def from_arrays(
        cls,
        n: int,
        arrays: dict[str, NDArray[Any]],
        *,
        capacity: int = 4,
        pool: kernel.ScratchPool | None = None,
    ) -> Search:
        """A search over arrays made by :func:`search_arrays` (possibly memory-mapped)."""
        search = cls.__new__(cls)
        search._setup(n, arrays, capacity=capacity, pool=pool)
        return search

    def _setup(
        self,
        n: int,
        arrays: dict[str, NDArray[Any]],
        *,
        capacity: int,
        pool: kernel.ScratchPool | None,
    ) -> None:
        self.n = n
        self.indptr = kernel.frozen(arrays["indptr"], np.int32)
        self.cols = kernel.frozen(arrays["cols"], np.int32)
        self.weight = kernel.frozen(arrays["weight"], np.float64)
        self.entry_edge = kernel.frozen(arrays["entry_edge"], np.int32)
        if self.indptr.size != n + 1:
            raise ValueError("search arrays for another node count")
        self._lock = threading.Lock()
        self._capacity = capacity
        self._matrix: sp.csr_matrix | None = None
        self.csr: kernel.Csr | None = None
        if kernel.AVAILABLE:
            kernel.warm_up()
            self.csr = kernel.Csr(self.indptr, self.cols, self.weight, pool=pool)

    @property
    def nnz(self) -> int:
        return int(self.cols.size)

    @property
    def rows(self) -> Int32Array:
        """Row of each entry (made on demand; the search itself needs only ``indptr``)."""
        return np.repeat(np.arange(self.n, dtype=np.int32), np.diff(self.indptr))

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def matrix(self) -> sp.csr_matrix:
        """scipy's ``(n + 1) x (n + 1)`` matrix: the entries, plus row ``n`` (the virtual
        source) with room for :attr:`capacity` out-entries. Built on first use."""
        with self._lock:
            if self._matrix is None:
                self._build(self._capacity)
            assert self._matrix is not None
            return self._matrix

    def _build(self, capacity: int) -> None:
        n, nnz = self.n, self.nnz
        indptr = np.empty(n + 2, dtype=np.int32)
        indptr[: n + 1] = self.indptr
        indptr[n + 1] = nnz + capacity
        indices = np.concatenate([self.cols, np.full(capacity, n, dtype=np.int32)])
        data = np.concatenate([self.weight, np.ones(capacity)])
        self._capacity = capacity
        self._matrix = sp.csr_matrix((data, indices, indptr), shape=(n + 1, n + 1))

    def run(
        self, nodes: Int32Array, offsets: FloatArray, *, limit: float = np.inf
    ) -> tuple[FloatArray, Int32Array]:
        """Distances and predecessors from the virtual source (index ``n``).

        Parameters
        ----------
        nodes, offsets
            Start nodes and their initial times (>= 0).
        limit
            Nodes farther than this are left at ``inf``.
        """
        if self.csr is not None:
            return self.csr.run(nodes, offsets, limit=limit)
        return self.run_scipy(nodes, offsets, limit=limit)

    def run_scipy(
        self, nodes: Int32Array, offsets: FloatArray, *, limit: float = np.inf
    ) -> tuple[FloatArray, Int32Array]:
        """:meth:`run` in :func:`scipy.sparse.csgraph.dijkstra` (the reference)."""
        self.matrix  # noqa: B018 - built outside the lock below
        with self._lock:
            if nodes.size > self._capacity or self._matrix is None:
                self._build(max(2 * self._capacity, int(nodes.size)))
            matrix = self._matrix
            assert matrix is not None
            nnz = self.nnz
            idx, data = matrix.indices, matrix.data
            idx[nnz:] = self.n
            data[nnz:] = 1.0
            idx[nnz : nnz + nodes.size] = nodes
            data[nnz : nnz + nodes.size] = offsets
            dist, pred = dijkstra(
                matrix, directed=True, indices=self.n, return_predecessors=True, limit=limit
            )
        return dist, pred

    def walker(self, nodes: Int32Array, offsets: FloatArray) -> kernel.Walker | ScipyWalker:
        """A search from ``nodes`` (initial times ``offsets``) to be bounded and grown with
        ``advance(limit)``; read ``dist`` and ``pred`` (indexed by node; start nodes have
        predecessor ``n``) before closing it. Use it as a context manager."""
        if self.csr is not None:
            return self.csr.walker(nodes, offsets)
        return ScipyWalker(self, nodes, offsets)

    def entries_of(self, rows: Int32Array, cols: Int32Array) -> Int32Array:
        """Edge index behind each (row, col) entry of this search's matrix.

        For a reverse search, row ``y`` col ``x`` is the forward edge ``x -> y``. Every
        pair must be an entry (routes are made of them).
        """
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        if rows.size == 0:
            return np.zeros(0, dtype=np.int32)
        first = self.indptr[rows].astype(np.int64)
        degree = self.indptr[rows + 1].astype(np.int64) - first
        # a row's entries are sorted by column and unique: look along each row at once
        width = max(int(degree.max()), 1)
        slot = first[:, None] + np.arange(width)[None, :]
        inside = np.arange(width)[None, :] < degree[:, None]
        hit = inside & (self.cols[np.minimum(slot, self.nnz - 1)] == cols[:, None])
        if not hit.any(axis=1).all():
            raise ValueError("a (row, col) pair is not an entry of this search")
        return self.entry_edge[slot[np.arange(rows.size), hit.argmax(axis=1)]]


def search_arrays(
    n: int, src: Int32Array, dst: Int32Array, weight: FloatArray
) -> dict[str, NDArray[Any]]:
    """The CSR arrays of a search over directed entries ``src -> dst`` with ``weight``.

    Loops are dropped; of parallel entries the cheapest wins (ties: the lower edge
    index). Rows are sorted, and within a row the columns, so ``entry_edge`` names the
    edge behind each entry. Returns ``indptr`` (n + 1), ``cols``, ``weight`` and
    ``entry_edge``.
    """
    keep = src != dst
    edges = np.flatnonzero(keep).astype(np.int32)
    order = np.lexsort((edges, weight[edges], dst[edges], src[edges]))
    edges = edges[order]
    s, d = src[edges], dst[edges]
    first = np.ones(edges.size, dtype=bool)
    first[1:] = (s[1:] != s[:-1]) | (d[1:] != d[:-1])
    entry_edge = edges[first]
    rows = s[first]
    return {
        "indptr": np.searchsorted(rows, np.arange(n + 1)).astype(np.int32),
        "cols": d[first].astype(np.int32),
        "weight": weight[entry_edge].astype(np.float64),
        "entry_edge": entry_edge.astype(np.int32),
    }


class ScipyWalker:
    """:meth:`Search.walker` without the compiled kernel: each ``advance`` is a new scipy
    search with the larger bound."""

    def __init__(self, search: Search, nodes: Int32Array, offsets: FloatArray) -> None:
        self._search, self._nodes, self._offsets = search, nodes, offsets
        self.limit = -np.inf
        self.dist: FloatArray = np.full(search.n + 1, np.inf)
        self.pred: Int32Array = np.full(search.n + 1, -9999, dtype=np.int32)

    def advance(self, limit: float) -> None:
        self.dist, self.pred = self._search.run_scipy(self._nodes, self._offsets, limit=limit)
        self.limit = limit

    def close(self) -> None:
        pass

    def __enter__(self) -> ScipyWalker:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


FREE_FLOW = ("free_flow",)


def search_for(graph: RoadGraph, weight: FloatArray, weight_key: Any, *, reverse: bool) -> Search:
    """The cached :class:`Search` of ``graph`` for these edge weights and direction."""

    def build() -> Search:
        src, dst = (graph.edge_v, graph.edge_u) if reverse else (graph.edge_u, graph.edge_v)
        pool = graph.memo(("scratch_pool",), lambda: kernel.ScratchPool(graph.node_count))
        if weight_key != FREE_FLOW:  # profile weights are made per query hour, not stored
            return Search(graph.node_count, src, dst, weight, pool=pool)
        arrays, _ = graph.derived(
            "search-reverse" if reverse else "search-forward",
            lambda: (search_arrays(graph.node_count, src, dst, weight), {}),
        )
        return Search.from_arrays(graph.node_count, arrays, pool=pool)

    search: Search = graph.memo(("search", weight_key, reverse), build)
    return search


# -- loading from PostGIS ------------------------------------------------------------------

_NODE_SQL = """
    SELECT n.id, ST_X(n.geom), ST_Y(n.geom) FROM road_node n
    WHERE n.region_id = :rid ORDER BY n.id
"""
_EDGE_SQL = """
    SELECT e.id, e.u, e.v, e.length_m, e.travel_time_s, e.highway, ST_AsBinary(e.geom)
    FROM road_edge e WHERE e.region_id = :rid ORDER BY e.id
"""


@dataclass(frozen=True)
class GraphRef:
    """Which road graph a region has now: its ``graph_version`` row.

    ``version`` is 0 (and ``fingerprint`` empty) when the region has no graph yet.
    """

    region: str
    region_id: int
    version: int
    fingerprint: str


_REF_SQL = text("""
    SELECT r.id, g.version, g.id, g.created_at, g.node_count, g.edge_count
    FROM region r
    LEFT JOIN LATERAL (
        SELECT * FROM graph_version WHERE region_id = r.id ORDER BY version DESC LIMIT 1
    ) g ON true
    WHERE r.code = :c
""")


def graph_ref(conn: Connection, region: str) -> GraphRef:
    """The current :class:`GraphRef` of ``region`` (one small query).

    Raises
    ------
    NotFound
        No such region.
    """
    row = conn.execute(_REF_SQL, {"c": region}).first()
    if row is None:
        raise NotFound(f"unknown region: {region}", details={"region": region})
    rid, version, gid, created, nodes, edges = row
    return make_graph_ref(
        region,
        region_id=rid,
        version=version,
        row_id=gid,
        created=created,
        nodes=nodes,
        edges=edges,
    )


def make_graph_ref(
    region: str,
    *,
    region_id: int,
    version: int | None,
    row_id: int | None,
    created: Any,
    nodes: int | None,
    edges: int | None,
) -> GraphRef:
    """The :class:`GraphRef` of a ``graph_version`` row read by any query (its columns
    ``version``, ``id``, ``created_at``, ``node_count``, ``edge_count``; all None when
    the region has no graph)."""
    if version is None:
        return GraphRef(region, int(region_id), 0, "")
    stamp = created.isoformat() if created is not None else ""
    return GraphRef(region, int(region_id), int(version), f"{row_id}|{stamp}|{nodes}|{edges}")


def region_graph_version(engine: Engine, region: str) -> tuple[int, int]:
    """(region id, latest graph version) of ``region``; version 0 when it has none."""
    with engine.connect() as conn:
        ref = graph_ref(conn, region)
    return ref.region_id, ref.version


def load_graph(
    engine: Engine, region: str, *, snap_limit_m: float | None = None, progress: bool | None = None
) -> RoadGraph:
    """Load the road graph of ``region`` from ``road_node`` and ``road_edge``.

    The version and the rows are read in one repeatable-read transaction, so the graph is
    exactly the version it says, even while a re-import commits.

    Parameters
    ----------
    engine
        Database to read.
    region
        Region code.
    snap_limit_m
        Snapping limit carried by the graph (default ``settings.snap_limit_m``).
    progress
        Show a progress bar (default: for graphs over 100k edges, on a terminal or when
        ``NAJDA_PROGRESS=1``).

    Raises
    ------
    NotFound
        The region does not exist or has no road edges.
    """
    if snap_limit_m is None:
        from najda.config import load_settings

        snap_limit_m = load_settings().snap_limit_m
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        ref = graph_ref(conn, region)
        n_edges = conn.execute(
            text("SELECT count(*) FROM road_edge WHERE region_id = :r"), {"r": ref.region_id}
        ).scalar_one()
        if n_edges == 0:
            raise NotFound(f"region {region} has no road graph", details={"region": region})
        show = progress if progress is not None else None
        if progress is None and n_edges < _PROGRESS_FROM_ROWS:
            show = False
        rid = ref.region_id
        nodes = _fetch_columns(conn, _NODE_SQL, rid, 3, desc="road nodes", enabled=show)
        edges = _fetch_edges(conn, rid, int(n_edges), enabled=show)
    graph = build_graph(
        region=region,
        version=ref.version,
        node_id=nodes[0],
        lon=nodes[1],
        lat=nodes[2],
        snap_limit_m=snap_limit_m,
        source=f"postgis:{region}@{ref.version}",
        **edges,
    )
    graph.fingerprint = ref.fingerprint
    warm_up()  # compile or load the compiled code now, not in the first ranking
    log.info(
        "loaded road graph %s v%d: %d nodes, %d edges in %.1f s",
        region,
        ref.version,
        graph.node_count,
        graph.edge_count,
        time.perf_counter() - started,
    )
    return graph


def _rows(conn: Any, sql: str, rid: int) -> Iterator[list[tuple[Any, ...]]]:
    raw = conn.connection.driver_connection
    with raw.cursor(name=f"najda_graph_{id(conn)}_{abs(hash(sql))}") as cur:
        cur.itersize = _FETCH_ROWS
        cur.execute(sql.replace(":rid", "%(rid)s"), {"rid": rid})
        while True:
            chunk = cur.fetchmany(_FETCH_ROWS)
            if not chunk:
                return
            yield chunk


def _fetch_columns(
    conn: Any, sql: str, rid: int, width: int, *, desc: str, enabled: bool | None
) -> list[NDArray[Any]]:
    from najda.ingest.base import progress

    parts: list[list[Any]] = [[] for _ in range(width)]
    for chunk in progress(_rows(conn, sql, rid), desc=desc, unit="chunk", enabled=enabled):
        for i, column in enumerate(zip(*chunk, strict=True)):
            parts[i].append(np.asarray(column))
    return [np.concatenate(p) if p else np.zeros(0) for p in parts]


def _fetch_edges(conn: Any, rid: int, total: int, *, enabled: bool | None) -> dict[str, Any]:
    import shapely

    from najda.ingest.base import progress

    cols: dict[str, list[Any]] = {k: [] for k in ("id", "u", "v", "len", "tt", "hw")}
    coords: list[FloatArray] = []
    counts: list[IntArray] = []
    chunks = _rows(conn, _EDGE_SQL, rid)
    bar = progress(
        chunks, desc="road edges", total=-(-total // _FETCH_ROWS), unit="chunk", enabled=enabled
    )
    for chunk in bar:
        ids, us, vs, lens, tts, hws, wkbs = zip(*chunk, strict=True)
        for key, values in zip(cols, (ids, us, vs, lens, tts, hws), strict=True):
            cols[key].append(np.asarray(values))
        lines = shapely.from_wkb(np.asarray([bytes(w) for w in wkbs], dtype=object))
        xy, index = shapely.get_coordinates(lines, return_index=True)
        coords.append(xy)
        counts.append(np.bincount(index, minlength=len(chunk)))
    offsets = np.zeros(total + 1, dtype=np.int64)
    np.cumsum(np.concatenate(counts), out=offsets[1:])
    return {
        "edge_id": np.concatenate(cols["id"]),
        "edge_u_id": np.concatenate(cols["u"]),
        "edge_v_id": np.concatenate(cols["v"]),
        "length_m": np.concatenate(cols["len"]),
        "travel_time_s": np.concatenate(cols["tt"]),
        "highway": np.concatenate(cols["hw"]),
        "geom_offsets": offsets,
        "geom_lonlat": np.concatenate(coords),
    }


class GraphCache:
    """Loaded graphs keyed by (database, region, graph version); a small LRU.

    :meth:`get` asks the database for the region's current ``graph_version`` (one small
    query; :meth:`get_ref` skips it for callers that read the :class:`GraphRef` along
    with their own data) and loads only when it changed, so a re-import is picked up on
    the next request while the old graph keeps serving requests already running. With a
    :class:`~najda.routing.store.GraphStore`, a load maps the stored arrays when another
    process (or an earlier run) has stored them, and stores them otherwise.

    Parameters
    ----------
    maxsize
        Graphs kept at most (older versions are dropped first).
    snap_limit_m
        Snapping limit given to loaded graphs (default ``settings.snap_limit_m``).
    store
        Where graphs are kept as files and memory-mapped (none: each process loads its
        own copy from PostGIS).
    """

    def __init__(
        self,
        *,
        maxsize: int = 4,
        snap_limit_m: float | None = None,
        store: GraphStore | None = None,
    ) -> None:
        self.maxsize = maxsize
        self.snap_limit_m = snap_limit_m
        self.store = store
        self._graphs: OrderedDict[tuple[str, str, int, str], RoadGraph] = OrderedDict()
        self._lock = threading.Lock()  # guards the dict only, never held while loading
        self._loading: dict[tuple[str, str, int, str], threading.Lock] = {}
        self.loads = 0

    def get(self, engine: Engine, region: str) -> RoadGraph:
        """The graph of ``region`` at its current version, loading it if needed.

        Only requests for the same region and version wait for its load; other regions,
        and graphs already loaded, are served meanwhile.
        """
        with engine.connect() as conn:
            ref = graph_ref(conn, region)
        return self.get_ref(engine, ref)

    def get_ref(self, engine: Engine, ref: GraphRef) -> RoadGraph:
        """The graph of ``ref`` (a :class:`GraphRef` the caller has just read)."""
        key = (
            engine.url.render_as_string(hide_password=True),
            ref.region,
            ref.version,
            ref.fingerprint,
        )
        with self._lock:
            if key in self._graphs:
                self._graphs.move_to_end(key)
                return self._graphs[key]
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            with self._lock:
                if key in self._graphs:  # loaded by the request we waited for
                    return self._graphs[key]
            graph = self._load(engine, ref)
            with self._lock:
                self.loads += 1
                for k in [k for k in self._graphs if k[:2] == key[:2]]:
                    del self._graphs[k]
                self._graphs[key] = graph
                while len(self._graphs) > self.maxsize:
                    self._graphs.popitem(last=False)
                self._loading.pop(key, None)
            return graph

    def _load(self, engine: Engine, ref: GraphRef) -> RoadGraph:
        def load() -> RoadGraph:
            return load_graph(engine, ref.region, snap_limit_m=self.snap_limit_m)

        if self.store is None or ref.version == 0:
            return load()
        limit = self.snap_limit_m
        if limit is None:
            from najda.config import load_settings

            limit = load_settings().snap_limit_m
        return self.store.get(ref, load, snap_limit_m=limit)

    def loaded(self) -> list[RoadGraph]:
        """The graphs held now, least recently used first."""
        with self._lock:
            return list(self._graphs.values())

    def clear(self) -> None:
        with self._lock:
            self._graphs.clear()
