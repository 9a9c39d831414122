"""Road graphs as files under ``NAJDA_HOME/graphs``: one graph per server, not per worker.

The first process that needs a region's graph at a version loads it from PostGIS and
writes its arrays to a folder of the store (``<region>-v<version>-<digest>``); every
other process, and every later start, memory-maps that folder instead. Pages of a
memory-mapped file live once in the page cache, however many gunicorn workers read
them, and a restart skips the PostGIS load. Structures derived from the graph (the
search arrays, the snapping index) are kept in the same folder by
:meth:`~najda.routing.graph.RoadGraph.derived`.

The folder name carries a digest of the ``graph_version`` row (its id, creation time and
counts), so a re-import, another database or a rebuilt database never reads a stale
graph. Writing is atomic (a folder is complete or absent) and guarded by a file lock,
so of several workers starting at once one loads and the others wait, then map. Old
versions beyond the newest few of a region are removed; processes still mapping them
keep their pages (the files are unlinked, not truncated).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from najda.routing.arrays import folder_bytes, load_arrays, save_arrays
from najda.routing.graph import GraphRef, MetricFrame, RoadGraph, validate

log = logging.getLogger(__name__)

GRAPH_ARRAYS = (
    "node_id",
    "lon",
    "lat",
    "edge_id",
    "edge_u",
    "edge_v",
    "length_m",
    "travel_time_s",
    "highway_code",
    "geom_offsets",
    "geom_xy",
    "twin",
    "component",
)


class GraphStore:
    """Folders of road graphs under ``root``.

    Parameters
    ----------
    root
        The store's folder (``NAJDA_HOME/graphs`` for the server).
    keep
        Versions of one region kept on disk (the newest by last use).
    """

    def __init__(self, root: Path, *, keep: int = 3) -> None:
        self.root = Path(root)
        self.keep = keep

    def folder(self, ref: GraphRef) -> Path:
        digest = hashlib.sha256(ref.fingerprint.encode("utf-8")).hexdigest()[:16]
        return self.root / f"{ref.region}-v{ref.version}-{digest}"

    def open(self, ref: GraphRef, *, snap_limit_m: float) -> RoadGraph | None:
        """The stored graph of ``ref`` memory-mapped, or None when it is not stored."""
        folder = self.folder(ref)
        found = load_arrays(folder)
        if found is None:
            return None
        arrays, meta = found
        if meta.get("fingerprint") != ref.fingerprint:
            return None
        graph = RoadGraph(
            region=meta["region"],
            version=int(meta["version"]),
            frame=MetricFrame(float(meta["lon0"]), float(meta["lat0"])),
            highway_classes=tuple(meta["highway_classes"]),
            snap_limit_m=float(snap_limit_m),
            source=str(meta["source"]),
            fingerprint=ref.fingerprint,
            store_dir=folder,
            **{name: arrays[name] for name in GRAPH_ARRAYS},  # type: ignore[arg-type]
        )
        validate(graph)
        _touch(folder)
        return graph

    def save(self, graph: RoadGraph) -> Path:
        """Write ``graph`` (it needs a fingerprint) unless it is stored already."""
        if not graph.fingerprint:
            raise ValueError("only a graph with a fingerprint can be stored")
        ref = GraphRef(graph.region, 0, graph.version, graph.fingerprint)
        folder = self.folder(ref)
        meta = {
            "region": graph.region,
            "version": graph.version,
            "fingerprint": graph.fingerprint,
            "lon0": graph.frame.lon0,
            "lat0": graph.frame.lat0,
            "highway_classes": list(graph.highway_classes),
            "source": graph.source,
            "nodes": graph.node_count,
            "edges": graph.edge_count,
        }
        arrays = {name: np.asarray(getattr(graph, name)) for name in GRAPH_ARRAYS}
        if save_arrays(folder, arrays, meta):
            log.info("stored road graph %s in %s (%.1f MB)", graph.source, folder, _mb(folder))
        return folder

    def get(
        self, ref: GraphRef, load: Callable[[], RoadGraph], *, snap_limit_m: float
    ) -> RoadGraph:
        """The graph of ``ref``: mapped from the store, else loaded with ``load``,
        stored, and mapped (one process loads; others wait for it, then map)."""
        graph = self.open(ref, snap_limit_m=snap_limit_m)
        if graph is not None:
            return graph
        try:
            with self._locked(ref):
                return self._load_and_store(ref, load, snap_limit_m=snap_limit_m)
        except OSError as exc:  # no usable store (full or read-only disk): serve from memory
            log.warning("graph store %s unusable (%s): loading into memory", self.root, exc)
            return load()

    def _load_and_store(
        self, ref: GraphRef, load: Callable[[], RoadGraph], *, snap_limit_m: float
    ) -> RoadGraph:
        graph = self.open(ref, snap_limit_m=snap_limit_m)
        if graph is not None:  # stored by the process we waited for
            return graph
        loaded = load()
        if not loaded.fingerprint:
            return loaded
        self.save(loaded)
        self.prune(ref.region)
        stored = GraphRef(loaded.region, ref.region_id, loaded.version, loaded.fingerprint)
        return self.open(stored, snap_limit_m=snap_limit_m) or loaded

    def prune(self, region: str) -> list[Path]:
        """Remove all but the :attr:`keep` most recently used folders of ``region``."""
        folders = sorted(
            (p for p in self._folders() if p.name.rsplit("-v", 1)[0] == region),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        removed = folders[self.keep :]
        for folder in removed:
            shutil.rmtree(folder, ignore_errors=True)
        return removed

    def _folders(self) -> Iterator[Path]:
        if self.root.is_dir():
            yield from (p for p in self.root.iterdir() if p.is_dir() and "-v" in p.name)

    @contextmanager
    def _locked(self, ref: GraphRef) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f".{self.folder(ref).name}.lock"
        with open(path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:  # the lock file stays: unlinking it would let two holders in
                fcntl.flock(handle, fcntl.LOCK_UN)


def _touch(folder: Path) -> None:
    with contextlib.suppress(OSError):  # a read-only store
        os.utime(folder)


def _mb(folder: Path) -> float:
    return folder_bytes(folder) / 1e6
