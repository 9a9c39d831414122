"""Road network import: OSM ways -> a directed, routable travel-time graph in PostGIS.

Fetching is kept apart from building. Readers in :mod:`najda.ingest.osm` (PBF / XML
files, GeoJSON of OSM ways, osmnx graphs) produce plain way records;
:func:`build_road_graph` turns them into a :class:`RoadGraph` of numpy arrays, with no
database; :func:`write_road_graph` replaces a region's road layer in one transaction.

Rules the builder applies:

- only drivable ``highway`` classes (:data:`DRIVABLE_HIGHWAYS`); ``access=no/private``,
  ``motor_vehicle=no``/``motorcar=no`` and ``area=yes`` are left out;
- ways are split into edges at their ends and at every vertex shared with another way
  (or met twice by the same way); a closed loop is also split at its middle vertex, so
  no edge starts and ends at the same node;
- vertices without node ids (GeoJSON, GIS layers) are the same vertex when equal at
  1e-7 degrees, OSM's own precision, and are placed on that grid;
- consecutive vertices at the very same place are merged, so no edge has zero length;
- ``oneway=yes/true/1`` keeps the way's direction, ``-1/reverse`` the opposite one,
  ``no/false/0`` both; without the tag, ``highway=motorway`` and
  ``junction=roundabout/circular`` are one-way in the way's direction;
- speed is the parsed ``maxspeed``, else the class default of
  ``geo_data/road_speeds.toml``; length is geodesic (WGS84);
- only the largest strongly connected component is kept: the routable core.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sqlalchemy import Connection, text

from najda.errors import ImportFailed
from najda.ingest.base import (
    Bind,
    ImportReport,
    copy_rows,
    ensure_region,
    replace_layer,
    require_file,
)
from najda.ingest.base import progress as progress_bar
from najda.ingest.names import name_pair
from najda.ingest.osm import (
    OsmWay,
    osmnx_way_settings,
    read_ways,
    simplify_by_way,
    ways_from_osmnx,
)

LAYER = "roads"
DRIVABLE_HIGHWAYS = frozenset(
    {
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "unclassified",
        "residential",
        "living_street",
        "service",
        "road",
    }
)
NO_ACCESS = frozenset({"no", "private"})
ONEWAY_FORWARD = frozenset({"yes", "true", "1"})
ONEWAY_BACKWARD = frozenset({"-1", "reverse"})
ONEWAY_NONE = frozenset({"no", "false", "0"})
IMPLIED_ONEWAY_JUNCTIONS = frozenset({"roundabout", "circular"})
COORDINATE_KEY_SCALE = 1e7  # vertices without node ids are the same when equal at 1e-7 deg
MAX_SPEED_KPH = 250.0
_NO_ID = np.iinfo(np.int64).min
_SPEED_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph|knots)?\s*$", re.IGNORECASE)
_UNIT_KPH = {"mph": 1.609344, "knots": 1.852}


# -- results -------------------------------------------------------------------------------
@dataclass(frozen=True)
class GraphStats:
    """What the builder found in the source and what it kept.

    Attributes
    ----------
    ways_read, ways_used
        Way records given, and those that became edges.
    source_nodes, source_edges
        Nodes and directed edges of the whole drivable graph, before pruning.
    component_count
        Strongly connected components of that source graph.
    largest_component_nodes
        Nodes of the largest one (the routable core).
    dropped_nodes, dropped_edges
        What pruning to the core removed (0 when pruning was not asked for).
    skipped
        Way records or pieces left out, by reason.
    """

    ways_read: int
    ways_used: int
    source_nodes: int
    source_edges: int
    component_count: int
    largest_component_nodes: int
    dropped_nodes: int
    dropped_edges: int
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RoadGraph:
    """A directed road graph as arrays. Node arrays have length N, edge arrays E.

    ``u`` and ``v`` index the node arrays. Geometries run from ``u`` to ``v``.
    ``node_osm_id`` and ``osm_way_id`` are -1 where the source has no id.
    """

    node_lon: np.ndarray
    node_lat: np.ndarray
    node_osm_id: np.ndarray
    u: np.ndarray
    v: np.ndarray
    osm_way_id: np.ndarray
    highway: np.ndarray
    name_ar: np.ndarray
    name_en: np.ndarray
    oneway: np.ndarray
    length_m: np.ndarray
    speed_kph: np.ndarray
    travel_time_s: np.ndarray
    geometry: np.ndarray
    stats: GraphStats

    @property
    def node_count(self) -> int:
        return int(self.node_lon.shape[0])

    @property
    def edge_count(self) -> int:
        return int(self.u.shape[0])

    def to_networkx(self) -> Any:
        """A ``networkx.MultiDiGraph`` weighted by ``travel_time_s`` (for checks)."""
        import networkx as nx

        graph = nx.MultiDiGraph()
        graph.add_nodes_from(range(self.node_count))
        graph.add_weighted_edges_from(
            zip(self.u.tolist(), self.v.tolist(), self.travel_time_s.tolist(), strict=True),
            weight="travel_time_s",
        )
        return graph


# -- tag rules -----------------------------------------------------------------------------
def load_default_speeds(path: str | Path | None = None) -> dict[str, float]:
    """Default speed (km/h) per drivable highway class, from ``road_speeds.toml``.

    Raises
    ------
    ImportFailed
        The file is missing, unreadable, or lacks a drivable class.
    """
    if path is None:
        from najda.config import load_settings

        path = load_settings().geo_data_dir / "road_speeds.toml"
    p = Path(path)
    try:
        table = tomllib.loads(p.read_text(encoding="utf-8")).get("speeds_kph", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ImportFailed(f"cannot read road speed defaults {p}: {exc}") from exc
    speeds = {str(k): float(v) for k, v in table.items() if isinstance(v, int | float) and v > 0}
    missing = sorted(DRIVABLE_HIGHWAYS - speeds.keys())
    if missing:
        raise ImportFailed(f"{p} has no default speed for: {', '.join(missing)}")
    return speeds


def parse_maxspeed(value: str | None) -> float | None:
    """A ``maxspeed`` tag in km/h, or None when it holds no usable number.

    ``"60"`` -> 60, ``"60 mph"`` -> 96.6, ``"50;60"`` -> 50 (the lower value);
    ``"none"``, ``"signals"``, ``"walk"`` and country codes (``"SA:urban"``) -> None.
    """
    if not value:
        return None
    speeds = []
    for part in re.split(r"[;|]", value):
        match = _SPEED_RE.match(part)
        if match is None:
            continue
        kph = float(match.group(1)) * _UNIT_KPH.get((match.group(2) or "").lower(), 1.0)
        if 0 < kph <= MAX_SPEED_KPH:
            speeds.append(kph)
    return min(speeds) if speeds else None


def way_directions(tags: Mapping[str, str]) -> tuple[bool, bool]:
    """(forward, backward): whether the way may be driven along / against its node order."""
    oneway = tags.get("oneway", "").strip().lower()
    if oneway in ONEWAY_FORWARD:
        return True, False
    if oneway in ONEWAY_BACKWARD:
        return False, True
    if oneway in ONEWAY_NONE:
        return True, True
    implied = (
        tags.get("highway") == "motorway"
        or tags.get("junction", "").lower() in IMPLIED_ONEWAY_JUNCTIONS
    )
    return True, not implied


def exclusion_reason(tags: Mapping[str, str]) -> str | None:
    """Why a way is not part of the drivable network, or None when it is."""
    if tags.get("highway") not in DRIVABLE_HIGHWAYS:
        return f"highway_{tags.get('highway') or 'missing'}"
    if tags.get("access", "").lower() in NO_ACCESS:
        return "access_restricted"
    if (
        tags.get("motor_vehicle", "").lower() in NO_ACCESS
        or tags.get("motorcar", "").lower() in NO_ACCESS
    ):
        return "access_restricted"
    if tags.get("area", "").lower() == "yes":
        return "area"
    return None


def way_names(tags: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(name_ar, name_en): ``name:ar`` / ``name:en``, else ``name`` by its script.

    Names are cleaned (:mod:`najda.ingest.names`); an Arabic name needs an Arabic letter.
    """
    names = name_pair(
        name=tags.get("name"),
        name_en=tags.get("name:en") or tags.get("name_en"),
        name_ar=tags.get("name:ar") or tags.get("name_ar"),
    )
    return names.ar, names.en


