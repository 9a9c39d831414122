"""Getting a server ready before it takes requests, and sharing that work with its workers.

:func:`warm_app` runs in the gunicorn master (``preload_app``) before any worker is forked:
it compiles the routing kernels, loads (or maps, from the graph store) every region's
road graph and builds what a first recommendation needs (the reverse and forward search
arrays, the snapping index). Workers are then forked with all of it in shared pages, so
the first recommendation a worker answers is as fast as the hundredth, and four workers
cost little more memory than one. :func:`after_fork` gives each worker its own database
connections (a pool must never be shared across a fork).
"""

from __future__ import annotations

import gc
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy import text

from najda.routing.graph import FREE_FLOW, search_for
from najda.routing.snap import snap_index
from najda.routing.warm import warm_up

log = logging.getLogger(__name__)

_REGIONS_WITH_GRAPHS = text("""
    SELECT DISTINCT r.code FROM region r JOIN graph_version g ON g.region_id = r.id ORDER BY 1
""")


@dataclass
class WarmReport:
    seconds: float = 0.0
    compile_seconds: float = 0.0
    regions: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None


def warm_app(app: Flask) -> WarmReport:
    """Compile, load every region's graph and its search and snap structures.

    Never raises: a server whose database is down at start still starts (graphs then
    load on first use); the report says what went wrong.
    """
    from najda.web.api.routing_adapter import graph_source
    from najda.web.state import engine

    started = time.perf_counter()
    report = WarmReport(compile_seconds=warm_up())
    with app.app_context():
        eng = engine()
        try:
            with eng.connect() as conn:
                regions = list(conn.execute(_REGIONS_WITH_GRAPHS).scalars())
            for region in regions:
                report.regions[region] = _warm_region(graph_source().get(eng, region))
        except Exception as exc:
            report.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            log.warning("warm-up incomplete: %s", report.error)
        finally:
            eng.dispose()  # the master keeps no connection; each worker opens its own
    report.seconds = time.perf_counter() - started
    return report


def _warm_region(graph: Any) -> dict[str, Any]:
    t0 = time.perf_counter()
    snap_index(graph)
    search_for(graph, graph.travel_time_s, FREE_FLOW, reverse=True)
    search_for(graph, graph.travel_time_s, FREE_FLOW, reverse=False)
    return {
        "nodes": graph.node_count,
        "edges": graph.edge_count,
        "stored": str(graph.store_dir) if graph.store_dir else None,
        "seconds": round(time.perf_counter() - t0, 3),
    }


def freeze_for_fork() -> None:
    """Keep the master's objects out of the workers' garbage collections, so their pages
    stay shared instead of being copied when a collection touches them."""
    gc.collect()
    gc.freeze()


def after_fork(app: Flask) -> None:
    """In a new worker: drop the connections inherited from the master, unused."""
    app.extensions["najda"].engine.dispose(close=False)
