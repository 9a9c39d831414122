"""AVL ingestion benchmark: fixes per second through a real server under gunicorn.

Run with ``.venv/bin/python benchmarks/avl.py`` (``make bench``). It

1. starts its own throwaway PostgreSQL + PostGIS cluster (or uses ``DATABASE_URL`` when
   set, creating its units under a ``BENCH-<pid>-`` call sign and deleting them after),
   migrates it, loads the catalogue and creates ``--units`` units with device
   credentials;
2. starts gunicorn with the project's configuration on a free port of 127.0.0.1;
3. phase *batch*: client threads (in ``--procs`` processes) post batches of ``--batch``
   fixes to ``POST /api/v1/avl/positions`` for ``--seconds``; phase *single*: the same
   with one fix per request, recording each request's latency; phase *resend*: a sample of
   already-acknowledged fixes is sent again (single and in a batch);
4. counts rows in the database per unit and compares them with what the server
   acknowledged: nothing acknowledged may be missing, nothing may be stored twice, and each
   unit's latest position must be its newest fix.

Every request goes to 127.0.0.1; each phase is bounded by time and by request count.
Targets (2 cores): >= 2,000 fixes/s in batches; >= 500 requests/s single with p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from najda.config import project_root
from najda.db.localpg import LocalPostgres
from najda.db.migrate import upgrade
from najda.db.session import make_engine

ROOT = project_root()
STEP_S = 0.1  # fix k of a unit is at base + k * STEP_S


# -- database and server ---------------------------------------------------------------------
@contextmanager
def database() -> Iterator[tuple[Engine, str]]:
    """(engine, URL): DATABASE_URL when set, else a throwaway cluster removed afterwards."""
    url = os.environ.get("DATABASE_URL")
    if url:
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        engine = make_engine(url=url)
        yield engine, url
        engine.dispose()
        return
    home = Path(tempfile.mkdtemp(prefix="najda-avl-bench-", dir="/tmp"))
    os.chmod(home, 0o755)
    cluster = LocalPostgres(home, port=57000 + os.getpid() % 1000)
    cluster.start()
    engine = make_engine(url=cluster.url())
    try:
        yield engine, cluster.url()
    finally:
        engine.dispose()
        cluster.destroy()
        shutil.rmtree(home, ignore_errors=True)


def prepare(engine: Engine, *, units: int, prefix: str) -> list[tuple[int, str]]:
    """Migrated schema, catalogue, and ``units`` units with tokens: [(unit id, token)]."""
    from najda.avl.credentials import issue_credentials
    from najda.dispatch.auth import User
    from najda.ingest.catalogue import import_catalogue

    upgrade(engine)
    import_catalogue(engine, ROOT / "geo_data" / "catalogue")
    admin = User(id=0, username="bench", role="admin")
    with engine.begin() as conn:
        ids = (
            conn.execute(
                text("""
            INSERT INTO unit (call_sign, unit_type_id, agency_id)
            SELECT :p || g, t.id, t.agency_id FROM generate_series(1, :n) g,
                   (SELECT id, agency_id FROM unit_type WHERE code = 'patrol_car') t
            RETURNING id"""),
                {"p": prefix, "n": units},
            )
            .scalars()
            .all()
        )
    return [(i, issue_credentials(engine, unit_id=i, by=admin).token) for i in ids]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """A running server: its port, its master process, seconds it took to answer."""

    port: int
    proc: subprocess.Popen[bytes]
    ready_s: float


@contextmanager
def gunicorn(url: str, *, workers: int, threads: int, home: Path | None = None) -> Iterator[Served]:
    """gunicorn with the project's configuration on a free port (NAJDA_HOME ``home``)."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "NAJDA_BIND": f"127.0.0.1:{port}",
        "NAJDA_WORKERS": str(workers),
        "NAJDA_THREADS": str(threads),
        "NAJDA_LOG_LEVEL": "warning",
        **({"NAJDA_HOME": str(home)} if home is not None else {}),
    }
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:najda.web.gunicorn_conf"],
        env=env,
        cwd=ROOT,
    )
    try:
        wait_ready(port, proc, timeout_s=300)
        yield Served(port, proc, time.perf_counter() - started)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("gunicorn exited during start-up")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer in time")


# -- the load ------------------------------------------------------------------------------
@dataclass
class Work:
    """One client thread's share: its units (so fix times never collide between threads)."""

    port: int
    units: list[tuple[int, str]]
    batch: int
    seconds: float
    max_requests: int
    base: float  # Unix time of fix k = 0
    first_k: int  # where this phase's sequence numbers start


@dataclass
class Outcome:
    requests: int = 0
    fixes: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    acked: dict[int, list[int]] = field(default_factory=dict)  # unit -> k of stored fixes