# -- builder -------------------------------------------------------------------------------
@dataclass
class _Ways:
    """Attributes of the drivable ways, one row per kept way record."""

    records: list[OsmWay]
    osm_id: np.ndarray
    highway: np.ndarray
    name_ar: np.ndarray
    name_en: np.ndarray
    speed_kph: np.ndarray
    forward: np.ndarray
    backward: np.ndarray


@dataclass
class _Vertices:
    """All vertices of the kept ways, way after way; ``node`` is the shared-node index."""

    lon: np.ndarray
    lat: np.ndarray
    way: np.ndarray
    node: np.ndarray
    node_lon: np.ndarray
    node_lat: np.ndarray
    node_osm_id: np.ndarray


def build_road_graph(
    ways: Sequence[OsmWay],
    *,
    default_speeds: Mapping[str, float] | None = None,
    keep_largest_component: bool = True,
) -> RoadGraph:
    """Build the directed travel-time graph of the drivable ways.

    Parameters
    ----------
    ways
        Way records from any reader of :mod:`najda.ingest.osm`.
    default_speeds
        Speed per highway class when a way has no usable ``maxspeed``
        (default: :func:`load_default_speeds`).
    keep_largest_component
        Keep only the largest strongly connected component (the routable core).

    Raises
    ------
    ImportFailed
        No drivable way, or no edge of positive length, is left.
    """
    speeds = dict(default_speeds) if default_speeds is not None else load_default_speeds()
    skipped: dict[str, int] = {}
    table = _drivable_ways(ways, speeds, skipped)
    verts = _vertices(table, skipped)
    start, end = _split_points(verts)
    length = _piece_lengths(verts, start, end)
    positive = length > 0
    if not positive.all():
        _count(skipped, "zero_length_edge", int((~positive).sum()))
        start, end, length = start[positive], end[positive], length[positive]
    if start.size == 0:
        raise ImportFailed(f"no drivable road edges among {len(ways)} ways")
    return _directed_graph(
        table,
        verts,
        start,
        end,
        length,
        keep_largest_component=keep_largest_component,
        stats={"ways_read": len(ways), "skipped": skipped},
    )


