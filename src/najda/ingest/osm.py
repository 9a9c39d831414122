"""Readers that turn OpenStreetMap road data into a plain list of ways.

Four sources feed the same road-graph builder (:mod:`najda.ingest.roads`):

- OSM PBF and OSM XML files, read with pyosmium (:func:`read_osm_file`); node ids may
  be negative (files converted from GIS layers number their nodes -1, -2, ...);
- a GeoJSON of OSM ways without node ids (:func:`read_geojson_ways`): ways share
  vertices by coordinates, so vertices are keyed by coordinates rounded to 1e-7 degrees;
- a GIS road layer, Shapefile or GeoPackage (:func:`read_vector_ways`), with OSM-style
  columns (``highway``, ``oneway``...) or the imposm layout of OSM extracts (``type`` =
  the highway class, ``oneway`` 1 / 0 / -1, ``bridge`` and ``tunnel`` 1 / 0, ``class``
  = the key of ``type`` when it is not ``highway``); vertices keyed by coordinates too;
- an osmnx ``MultiDiGraph`` (:func:`ways_from_osmnx`), downloaded or read from XML.

Every reader keeps ways that carry a ``highway`` tag and leaves the choice of drivable
classes to the builder, so that what was skipped, and why, is counted in one place.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from najda.errors import ImportFailed
from najda.ingest.base import progress as progress_bar

OSM_SUFFIXES = {".pbf": "pbf", ".osm": "osm", ".xml": "osm"}
GEOJSON_SUFFIXES = {".geojson", ".json"}
VECTOR_SUFFIXES = {".shp", ".gpkg"}
_COMPRESSION = {".gz": "gz", ".bz2": "bz2"}


@dataclass(frozen=True, slots=True)
class OsmWay:
    """One OSM way (or the part of it whose nodes the source holds).

    Attributes
    ----------
    osm_id
        The OSM way id, when the source has it.
    tags
        The way's tags as strings (``highway``, ``oneway``, ``maxspeed``, ``name``...).
    coords
        Array of shape (n, 2): longitude, latitude in EPSG:4326, n >= 2.
    node_ids
        Array of n OSM node ids, or None when vertices are keyed by coordinates.
    """

    osm_id: int | None
    tags: Mapping[str, str]
    coords: np.ndarray
    node_ids: np.ndarray | None = None


def read_ways(
    path: str | Path,
    *,
    progress: bool | None = None,
    skipped: MutableMapping[str, int] | None = None,
) -> list[OsmWay]:
    """Ways with a ``highway`` tag from a file, the format chosen by its suffix.

    Parameters
    ----------
    path
        ``.osm.pbf`` / ``.pbf``, ``.osm`` / ``.xml`` (optionally ``.gz`` / ``.bz2``),
        ``.geojson`` / ``.json``, or a Shapefile (``.shp``) or GeoPackage (``.gpkg``).
    progress
        Show a progress bar (default: when stderr is a terminal).
    skipped
        Counts of what was left out, by reason, are added here.

    Raises
    ------
    ImportFailed
        The suffix is unknown or the file cannot be read as that format.
    """
    p = Path(path)
    if osm_format(p) is not None:
        return read_osm_file(p, progress=progress, skipped=skipped)
    if p.suffix.lower() in GEOJSON_SUFFIXES:
        return read_geojson_ways(p, progress=progress, skipped=skipped)
    if p.suffix.lower() in VECTOR_SUFFIXES:
        return read_vector_ways(p, progress=progress, skipped=skipped)
    raise ImportFailed(
        f"unknown road file format {p.suffix or '(no suffix)'!r}: use .pbf, .osm, .xml, "
        f".geojson, .json, .shp or .gpkg",
        details={"path": str(p)},
    )


def osm_format(path: Path) -> str | None:
    """The pyosmium format string for ``path`` ("pbf", "osm", "osm.gz"...), else None."""
    suffixes = [s.lower() for s in path.suffixes]
    compression = _COMPRESSION.get(suffixes[-1]) if suffixes else None
    if compression is not None:
        suffixes = suffixes[:-1]
    fmt = OSM_SUFFIXES.get(suffixes[-1]) if suffixes else None
    if fmt is None or (compression and fmt == "pbf"):
        return None
    return f"{fmt}.{compression}" if compression else fmt


# -- OSM PBF / XML -------------------------------------------------------------------------
def read_osm_file(
    path: str | Path,
    *,
    progress: bool | None = None,
    skipped: MutableMapping[str, int] | None = None,
) -> list[OsmWay]:
    """Ways with a ``highway`` tag from an OSM PBF or XML file, with node locations.

    A way whose nodes are partly missing from the file (cut at the edge of an extract)
    is kept as its runs of located nodes; what is lost is counted in ``skipped``.
    Nodes with negative ids (files made by converters and editors) are located too.

    Raises
    ------
    ImportFailed
        The file cannot be parsed as OSM data.
    """
    p = Path(path)
    fmt = osm_format(p)
    if fmt is None:
        raise ImportFailed(f"not an OSM PBF or XML file name: {p.name}", details={"path": str(p)})
    counts = skipped if skipped is not None else {}
    try:
        raw = [
            _raw_way(obj)
            for obj in progress_bar(
                _highway_ways(p, fmt), desc="reading ways", unit="way", enabled=progress
            )
        ]
        ways = _locate(raw, lambda: _negative_nodes(p, fmt))
    except (RuntimeError, ValueError, OSError) as exc:
        kind = "PBF" if fmt == "pbf" else "XML"
        raise ImportFailed(
            f"cannot read {p.name} as OSM {kind}: {_first_line(exc)}", details={"path": str(p)}
        ) from exc
    return [w for way in ways for w in _located_runs(way, counts)]


def _highway_ways(path: Path, fmt: str) -> Iterator[Any]:
    import osmium

    entities = osmium.osm.NODE | osmium.osm.WAY
    processor = (
        osmium.FileProcessor(osmium.io.File(str(path), fmt), entities)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    yield from processor


# osmium's fixed-point coordinates: 1e-7 degrees, and the value of an unknown location
_OSMIUM_SCALE = 1e7
_UNDEFINED = 2_147_483_647


@dataclass(frozen=True, slots=True)
class _RawWay:
    """A way as read: node refs and osmium's integer coordinates (unknown: _UNDEFINED)."""

    osm_id: int
    tags: dict[str, str]
    refs: np.ndarray
    xy: np.ndarray


