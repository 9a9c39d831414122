"""A compiled, resumable, bounded multi-source Dijkstra over CSR arrays (numba).

:class:`Walker` runs one search over a graph's CSR arrays (``indptr``, ``indices``,
``weight``) from several start nodes, each with its own initial time (the partial edge
to the first node), and settles nodes in time order up to a bound; :meth:`Walker.advance`
with a larger bound carries on where the last call stopped (the heap is kept), so a bound
that has to grow costs only the extra nodes, not a new search. Its results equal
:func:`scipy.sparse.csgraph.dijkstra` with a virtual source and the same ``limit``: nodes
within the bound get the same times, to the last bit (both take the minimum over paths of
the same left-to-right float sums, and float addition is monotone); others stay ``inf``.
Predecessors may differ only between paths of exactly equal time.

A walker's search costs nothing O(nodes) per call: the dense ``dist``/``pred`` arrays
live in a :class:`Scratch` kept with the graph (a :class:`ScratchPool`) and reset only
where the last search touched it (only :meth:`Csr.run`, which returns dense copies, is
O(nodes)). A scratch is taken from the pool for the duration of one search, so threads
(the web server's) never share one; the compiled code releases the GIL.

Compilation is cached on disk (``cache=True``; numba falls back to its user-wide cache
directory when the package's is not writable). :func:`warm_up` compiles or loads the
kernel once per process, when a graph loads, so the first ranking is not slow;
``compile_seconds`` records what it cost. Without numba (or with
``NAJDA_ROUTING_KERNEL=scipy``) :data:`AVAILABLE` is False and callers use scipy.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
Int32Array = NDArray[np.int32]

NO_PRED = -9999  # scipy's "no predecessor"
_UNSEEN = -1
_SETTLED = -2

try:  # pragma: no branch - numba is a dependency; the fallback keeps scipy working
    import numba

    _HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    numba = None  # type: ignore[assignment]
    _HAVE_NUMBA = False

AVAILABLE = _HAVE_NUMBA and os.environ.get("NAJDA_ROUTING_KERNEL", "numba").lower() != "scipy"
compile_seconds: float | None = None


def frozen(values: Any, dtype: Any) -> NDArray[Any]:
    """``values`` as a read-only, C-contiguous plain ndarray of ``dtype`` (no copy when it
    already is one, e.g. a memory-mapped file).

    Graph arrays are always handed to compiled code read-only, whether built in memory
    or memory-mapped from a graph store: numba compiles one version per read-only-ness,
    so one convention means one compilation (done by :func:`warm_up`).
    """
    array = np.ascontiguousarray(values, dtype=dtype).view(np.ndarray)
    if array.flags.writeable:
        array = array.view()
        array.flags.writeable = False
    return array


def njit(fn: Any) -> Any:
    """Compile ``fn`` with numba (cached on disk, releasing the GIL), or leave it as plain
    Python when numba is missing."""
    if not _HAVE_NUMBA:  # pragma: no cover
        return fn
    return numba.njit(cache=True, nogil=True)(fn)


_njit = njit


@_njit
def _sift_up(i, d, node, hk, hn, pos):
    """Put ``node`` with key ``d`` at heap slot ``i`` or above (a binary min-heap with
    keys ``hk`` and nodes ``hn`` side by side; ``pos`` is each node's slot)."""
    while i > 0:
        p = (i - 1) >> 1
        if hk[p] <= d:
            break
        hk[i] = hk[p]
        other = hn[p]
        hn[i] = other
        pos[other] = i
        i = p
    hk[i] = d
    hn[i] = node
    pos[node] = i


@_njit
def _start(nodes, offsets, virtual, pred, pos, hk, hn, touched, st):
    """Seed the heap with the start nodes (the cheapest offset wins at a repeated node)."""
    size, nt = st[0], st[1]
    for j in range(nodes.shape[0]):
        v, d = nodes[j], offsets[j]
        i = pos[v]
        if i == _UNSEEN:
            touched[nt] = v
            nt += 1
            i = size
            size += 1
        elif not d < hk[i]:
            continue
        pred[v] = virtual
        _sift_up(i, d, v, hk, hn, pos)
    st[0], st[1] = size, nt


@_njit
def _walk(
    indptr, indices, weight, limit, dist, pred, pos, hk, hn, touched, st,
    track, tfirst, unode, uadd, ueta, member, need,
):  # fmt: skip
    """Settle nodes in time order while the smallest time is <= ``limit``; with
    ``track``, stop earlier, as soon as every group has its ``need`` units certain.

    ``st`` = [heap size, touched count, settled count]. Nodes beyond where it stopped
    stay in the heap (at their tentative times) for the next call.

    Tracking: unit ``i`` can finish from node ``unode[i, c]`` (-1: no such option) in
    ``uadd[i, c]`` more seconds, or in ``ueta[i]`` without the network (``inf`` when
    not). Its ETA is certain once no unsettled node is sooner: then it counts for every
    group ``g`` with ``member[i, g]`` (units in no group are not followed). Returns the
    ETA of the unit that met the last group (the tightest bound that holds ``need``
    certain units in each group), or ``inf`` when the groups cannot be met; ``ueta`` is
    left holding each followed unit's best time found. ``tfirst`` (per node, all -1) links
    the options by node (all -1 again on return). Without
    tracking, returns ``inf``.

    The relaxation and the heap operations are written out here: calls cost measurably
    in this loop.
    """
    size, nt, settled = st[0], st[1], st[2]
    n_units = ueta.shape[0]
    n_opt = unode.shape[1]
    n_groups = need.shape[0]
    unmet = 0
    for g in range(n_groups):
        if need[g] > 0:
            unmet += 1
    # units: a lazy binary heap of (eta, unit); stale entries are skipped when popped
    cap = n_units * (n_opt + 1) if track else 0
    uk = np.empty(cap)
    uu = np.empty(cap, dtype=np.int32)
    usize = 0
    tnext = np.empty(n_units * n_opt if track else 0, dtype=np.int32)
    done = np.zeros(n_units if track else 0, dtype=np.uint8)
    count = np.zeros(n_groups, dtype=np.int64)
    result = np.inf
    for i in range(n_units if track else 0):
        followed = False
        for g in range(n_groups):
            if member[i, g]:
                followed = True
        if not followed:
            continue
        for c in range(n_opt):
            x = unode[i, c]
            if x >= 0:
                j = i * n_opt + c
                tnext[j] = tfirst[x]
                tfirst[x] = j
        if ueta[i] < np.inf:
            c = ueta[i]
            k = usize
            usize += 1
            while k > 0:
                p = (k - 1) >> 1
                if uk[p] <= c:
                    break
                uk[k] = uk[p]
                uu[k] = uu[p]
                k = p
            uk[k] = c
            uu[k] = i
    while True:
        top = hk[0] if size > 0 else np.inf
        if track:
            # every unit whose ETA is <= the smallest unsettled time is certain
            while usize > 0 and uk[0] <= top and unmet > 0:
                c = uk[0]
                i = uu[0]
                usize -= 1
                lk = uk[usize]
                lu = uu[usize]
                k = 0
                while True:
                    ch = 2 * k + 1
                    if ch >= usize:
                        break
                    if ch + 1 < usize and uk[ch + 1] < uk[ch]:
                        ch += 1
                    if uk[ch] >= lk:
                        break
                    uk[k] = uk[ch]
                    uu[k] = uu[ch]
                    k = ch
                uk[k] = lk
                uu[k] = lu
                if done[i] or c != ueta[i]:
                    continue
                done[i] = 1
                for g in range(need.shape[0]):
                    if member[i, g]:
                        count[g] += 1
                        if count[g] == need[g]:
                            unmet -= 1
                if unmet == 0:
                    result = c
            if unmet == 0:
                break
        if size == 0 or top > limit:
            break
        # pop the root: move the last entry down from the top
        u = hn[0]
        du = top
        size -= 1
        lk = hk[size]
        ln = hn[size]
        if size > 0:
            i = 0
            while True:
                c = 2 * i + 1
                if c >= size:
                    break
                kc = hk[c]
                if c + 1 < size and hk[c + 1] < kc:
                    c += 1
                    kc = hk[c]
                if kc >= lk:
                    break
                hk[i] = kc
                other = hn[c]
                hn[i] = other
                pos[other] = i
                i = c
            hk[i] = lk
            hn[i] = ln
            pos[ln] = i
        pos[u] = _SETTLED
        dist[u] = du
        settled += 1
        if track:
            j = tfirst[u]
            while j >= 0:
                i = j // n_opt
                c = du + uadd[i, j - i * n_opt]
                if c < ueta[i]:
                    ueta[i] = c
                    k = usize
                    usize += 1
                    while k > 0:
                        p = (k - 1) >> 1
                        if uk[p] <= c:
                            break
                        uk[k] = uk[p]
                        uu[k] = uu[p]
                        k = p
                    uk[k] = c
                    uu[k] = i
                j = tnext[j]
        for j in range(indptr[u], indptr[u + 1]):
            v = indices[j]
            i = pos[v]
            if i == _SETTLED:
                continue
            d = du + weight[j]
            if i == _UNSEEN:
                touched[nt] = v
                nt += 1
                i = size
                size += 1
            elif not d < hk[i]:
                continue
            pred[v] = u
            # sift up (as _sift_up)
            while i > 0:
                p = (i - 1) >> 1
                if hk[p] <= d:
                    break
                hk[i] = hk[p]
                other = hn[p]
                hn[i] = other
                pos[other] = i
                i = p
            hk[i] = d
            hn[i] = v
            pos[v] = i
    st[0], st[1], st[2] = size, nt, settled
    for i in range(n_units if track else 0):
        for c in range(n_opt):
            x = unode[i, c]
            if x >= 0:
                tfirst[x] = -1
    return result


@_njit
def _reset(dist, pred, pos, touched, st):
    for j in range(st[1]):
        x = touched[j]
        dist[x] = np.inf
        pred[x] = NO_PRED
        pos[x] = _UNSEEN
    st[0] = 0
    st[1] = 0
    st[2] = 0


_NO_NODE = np.zeros((0, 3), dtype=np.int32)
_NO_ADD = np.zeros((0, 3))
_NO_ETA = np.zeros(0)
_NO_MEMBER = np.zeros((0, 0), dtype=np.uint8)
_NO_NEED = np.zeros(0, dtype=np.int64)


class Scratch:
    """Per-search working arrays for ``n`` nodes, all-``inf``/unseen between searches."""

    __slots__ = ("dist", "hk", "hn", "pos", "pred", "st", "tfirst", "touched")

    def __init__(self, n: int) -> None:
        self.dist = np.full(n, np.inf)
        self.pred = np.full(n, NO_PRED, dtype=np.int32)
        self.pos = np.full(n, _UNSEEN, dtype=np.int32)
        self.hk = np.zeros(n)  # heap keys
        self.hn = np.zeros(n, dtype=np.int32)  # heap nodes
        self.touched = np.zeros(n, dtype=np.int32)
        self.tfirst = np.full(n, -1, dtype=np.int32)  # first target entry per node
        self.st = np.zeros(3, dtype=np.int64)

    def reset(self) -> None:
        _reset(self.dist, self.pred, self.pos, self.touched, self.st)


class ScratchPool:
    """Scratches for graphs of ``n`` nodes, one per search running at a time (shared by
    every direction and profile of a graph: a scratch only depends on ``n``). It grows to
    the largest number of searches that ran at once (36 bytes per node each)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._free: list[Scratch] = []
        self._lock = threading.Lock()

    def take(self) -> Scratch:
        with self._lock:
            if self._free:
                return self._free.pop()
        return Scratch(self.n)

    def give_back(self, scratch: Scratch) -> None:
        scratch.reset()
        with self._lock:
            self._free.append(scratch)

    def __len__(self) -> int:
        return len(self._free)

    def __iter__(self) -> Iterator[Scratch]:
        return iter(list(self._free))


class Csr:
    """CSR arrays of one search direction and weights, and searches on them."""

    def __init__(
        self, indptr: Any, indices: Any, weight: Any, *, pool: ScratchPool | None = None
    ) -> None:
        self.indptr = frozen(indptr, np.int32)
        self.indices = frozen(indices, np.int32)
        self.weight = frozen(weight, np.float64)
        self.n = int(self.indptr.size - 1)
        if pool is not None and pool.n != self.n:
            raise ValueError("scratch pool for another node count")
        self._pool = pool if pool is not None else ScratchPool(self.n)

    def walker(self, nodes: Any, offsets: Any) -> Walker:
        """A search from ``nodes`` with initial times ``offsets`` (use it as a context
        manager: its arrays go back to the pool on exit)."""
        return Walker(self, self._pool.take(), nodes, offsets)

    def _give_back(self, scratch: Scratch) -> None:
        self._pool.give_back(scratch)

    def run(
        self, nodes: Any, offsets: Any, *, limit: float = math.inf
    ) -> tuple[FloatArray, Int32Array]:
        """Dense (distances, predecessors) of length ``n + 1`` (index ``n`` is the
        virtual source), as :meth:`najda.routing.graph.Search.run` returns them."""
        with self.walker(nodes, offsets) as w:
            w.advance(limit)
            dist = np.empty(self.n + 1)
            pred = np.empty(self.n + 1, dtype=np.int32)
            dist[:-1] = w.dist
            pred[:-1] = w.pred
        dist[-1] = 0.0
        pred[-1] = NO_PRED
        # nodes found but beyond the bound have a tentative predecessor; scipy has none
        pred[:-1][np.isinf(dist[:-1])] = NO_PRED
        return dist, pred


class Walker:
    """One search in progress. ``dist`` and ``pred`` are the scratch's arrays (length
    ``n``; the start nodes' predecessor is ``n``, the virtual source): valid only until
    the walker is closed, so copy what must outlive it."""

    __slots__ = ("_csr", "_scratch", "limit")

    def __init__(self, csr: Csr, scratch: Scratch, nodes: Any, offsets: Any) -> None:
        self._csr = csr
        self._scratch = scratch
        self.limit = -math.inf
        s = scratch
        _start(
            np.ascontiguousarray(nodes, dtype=np.int32),
            np.ascontiguousarray(offsets, dtype=np.float64),
            csr.n,
            s.pred,
            s.pos,
            s.hk,
            s.hn,
            s.touched,
            s.st,
        )

    @property
    def dist(self) -> FloatArray:
        return self._scratch.dist

    @property
    def pred(self) -> Int32Array:
        return self._scratch.pred

    @property
    def settled(self) -> int:
        return int(self._scratch.st[2])

    def advance(self, limit: float) -> None:
        """Settle every node whose time is <= ``limit`` (carrying on from the last call)."""
        c, s = self._csr, self._scratch
        _walk(
            c.indptr, c.indices, c.weight, float(limit), s.dist, s.pred, s.pos, s.hk, s.hn,
            s.touched, s.st, False, s.tfirst, _NO_NODE, _NO_ADD, _NO_ETA, _NO_MEMBER, _NO_NEED,
        )  # fmt: skip
        self.limit = max(self.limit, float(limit))

    def until_certain(
        self,
        nodes: Int32Array,
        adds: FloatArray,
        eta: FloatArray,
        member: NDArray[np.bool_],
        need: NDArray[np.int64],
        *,
        limit: float = math.inf,
    ) -> float:
        """Search until every group has ``need[g]`` units of certain ETA.

        Unit ``i`` can finish from node ``nodes[i, c]`` (-1: not an option) in
        ``adds[i, c]`` more seconds, or in ``eta[i]`` without the network;
        ``member[i, g]`` says it counts for group ``g``. Returns the smallest bound that
        makes each group's ``need`` units certain (the ETA of the unit that met the last
        group), or ``inf`` when the groups cannot be met within ``limit``. Every node
        under the bound is settled; :meth:`advance` to it settles those exactly at it
        (ties), after which the search is what ``advance(bound)`` alone would give.
        ``eta`` is updated in place.
        """
        c, s = self._csr, self._scratch
        bound = _walk(
            c.indptr, c.indices, c.weight, float(limit), s.dist, s.pred, s.pos, s.hk, s.hn,
            s.touched, s.st, True, s.tfirst, np.ascontiguousarray(nodes, np.int32),
            np.ascontiguousarray(adds, np.float64), eta, np.ascontiguousarray(member).view(np.uint8),
            np.ascontiguousarray(need, np.int64),
        )  # fmt: skip
        return float(bound)

    def close(self) -> None:
        scratch, self._scratch = self._scratch, None  # type: ignore[assignment]
        if scratch is not None:
            self._csr._give_back(scratch)

    def __enter__(self) -> Walker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_warm_lock = threading.Lock()


def warm_up() -> float | None:
    """Compile (or load from the on-disk cache) the kernel once per process; returns the
    seconds it took the first time (``None`` when the kernel is not in use)."""
    global compile_seconds
    if not AVAILABLE:
        return None
    with _warm_lock:
        if compile_seconds is None:
            started = time.perf_counter()
            csr = Csr([0, 1, 2, 2], [1, 2], [1.0, 2.0])
            csr.run([0], [0.5], limit=1.0)
            with csr.walker(np.array([0], np.int32), np.array([0.0])) as w:
                w.until_certain(
                    np.array([[2, -1, -1]], np.int32),
                    np.array([[1.0, np.inf, np.inf]]),
                    np.array([np.inf]),
                    np.ones((1, 1), bool),
                    np.ones(1, np.int64),
                )
                w.advance(math.inf)
            compile_seconds = time.perf_counter() - started
            log.info(
                "routing kernel ready in %.2f s (numba %s)", compile_seconds, numba.__version__
            )
    return compile_seconds