def _drivable_ways(
    ways: Sequence[OsmWay], speeds: Mapping[str, float], skipped: dict[str, int]
) -> _Ways:
    kept: list[OsmWay] = []
    rows: list[tuple[Any, ...]] = []
    for way in ways:
        reason = exclusion_reason(way.tags)
        if reason is not None:
            _count(skipped, reason)
            continue
        forward, backward = way_directions(way.tags)
        speed = parse_maxspeed(way.tags.get("maxspeed")) or speeds[way.tags["highway"]]
        kept.append(way)
        rows.append(
            (
                -1 if way.osm_id is None else way.osm_id,
                way.tags["highway"],
                *way_names(way.tags),
                speed,
                forward,
                backward,
            )
        )
    if not kept:
        raise ImportFailed(
            f"no drivable roads among {len(ways)} ways "
            f"(kept classes: {', '.join(sorted(DRIVABLE_HIGHWAYS))})"
        )
    cols = list(zip(*rows, strict=True))
    return _Ways(
        kept,
        np.array(cols[0], dtype=np.int64),
        _objects(cols[1]),
        _objects(cols[2]),
        _objects(cols[3]),
        np.array(cols[4], dtype=np.float64),
        np.array(cols[5], dtype=bool),
        np.array(cols[6], dtype=bool),
    )