def _raw_way(way: Any) -> _RawWay:
    nodes = np.array(
        [(n.ref, n.location.x, n.location.y) for n in way.nodes], dtype=np.int64
    ).reshape(-1, 3)
    return _RawWay(int(way.id), {t.k: t.v for t in way.tags}, nodes[:, 0], nodes[:, 1:])


def _locate(
    raw: list[_RawWay], negative_nodes: Callable[[], tuple[np.ndarray, np.ndarray]]
) -> list[_RawWay]:
    """The ways with the locations of nodes with negative ids filled in.

    pyosmium's location cache keeps positive ids only. Only when a way refers to a
    negative id without a location is the file read again (``negative_nodes``).
    """
    if not raw:
        return raw
    refs = np.concatenate([w.refs for w in raw])
    xy = np.concatenate([w.xy for w in raw])
    missing = np.flatnonzero((refs < 0) & (xy[:, 0] == _UNDEFINED))
    if missing.size == 0:
        return raw
    ids, located = negative_nodes()
    if ids.size:
        order = np.argsort(ids)
        ids, located = ids[order], located[order]
        at = np.minimum(np.searchsorted(ids, refs[missing]), ids.size - 1)
        found = ids[at] == refs[missing]
        xy[missing[found]] = located[at[found]]
    bounds = np.cumsum([w.refs.size for w in raw])[:-1]
    return [
        _RawWay(w.osm_id, w.tags, w.refs, part)
        for w, part in zip(raw, np.split(xy, bounds), strict=True)
    ]