def _body(units: tuple[int, str], ks: range, base: float) -> bytes:
    fixes = [
        {
            "time": round(base + k * STEP_S, 3),
            "lat": 24.7 + (k % 1000) * 1e-5,
            "lon": 46.6 + (units[0] % 1000) * 1e-4,
            "speed": 10.0,
            "heading": 90.0,
        }
        for k in ks
    ]
    payload: Any = fixes[0] if len(fixes) == 1 else {"fixes": fixes}
    return json.dumps(payload).encode()


def run_thread(work: Work) -> Outcome:
    out = Outcome(acked={u: [] for u, _ in work.units})
    conn = http.client.HTTPConnection("127.0.0.1", work.port, timeout=30)
    next_k = {u: work.first_k for u, _ in work.units}
    start = time.perf_counter()
    deadline = start + work.seconds
    i = 0
    while time.perf_counter() < deadline and out.requests < work.max_requests:
        unit = work.units[i % len(work.units)]
        i += 1
        ks = range(next_k[unit[0]], next_k[unit[0]] + work.batch)
        next_k[unit[0]] = ks.stop
        body = _body(unit, ks, work.base)
        sent = time.perf_counter()
        conn.request(
            "POST",
            "/api/v1/avl/positions",
            body=body,
            headers={"Authorization": f"Bearer {unit[1]}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        answer = response.read()
        out.latencies_ms.append((time.perf_counter() - sent) * 1000)
        out.requests += 1
        if response.status != 200 or json.loads(answer)["stored"] != len(ks):
            out.errors += 1
            continue
        out.fixes += len(ks)
        out.acked[unit[0]].extend(ks)
    out.elapsed = time.perf_counter() - start
    conn.close()
    return out


def run_process(works: list[Work]) -> list[Outcome]:
    results: list[Outcome] = [Outcome()] * len(works)

    def one(i: int) -> None:
        results[i] = run_thread(works[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(works))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def phase(
    port: int,
    units: list[tuple[int, str]],
    *,
    procs: int,
    threads: int,
    batch: int,
    seconds: float,
    max_requests: int,
    base: float,
    first_k: int,
) -> list[Outcome]:
    clients = procs * threads
    shares = [units[i::clients] for i in range(clients)]
    works = [
        Work(port, share, batch, seconds, max_requests // clients, base, first_k)
        for share in shares
    ]
    with mp.get_context("fork").Pool(procs) as pool:
        per_proc = pool.map(
            run_process, [works[p * threads : (p + 1) * threads] for p in range(procs)]
        )
    return [o for outs in per_proc for o in outs]


def summary(name: str, outcomes: list[Outcome]) -> dict[str, float]:
    elapsed = max(o.elapsed for o in outcomes)
    latencies = sorted(x for o in outcomes for x in o.latencies_ms)
    requests = sum(o.requests for o in outcomes)
    result = {
        "requests": requests,
        "fixes": sum(o.fixes for o in outcomes),
        "errors": sum(o.errors for o in outcomes),
        "seconds": elapsed,
        "requests_per_s": requests / elapsed,
        "fixes_per_s": sum(o.fixes for o in outcomes) / elapsed,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }
    print(
        f"{name:7} {result['requests']:7,} requests {result['fixes']:8,} fixes "
        f"in {elapsed:5.1f} s: {result['requests_per_s']:7,.0f} req/s "
        f"{result['fixes_per_s']:7,.0f} fixes/s  p50 {result['p50_ms']:5.1f} ms "
        f"p99 {result['p99_ms']:5.1f} ms  errors {result['errors']}"
    )
    return result


# -- resend and verification ---------------------------------------------------------------------
def resend(
    port: int,
    units: list[tuple[int, str]],
    acked: dict[int, list[int]],
    base: float,
    *,
    sample: int,
) -> tuple[int, int]:
    """Send ``sample`` acknowledged fixes again (alone, then in one batch): (sent, stored)."""
    rng = random.Random(7)
    tokens = dict(units)
    pool = [(u, k) for u, ks in acked.items() for k in ks[:50]]
    picks = rng.sample(pool, min(sample, len(pool)))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    stored = 0
    for u, k in picks:
        conn.request(
            "POST",
            "/api/v1/avl/positions",
            body=_body((u, ""), range(k, k + 1), base),
            headers={"Authorization": f"Bearer {tokens[u]}", "Content-Type": "application/json"},
        )
        stored += json.loads(conn.getresponse().read())["stored"]
    u, ks = next((u, ks) for u, ks in acked.items() if len(ks) >= 20)
    conn.request(
        "POST",
        "/api/v1/avl/positions",
        body=_body((u, ""), range(ks[0], ks[0] + 20), base),
        headers={"Authorization": f"Bearer {tokens[u]}", "Content-Type": "application/json"},
    )
    stored += json.loads(conn.getresponse().read())["stored"]
    conn.close()
    return len(picks) + 20, stored


def verify(
    engine: Engine, acked: dict[int, list[int]], base: float, *, first_k: int
) -> dict[str, int]:
    """Compare stored rows (from sequence ``first_k`` on) with acknowledged fixes."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("""
            WITH p AS (SELECT unit_id, fix_time,
                              round((extract(epoch FROM fix_time) - :base) / :step) AS k
                       FROM position WHERE unit_id = ANY(:ids))
            SELECT p.unit_id, count(*) FILTER (WHERE k >= :first) AS n,
                   count(DISTINCT fix_time) FILTER (WHERE k >= :first) AS distinct_n,
                   sum(k) FILTER (WHERE k >= :first) AS k_sum,
                   max(p.fix_time) AS newest, u.last_fix_at
            FROM p JOIN unit u ON u.id = p.unit_id GROUP BY p.unit_id, u.last_fix_at"""),
            {"base": base, "step": STEP_S, "ids": list(acked), "first": first_k},
        ).all()
    stored = {r.unit_id: r for r in rows}
    report = {
        "acknowledged": sum(len(ks) for ks in acked.values()),
        "stored": 0,
        "missing": 0,
        "duplicated": 0,
        "units_with_wrong_rows": 0,
        "units_whose_latest_is_not_newest": 0,
    }
    for unit, ks in acked.items():
        row = stored.get(unit)
        n = row.n if row else 0
        report["stored"] += n
        report["missing"] += max(0, len(ks) - n)
        report["duplicated"] += (row.n - row.distinct_n) if row else 0
        if n != len(ks) or (row is not None and int(row.k_sum or 0) != sum(ks)):
            report["units_with_wrong_rows"] += 1
        if row is not None and row.last_fix_at != row.newest:
            report["units_whose_latest_is_not_newest"] += 1
    return report


def merge_acked(*phases: list[Outcome]) -> dict[int, list[int]]:
    acked: dict[int, list[int]] = {}
    for outcomes in phases:
        for o in outcomes:
            for unit, ks in o.acked.items():
                acked.setdefault(unit, []).extend(ks)
    return acked


WARM_K, BATCH_K, SINGLE_K = 0, 10_000, 60_000  # sequence ranges of the phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--procs", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=2, help="client threads per process")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--server-threads", type=int, default=4)
    parser.add_argument("--max-requests", type=int, default=40_000)
    args = parser.parse_args()

    prefix = f"BENCH-{os.getpid()}-"
    base = (datetime.now(UTC) - timedelta(hours=6)).timestamp()
    print(
        f"AVL benchmark on {os.cpu_count()} cores: {args.units} units, gunicorn "
        f"{args.workers} workers x {args.server_threads} threads, clients "
        f"{args.procs} processes x {args.threads} threads, {args.seconds:.0f} s per phase"
    )
    with database() as (engine, url):
        units = prepare(engine, units=args.units, prefix=prefix)
        with gunicorn(url, workers=args.workers, threads=args.server_threads) as served:
            port = served.port
            common = {
                "procs": args.procs,
                "threads": args.threads,
                "base": base,
                "max_requests": args.max_requests,
            }
            phase(port, units, batch=1, seconds=2.0, first_k=WARM_K, **common)
            batches = phase(
                port, units, batch=args.batch, seconds=args.seconds, first_k=BATCH_K, **common
            )
            singles = phase(port, units, batch=1, seconds=args.seconds, first_k=SINGLE_K, **common)
            acked = merge_acked(batches, singles)
            sent, stored_again = resend(port, units, acked, base, sample=200)
        check = verify(engine, acked, base, first_k=BATCH_K)
        if os.environ.get("DATABASE_URL"):
            with engine.begin() as conn:
                conn.execute(text("DELETE FROM unit WHERE call_sign LIKE :p"), {"p": prefix + "%"})
    b, s = summary("batch", batches), summary("single", singles)
    print(f"resend  {sent} acknowledged fixes sent again: {stored_again} stored")
    print("rows    " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in check.items()))
    ok = (
        b["fixes_per_s"] >= 2000
        and s["requests_per_s"] >= 500
        and s["p99_ms"] < 50
        and check["missing"] == 0
        and check["duplicated"] == 0
        and stored_again == 0
        and check["units_with_wrong_rows"] == 0
        and check["units_whose_latest_is_not_newest"] == 0
    )
    print(
        "targets " + ("met" if ok else "NOT met") + ": batch >= 2,000 fixes/s, single >= "
        "500 req/s with p99 < 50 ms, nothing missing or duplicated"
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