def _objects(values: Iterable[Any]) -> np.ndarray:
    items = list(values)
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _vertex_keys(way: OsmWay) -> np.ndarray:
    """Two int64 columns identifying each vertex: (node id, -) or (lon, lat) at 1e-7."""
    if way.node_ids is not None:
        ids = np.asarray(way.node_ids, dtype=np.int64)
        return np.column_stack((ids, np.full(ids.shape, _NO_ID, dtype=np.int64)))
    return np.rint(way.coords * COORDINATE_KEY_SCALE).astype(np.int64)


def _packed_keys(keys: np.ndarray) -> np.ndarray:
    """One sortable value per vertex key: int64 where that is exact, else a record."""
    by_id = keys[:, 1] == _NO_ID
    if by_id.all():
        return keys[:, 0]
    if not by_id.any():
        # lon in +-1.8e9 and lat in +-9e8 units of 1e-7 deg pack into one int64
        return (keys[:, 0] + 1_800_000_000) * 1_800_000_001 + (keys[:, 1] + 900_000_000)
    return keys.view([("a", np.int64), ("b", np.int64)]).ravel()


def _vertices(table: _Ways, skipped: dict[str, int]) -> _Vertices:
    coords = np.concatenate([np.asarray(w.coords, dtype=np.float64)[:, :2] for w in table.records])
    keys = np.ascontiguousarray(np.concatenate([_vertex_keys(w) for w in table.records]))
    # a vertex keyed by its coordinates lies where its key says: a GIS layer's float noise
    # (from reprojection) then gives the same lengths as the OSM file of the same ways
    by_place = keys[:, 1] != _NO_ID
    coords[by_place] = keys[by_place] / COORDINATE_KEY_SCALE
    sizes = np.array([len(w.coords) for w in table.records], dtype=np.int64)
    way = np.repeat(np.arange(len(table.records)), sizes)
    _, first, node = np.unique(_packed_keys(keys), return_index=True, return_inverse=True)
    node = node.ravel()
    osm_id = np.where(keys[first, 1] == _NO_ID, keys[first, 0], -1)
    verts = _Vertices(
        coords[:, 0], coords[:, 1], way, node, coords[first, 0], coords[first, 1], osm_id
    )
    return _drop_repeats(_merge_coincident(verts), table, skipped)


def _merge_coincident(verts: _Vertices) -> _Vertices:
    """Nodes joined by a zero-length segment (same place, two ids) become one node."""
    same_way = verts.way[1:] == verts.way[:-1]
    a, b = verts.node[:-1], verts.node[1:]
    hit = (
        same_way & (a != b) & (verts.lon[1:] == verts.lon[:-1]) & (verts.lat[1:] == verts.lat[:-1])
    )
    if not hit.any():
        return verts
    n = verts.node_lon.shape[0]
    links = coo_matrix((np.ones(int(hit.sum())), (a[hit], b[hit])), shape=(n, n))
    _, label = connected_components(links, directed=False)
    _, first = np.unique(label, return_index=True)
    return _Vertices(
        verts.lon,
        verts.lat,
        verts.way,
        label[verts.node],
        verts.node_lon[first],
        verts.node_lat[first],
        verts.node_osm_id[first],
    )


def _drop_repeats(verts: _Vertices, table: _Ways, skipped: dict[str, int]) -> _Vertices:
    """Remove consecutive repeats of a node and ways left with fewer than two vertices."""
    keep = np.ones(verts.node.shape[0], dtype=bool)
    keep[1:] = ~((verts.way[1:] == verts.way[:-1]) & (verts.node[1:] == verts.node[:-1]))
    per_way = np.bincount(verts.way[keep], minlength=len(table.records))
    short = per_way < 2
    if short.any():
        _count(skipped, "way_without_length", int(short.sum()))
        keep &= ~short[verts.way]
    node = verts.node[keep]
    # vertices of a shared node take the node's exact position, so edges meet exactly
    return _Vertices(
        verts.node_lon[node],
        verts.node_lat[node],
        verts.way[keep],
        node,
        verts.node_lon,
        verts.node_lat,
        verts.node_osm_id,
    )