def _negative_nodes(path: Path, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """Ids and integer coordinates of every located node of the file with a negative id."""
    import osmium

    nodes: Iterator[Any] = iter(
        osmium.FileProcessor(osmium.io.File(str(path), fmt), osmium.osm.NODE)
    )
    rows = [(n.id, n.location.x, n.location.y) for n in nodes if n.id < 0]
    table = np.array(rows, dtype=np.int64).reshape(-1, 3)
    table = table[table[:, 1] != _UNDEFINED]
    return table[:, 0], table[:, 1:]


def _located_runs(way: _RawWay, skipped: MutableMapping[str, int]) -> Iterator[OsmWay]:
    """The way split into runs of nodes that have a location in the file."""
    valid = way.xy[:, 0] != _UNDEFINED
    coords = way.xy / _OSMIUM_SCALE
    if valid.all():
        if valid.size >= 2:
            yield OsmWay(way.osm_id, way.tags, coords, way.refs)
        return
    _count(skipped, "way_nodes_missing_from_file")
    for start, stop in _true_runs(valid):
        if stop - start >= 2:
            yield OsmWay(way.osm_id, way.tags, coords[start:stop], way.refs[start:stop])


def _true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in ``mask``."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


# -- GeoJSON of OSM ways -------------------------------------------------------------------
def read_geojson_ways(
    path: str | Path,
    *,
    progress: bool | None = None,
    skipped: MutableMapping[str, int] | None = None,
) -> list[OsmWay]:
    """Ways from a GeoJSON FeatureCollection of OSM ways (LineString features).

    Tags are the feature's properties (and a nested ``tags`` object, as Overpass
    exports have); the way id comes from ``osm_id``, ``osmid``, ``@id`` or ``id``.

    Raises
    ------
    ImportFailed
        The file is not a GeoJSON FeatureCollection, or has no LineString feature.
    """
    p = Path(path)
    features = _load_features(p)
    counts = skipped if skipped is not None else {}
    ways: list[OsmWay] = []
    kinds: dict[str, int] = {}
    for feature in progress_bar(features, desc="reading ways", unit="way", enabled=progress):
        _collect_feature(feature, ways, counts, kinds)
    if not ways:
        found = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no features"
        raise ImportFailed(
            f"{p.name} has no LineString road features ({found})",
            details={"path": str(p), "geometry_types": kinds},
        )
    return ways


def _load_features(path: Path) -> list[Any]:
    try:
        with path.open("rb") as fh:
            data = json.load(fh)
    except (UnicodeDecodeError, json.JSONDecodeError, OSError) as exc:
        raise ImportFailed(
            f"cannot read {path.name} as GeoJSON: {_first_line(exc)}", details={"path": str(path)}
        ) from exc
    if (
        not isinstance(data, dict)
        or data.get("type") != "FeatureCollection"
        or not isinstance(data.get("features"), list)
    ):
        raise ImportFailed(
            f"{path.name} is not a GeoJSON FeatureCollection", details={"path": str(path)}
        )
    return data["features"]


def _collect_feature(
    feature: Any,
    ways: list[OsmWay],
    skipped: MutableMapping[str, int],
    kinds: MutableMapping[str, int],
) -> None:
    geometry = feature.get("geometry") if isinstance(feature, dict) else None
    if not isinstance(geometry, dict):
        geometry = {}
    kind = geometry.get("type")
    _count(kinds, str(kind))
    if kind not in ("LineString", "MultiLineString"):
        _count(skipped, "geometry_not_linestring")
        return
    raw = geometry.get("coordinates")
    parts = raw if kind == "MultiLineString" and isinstance(raw, list) else [raw]
    props = feature.get("properties")
    tags = _tags_from_properties(props if isinstance(props, dict) else {})
    osm_id = _osm_id(props, feature.get("id"))
    for part in parts:
        coords = _valid_coords(part)
        if coords is None:
            _count(skipped, "invalid_coordinates")
            continue
        ways.append(OsmWay(osm_id, tags, coords))


def _tags_from_properties(props: Mapping[str, Any]) -> dict[str, str]:
    nested = props.get("tags")
    merged = {**props, **nested} if isinstance(nested, dict) else dict(props)
    return {
        str(k): _tag_value(v)
        for k, v in merged.items()
        if v is not None and k != "tags" and not isinstance(v, dict | list)
    }


def _tag_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _osm_id(props: Mapping[str, Any], feature_id: Any) -> int | None:
    for raw in (props.get("osm_id"), props.get("osmid"), props.get("@id"), feature_id):
        if raw is None or isinstance(raw, bool):
            continue
        text = str(raw).rsplit("/", 1)[-1]
        if text.lstrip("-").isdigit():
            return int(text)
    return None


def _valid_coords(raw: Any) -> np.ndarray | None:
    try:
        if isinstance(raw, np.ndarray):
            coords = raw[:, :2].astype(np.float64) if raw.ndim == 2 else raw
        else:
            coords = np.array([c[:2] for c in raw], dtype=np.float64)
    except (TypeError, ValueError, IndexError):
        return None
    if (
        coords.ndim != 2
        or coords.shape[0] < 2
        or coords.shape[1] != 2
        or not np.isfinite(coords).all()
        or (np.abs(coords[:, 0]) > 180).any()
        or (np.abs(coords[:, 1]) > 90).any()
    ):
        return None
    return coords


# -- GIS road layers (Shapefile, GeoPackage) ----------------------------------------------
# imposm writes these tags as numbers; 0 stands for "no" and for "not tagged" alike, so it
# becomes no tag and OSM's implied rules (motorways, roundabouts) still apply
_IMPOSM_FLAGS = {"oneway": {"1": "yes", "-1": "-1"}, "bridge": {"1": "yes"}, "tunnel": {"1": "yes"}}
_NOT_TAGS = ("id", "fid", "z_order", "osm_id", "osm_type")


def read_vector_ways(
    path: str | Path,
    *,
    progress: bool | None = None,
    skipped: MutableMapping[str, int] | None = None,
) -> list[OsmWay]:
    """Ways from a road layer of a Shapefile or GeoPackage, in any CRS.

    The columns are OSM tags (``highway``, ``oneway`` = yes / -1, ``name``...), or the
    imposm layout of OSM extracts: ``type`` is the value of the key named by ``class``
    (``highway`` without that column), ``oneway`` is 1 / 0 / -1, ``bridge`` and
    ``tunnel`` are 1 / 0. The way id comes from ``osm_id``. Text a .dbf holds as UTF-8
    while declaring Latin-1 is read as UTF-8 (see :func:`~najda.ingest.boundaries.read_vector`).

    Raises
    ------
    ImportFailed
        The file cannot be read, or has neither a ``highway`` nor a ``type`` column,
        or no line feature.
    """
    from najda.ingest.boundaries import read_vector

    p = Path(path)
    frame = read_vector(p)
    columns = {str(c).lower(): c for c in frame.columns if c != frame.geometry.name}
    imposm = "highway" not in columns
    if imposm and "type" not in columns:
        raise ImportFailed(
            f"{p.name} has no highway (or imposm type) column; it has "
            f"{', '.join(sorted(columns)) or 'no columns'}",
            details={"path": str(p)},
        )
    counts = skipped if skipped is not None else {}
    values = {key: frame[col].tolist() for key, col in columns.items()}
    rows = (dict(zip(values, row, strict=True)) for row in zip(*values.values(), strict=True))
    ways: list[OsmWay] = []
    geometries = frame.geometry.tolist()
    for geom, row in progress_bar(
        zip(geometries, rows, strict=True),
        desc="reading ways",
        total=len(geometries),
        unit="way",
        enabled=progress,
    ):
        _collect_line(geom, _row_tags(row, imposm=imposm), ways, counts)
    if not ways:
        raise ImportFailed(f"{p.name} has no line features", details={"path": str(p)})
    return ways


def _row_tags(row: Mapping[str, Any], *, imposm: bool) -> dict[str, str]:
    tags = {
        key: _tag_value(value)
        for key, value in row.items()
        if value is not None
        and not (isinstance(value, float) and math.isnan(value))
        and _tag_value(value) != ""
    }
    if imposm:
        kind, key = tags.pop("type", None), tags.pop("class", None) or "highway"
        if kind:
            tags[key] = kind
        for flag, meaning in _IMPOSM_FLAGS.items():
            if flag in tags and (value := meaning.get(tags.pop(flag))) is not None:
                tags[flag] = value
    return tags


def _collect_line(
    geom: Any, tags: dict[str, str], ways: list[OsmWay], skipped: MutableMapping[str, int]
) -> None:
    import shapely

    kind = getattr(geom, "geom_type", None)
    if kind not in ("LineString", "MultiLineString"):
        _count(skipped, "geometry_not_linestring")
        return
    osm_id = _osm_id(tags, None)
    for key in _NOT_TAGS:
        tags.pop(key, None)
    for part in shapely.get_parts(geom):
        coords = _valid_coords(shapely.get_coordinates(part))
        if coords is None:
            _count(skipped, "invalid_coordinates")
            continue
        ways.append(OsmWay(osm_id, tags, coords))


# -- osmnx graphs --------------------------------------------------------------------------
_OSMNX_EXTRA_TAGS = (
    "name:ar",
    "name:en",
    "motor_vehicle",
    "motorcar",
    "oneway",
    "junction",
    "access",
    "area",
    "maxspeed",
    "highway",
    "name",
)


@contextmanager
def osmnx_way_settings(*, cache_folder: Path | None = None) -> Iterator[None]:
    """osmnx settings under which a graph keeps each way's own direction and tags.

    With ``all_oneway`` osmnx adds every way in its node order only and keeps the raw
    ``oneway`` tag, so the builder applies Najda's one-way rules (the same as for
    files). The extra tags (Arabic and English names, access) are kept on edges.
    osmnx settings are module globals: they are restored on exit.
    """
    import osmnx as ox

    saved = (ox.settings.all_oneway, list(ox.settings.useful_tags_way), ox.settings.cache_folder)
    ox.settings.all_oneway = True
    ox.settings.useful_tags_way = list(dict.fromkeys([*saved[1], *_OSMNX_EXTRA_TAGS]))
    if cache_folder is not None:
        ox.settings.cache_folder = cache_folder
    try:
        yield
    finally:
        (ox.settings.all_oneway, ox.settings.useful_tags_way, ox.settings.cache_folder) = saved


def simplify_by_way(graph: Any) -> Any:
    """An unsimplified osmnx graph simplified so that each edge lies on a single way."""
    import osmnx as ox

    return ox.simplify_graph(graph, edge_attrs_differ=["osmid"])


def ways_from_osmnx(graph: Any) -> list[OsmWay]:
    """Way records from an osmnx ``MultiDiGraph`` in longitude/latitude.

    Each osmnx edge becomes one way whose end nodes are the edge's OSM nodes (interior
    vertices get unique negative ids, so the builder splits only at the ends).

    A graph built under :func:`osmnx_way_settings` carries raw ``oneway`` tags and
    edges in way order. A graph built with osmnx defaults carries a boolean
    ``oneway`` and both directions of two-way streets; those are folded back into one
    two-way record each.
    """
    xs = {n: float(d["x"]) for n, d in graph.nodes(data=True)}
    ys = {n: float(d["y"]) for n, d in graph.nodes(data=True)}
    synthetic = iter(range(-1, -(2**62), -1))
    ways: list[OsmWay] = []
    for u, v, data in graph.edges(data=True):
        tags = _osmnx_tags(data)
        if tags is None or _is_reverse_twin(u, v, data):
            continue
        coords = _osmnx_coords(data, (xs[u], ys[u]), (xs[v], ys[v]))
        inner = [next(synthetic) for _ in range(len(coords) - 2)]
        ids = np.array([int(u), *inner, int(v)], dtype=np.int64)
        ways.append(OsmWay(_first_int(data.get("osmid")), tags, coords, ids))
    return ways


def _osmnx_tags(data: Mapping[str, Any]) -> dict[str, str] | None:
    tags: dict[str, str] = {}
    for key, value in data.items():
        if key in ("geometry", "length", "osmid", "reversed", "from", "to") or value is None:
            continue
        if isinstance(value, list):
            value = ";".join(str(x) for x in value) if key == "maxspeed" else value[0]
        if isinstance(value, float) and math.isnan(value):
            continue
        tags[key] = _tag_value(value)
    return tags if "highway" in tags else None


def _is_reverse_twin(u: Any, v: Any, data: Mapping[str, Any]) -> bool:
    """Whether this is the reversed copy osmnx adds for a two-way street (default mode)."""
    if not isinstance(data.get("oneway"), bool) or data["oneway"]:
        return False
    flags = data.get("reversed", False)
    flags = set(flags) if isinstance(flags, list) else {bool(flags)}
    if len(flags) == 1:
        return flags.pop()
    return bool(u > v)


def _osmnx_coords(
    data: Mapping[str, Any], start: tuple[float, float], end: tuple[float, float]
) -> np.ndarray:
    geometry = data.get("geometry")
    if geometry is None:
        return np.array([start, end], dtype=np.float64)
    coords = np.asarray(geometry.coords, dtype=np.float64)[:, :2].copy()
    coords[0], coords[-1] = start, end
    return coords


def _first_int(value: Any) -> int | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return int(value) if value is not None else None


# -- helpers -------------------------------------------------------------------------------
def _count(counts: MutableMapping[str, int], key: str, n: int = 1) -> None:
    counts[key] = counts.get(key, 0) + n


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


def count_tags(ways: Iterable[OsmWay], key: str) -> dict[str, int]:
    """How many ways carry each value of tag ``key`` (for reports and tests)."""
    counts: dict[str, int] = {}
    for way in ways:
        _count(counts, way.tags.get(key, ""))
    return counts
