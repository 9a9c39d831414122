"""Compile (or load from numba's on-disk cache) every compiled routine of routing once
per process, so no request pays for it: the search kernel and the snapping query."""

from __future__ import annotations

import time

from najda.routing import kernel, snap_grid

_done = False


def warm_up() -> float:
    """Seconds it took (0 after the first call in a process)."""
    global _done
    if _done:
        return 0.0
    started = time.perf_counter()
    kernel.warm_up()
    snap_grid.warm_up()
    _done = True
    return time.perf_counter() - started