def _split_points(verts: _Vertices) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) vertex positions of each undirected edge piece."""
    n = verts.node.shape[0]
    if n == 0:
        raise ImportFailed("no drivable road has two distinct points")
    boundary = np.ones(n, dtype=bool)
    boundary[1:] = verts.way[1:] != verts.way[:-1]
    split = boundary.copy()
    split[:-1] |= boundary[1:]  # the last vertex of every way
    split[-1] = True
    split |= np.bincount(verts.node)[verts.node] > 1
    start, end = _pieces(split, verts.way)
    loops = verts.node[start] == verts.node[end]
    if loops.any():
        split[(start[loops] + end[loops]) // 2] = True
        start, end = _pieces(split, verts.way)
    return start, end


def _pieces(split: np.ndarray, way: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    points = np.flatnonzero(split)
    same = way[points[:-1]] == way[points[1:]]
    return points[:-1][same], points[1:][same]


def _piece_lengths(verts: _Vertices, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Geodesic length (m, WGS84) of each piece: the sum of its segments."""
    from pyproj import Geod

    _, _, seg = Geod(ellps="WGS84").inv(
        verts.lon[:-1], verts.lat[:-1], verts.lon[1:], verts.lat[1:]
    )
    seg = np.where(verts.way[1:] == verts.way[:-1], np.asarray(seg, dtype=np.float64), 0.0)
    # sums over [start, end) of each piece; the padding makes index ``end`` valid
    bounds = np.column_stack((start, end)).ravel()
    return np.add.reduceat(np.append(seg, 0.0), bounds)[::2]


def _directed_graph(
    table: _Ways,
    verts: _Vertices,
    start: np.ndarray,
    end: np.ndarray,
    length: np.ndarray,
    *,
    keep_largest_component: bool,
    stats: dict[str, Any],
) -> RoadGraph:
    way = verts.way[start]
    fwd, bwd = np.flatnonzero(table.forward[way]), np.flatnonzero(table.backward[way])
    piece = np.concatenate((fwd, bwd))
    reverse = np.concatenate((np.zeros(fwd.size, bool), np.ones(bwd.size, bool)))
    src = np.where(reverse, verts.node[end[piece]], verts.node[start[piece]])
    dst = np.where(reverse, verts.node[start[piece]], verts.node[end[piece]])
    used, compact = np.unique(np.concatenate((src, dst)), return_inverse=True)
    src, dst = compact[: piece.size], compact[piece.size :]
    n_comp, label = connected_components(
        coo_matrix((np.ones(src.size), (src, dst)), shape=(used.size,) * 2),
        directed=True,
        connection="strong",
    )
    sizes = np.bincount(label)
    core = label == sizes.argmax() if keep_largest_component else np.ones(used.size, bool)
    keep = core[src] & core[dst]
    renumber = np.cumsum(core) - 1
    piece, reverse = piece[keep], reverse[keep]
    pw = way[piece]
    full_stats = GraphStats(
        ways_read=stats["ways_read"],
        ways_used=int(np.unique(pw).size),
        source_nodes=int(used.size),
        source_edges=int(src.size),
        component_count=int(n_comp),
        largest_component_nodes=int(sizes.max()),
        dropped_nodes=int((~core).sum()),
        dropped_edges=int((~keep).sum()),
        skipped=stats["skipped"],
    )
    speed = table.speed_kph[pw]
    return RoadGraph(
        node_lon=verts.node_lon[used[core]],
        node_lat=verts.node_lat[used[core]],
        node_osm_id=verts.node_osm_id[used[core]],
        u=renumber[src[keep]],
        v=renumber[dst[keep]],
        osm_way_id=table.osm_id[pw],
        highway=table.highway[pw],
        name_ar=table.name_ar[pw],
        name_en=table.name_en[pw],
        oneway=table.forward[pw] != table.backward[pw],
        length_m=length[piece],
        speed_kph=speed,
        travel_time_s=length[piece] / (speed / 3.6),
        geometry=_linestrings(verts, start[piece], end[piece], reverse),
        stats=full_stats,
    )


def _linestrings(
    verts: _Vertices, start: np.ndarray, end: np.ndarray, reverse: np.ndarray
) -> np.ndarray:
    """LineStrings over vertex ranges, walked backwards where ``reverse``."""
    counts = end - start + 1
    first = np.where(reverse, end, start)
    step = np.where(reverse, -1, 1)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    idx = np.repeat(first, counts) + np.repeat(step, counts) * offsets
    coords = np.column_stack((verts.lon[idx], verts.lat[idx]))
    return shapely.linestrings(coords, indices=np.repeat(np.arange(counts.size), counts))


def _count(counts: dict[str, int], key: str, n: int = 1) -> None:
    counts[key] = counts.get(key, 0) + n


# -- importers -----------------------------------------------------------------------------
def import_roads_file(
    engine: Bind, region: str, path: str | Path, *, progress: bool | None = None
) -> ImportReport:
    """Replace a region's road network with the drivable roads of a file.

    Parameters
    ----------
    engine
        Database to write to.
    region
        Region code; the region is created when missing.
    path
        OSM PBF (``.pbf``), OSM XML (``.osm``, ``.xml``) or GeoJSON of OSM ways
        (``.geojson``, ``.json``).
    progress
        Show progress bars (default: when stderr is a terminal).

    Raises
    ------
    ImportFailed
        The file is missing, empty, unreadable, of an unknown format, or holds no
        drivable road. The database is then left as it was.
    """
    p = require_file(path)
    skipped: dict[str, int] = {}
    ways = read_ways(p, progress=progress, skipped=skipped)
    if not ways:
        raise ImportFailed(
            f"no roads (ways with a highway tag) in {p.name}", details={"path": str(p)}
        )
    graph = build_road_graph(ways)
    return write_road_graph(
        engine, region, graph, source=str(p), read_skipped=skipped, progress=progress
    )


def import_roads_osmnx(
    engine: Bind,
    region: str,
    *,
    place: str | None = None,
    polygon: Any = None,
    progress: bool | None = None,
) -> ImportReport:
    """Replace a region's road network with the drive network osmnx downloads (online).

    Parameters
    ----------
    place
        A place name osmnx can geocode to a polygon.
    polygon
        A shapely (Multi)Polygon in EPSG:4326, or the path of a polygon file.

    Raises
    ------
    ImportFailed
        Neither or both of ``place`` and ``polygon`` given, or the download failed.
    """
    if (place is None) == (polygon is None):
        raise ImportFailed("give exactly one of place or polygon for an osmnx download")
    source = f"osmnx:place={place}" if place is not None else f"osmnx:polygon={_label(polygon)}"
    graph = download_drive_graph(place=place, polygon=polygon)
    return import_osmnx_graph(engine, region, graph, source=source, progress=progress)


def download_drive_graph(*, place: str | None = None, polygon: Any = None) -> Any:
    """An unsimplified osmnx ``network_type="drive"`` graph in way order, simplified by way."""
    import osmnx as ox

    shape = _polygon(polygon) if polygon is not None else None
    if (place is None) == (shape is None):
        raise ImportFailed("give exactly one of place or polygon for an osmnx download")
    from najda.config import load_settings

    cache = load_settings().geo_data_dir / "cache" / "osmnx"
    try:
        with osmnx_way_settings(cache_folder=cache):
            raw = (
                ox.graph_from_polygon(shape, network_type="drive", simplify=False)
                if place is None
                else ox.graph_from_place(place, network_type="drive", simplify=False)
            )
            return _drivable_by_way(raw)
    except ImportFailed:
        raise
    except Exception as exc:  # osmnx raises many kinds (HTTP, geocoding, empty response)
        raise ImportFailed(
            f"osmnx download failed: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else ''}"
        ) from exc


def osmnx_graph_from_xml(path: str | Path) -> Any:
    """An osmnx graph of an OSM XML file, built the way downloads are (for offline use)."""
    import osmnx as ox

    p = require_file(path)
    try:
        with osmnx_way_settings():
            return _drivable_by_way(ox.graph_from_xml(p, simplify=False, retain_all=True))
    except ImportFailed:
        raise
    except Exception as exc:  # osmnx/XML parser errors of several kinds
        raise ImportFailed(f"osmnx cannot read {p.name}: {type(exc).__name__}") from exc


def _drivable_by_way(raw: Any) -> Any:
    """The drivable edges of an unsimplified osmnx graph, simplified way by way.

    Filtering first means edges split only where drivable ways meet, as for files.
    """
    drop = [
        (u, v, k)
        for u, v, k, data in raw.edges(keys=True, data=True)
        if exclusion_reason(_str_tags(data)) is not None
    ]
    raw.remove_edges_from(drop)
    raw.remove_nodes_from([n for n in list(raw.nodes) if raw.degree(n) == 0])
    if raw.number_of_edges() == 0:
        raise ImportFailed("the osmnx graph has no drivable roads")
    return simplify_by_way(raw)


def _str_tags(data: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in data.items() if isinstance(v, str | int | float)}


def import_osmnx_graph(
    engine: Bind, region: str, graph: Any, *, source: str, progress: bool | None = None
) -> ImportReport:
    """Replace a region's road network with an osmnx ``MultiDiGraph`` (lon/lat)."""
    ways = ways_from_osmnx(graph)
    if not ways:
        raise ImportFailed("the osmnx graph has no edges with a highway tag")
    return write_road_graph(
        engine, region, build_road_graph(ways), source=source, progress=progress
    )


def _polygon(polygon: Any) -> Any:
    if isinstance(polygon, str | Path):
        import geopandas as gpd

        p = require_file(polygon)
        try:
            frame = gpd.read_file(p).to_crs(4326)
        except Exception as exc:  # pyogrio raises its own error classes
            raise ImportFailed(f"cannot read polygon file {p.name}: {type(exc).__name__}") from exc
        polygons = frame.geometry[frame.geom_type.isin(["Polygon", "MultiPolygon"])]
        polygon = polygons.union_all() if len(polygons) else None
    if polygon is None or shapely.get_type_id(polygon) not in (3, 6):
        raise ImportFailed("the osmnx download area must be a Polygon or MultiPolygon")
    return polygon


def _label(polygon: Any) -> str:
    return str(polygon) if isinstance(polygon, str | Path) else f"bounds{polygon.bounds}"


# -- writing -------------------------------------------------------------------------------
def write_road_graph(
    engine: Bind,
    region: str,
    graph: RoadGraph,
    *,
    source: str,
    read_skipped: Mapping[str, int] | None = None,
    progress: bool | None = None,
) -> ImportReport:
    """Replace the region's road nodes and edges with ``graph`` in one transaction.

    Writes a new ``graph_version`` row and relinks stations to the new nodes (when the
    stations importer provides ``link_stations_to_roads``) in the same transaction.
    """
    report = road_report(region, graph, source=source, read_skipped=read_skipped)
    node_hex, edge_hex = _hex_ewkb(graph)  # computed before the transaction opens
    with replace_layer(engine, report) as conn:
        rid = ensure_region(conn, region)
        _delete_roads(conn, rid)
        node_ids = _reserve_node_ids(conn, graph.node_count)
        copy_rows(
            conn,
            "road_node",
            ["id", "region_id", "osm_id", "geom"],
            progress_bar(
                _node_rows(graph, rid, node_ids, node_hex),
                desc="writing nodes",
                total=graph.node_count,
                unit="node",
                enabled=progress,
            ),
        )
        copy_rows(
            conn,
            "road_edge",
            _EDGE_COLUMNS,
            progress_bar(
                _edge_rows(graph, rid, node_ids, edge_hex),
                desc="writing edges",
                total=graph.edge_count,
                unit="edge",
                enabled=progress,
            ),
        )
        report.extra["graph_version"] = _insert_graph_version(conn, rid, graph, source)
        linked = _link_stations(conn, rid)
        if linked is not None:
            report.extra["stations_linked"] = linked
    return report


def road_report(
    region: str, graph: RoadGraph, *, source: str, read_skipped: Mapping[str, int] | None = None
) -> ImportReport:
    """The import report of a built graph: counts, components and what was skipped."""
    report = ImportReport(layer=LAYER, region=region, source=source, imported=graph.edge_count)
    for reason, n in {**(read_skipped or {}), **graph.stats.skipped}.items():
        report.skip(reason, n)
    s = graph.stats
    report.extra.update(
        nodes=graph.node_count,
        edges=graph.edge_count,
        components=s.component_count,
        largest_component_nodes=s.largest_component_nodes,
        dropped_nodes=s.dropped_nodes,
        dropped_edges=s.dropped_edges,
        source_nodes=s.source_nodes,
        source_edges=s.source_edges,
    )
    return report


_EDGE_COLUMNS = [
    "region_id",
    "u",
    "v",
    "osm_way_id",
    "highway",
    "name_en",
    "name_ar",
    "oneway",
    "length_m",
    "speed_kph",
    "travel_time_s",
    "geom",
]


def _hex_ewkb(graph: RoadGraph) -> tuple[np.ndarray, np.ndarray]:
    points = shapely.set_srid(shapely.points(graph.node_lon, graph.node_lat), 4326)
    lines = shapely.set_srid(graph.geometry, 4326)
    return (
        shapely.to_wkb(points, hex=True, include_srid=True),
        shapely.to_wkb(lines, hex=True, include_srid=True),
    )


def _delete_roads(conn: Connection, rid: int) -> None:
    conn.execute(text("DELETE FROM road_edge WHERE region_id = :rid"), {"rid": rid})
    conn.execute(text("DELETE FROM road_node WHERE region_id = :rid"), {"rid": rid})


def _reserve_node_ids(conn: Connection, n: int) -> np.ndarray:
    rows = (
        conn.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence('road_node', 'id')) "
                "FROM generate_series(1, :n)"
            ),
            {"n": n},
        )
        .scalars()
        .all()
    )
    return np.asarray(rows, dtype=np.int64)


def _optional_ids(ids: np.ndarray) -> list[int | None]:
    return [None if i < 0 else i for i in ids.tolist()]


def _node_rows(
    graph: RoadGraph, rid: int, node_ids: np.ndarray, hexes: np.ndarray
) -> Iterator[tuple[Any, ...]]:
    return zip(
        node_ids.tolist(),
        [rid] * graph.node_count,
        _optional_ids(graph.node_osm_id),
        hexes.tolist(),
        strict=True,
    )


def _edge_rows(
    graph: RoadGraph, rid: int, node_ids: np.ndarray, hexes: np.ndarray
) -> Iterator[tuple[Any, ...]]:
    return zip(
        [rid] * graph.edge_count,
        node_ids[graph.u].tolist(),
        node_ids[graph.v].tolist(),
        _optional_ids(graph.osm_way_id),
        graph.highway.tolist(),
        graph.name_en.tolist(),
        graph.name_ar.tolist(),
        graph.oneway.tolist(),
        graph.length_m.tolist(),
        graph.speed_kph.tolist(),
        graph.travel_time_s.tolist(),
        hexes.tolist(),
        strict=True,
    )


def _insert_graph_version(conn: Connection, rid: int, graph: RoadGraph, source: str) -> int:
    row = conn.execute(
        text("""
            INSERT INTO graph_version (region_id, version, source, node_count, edge_count,
                                       component_count, dropped_node_count)
            SELECT :rid, coalesce(max(version), 0) + 1, :source, :nodes, :edges, :comps,
                   :dropped
            FROM graph_version WHERE region_id = :rid
            RETURNING version
        """),
        {
            "rid": rid,
            "source": source,
            "nodes": graph.node_count,
            "edges": graph.edge_count,
            "comps": graph.stats.component_count,
            "dropped": graph.stats.dropped_nodes,
        },
    ).one()
    return int(row[0])


def _link_stations(conn: Connection, rid: int) -> int | None:
    """Relink the region's stations to the new road nodes (None: no station linker)."""
    try:
        from najda.ingest.stations import link_stations_to_roads
    except ImportError as exc:
        if exc.name != "najda.ingest.stations":
            raise  # the module exists but one of its own imports is broken
        return None
    linked = link_stations_to_roads(conn, rid)
    return int(linked) if isinstance(linked, int) else None
