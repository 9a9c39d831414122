"""Server benchmark on the real Doha region: start-up, recommendations under load, memory.

Run with ``.venv/bin/python benchmarks/server.py`` (part of ``make bench``). It

1. starts its own throwaway PostgreSQL + PostGIS cluster (or uses ``DATABASE_URL``),
   migrates it, imports the whole Doha region from ``NAJDA_DATA_DIR`` with the region
   importer, seeds the demo units across the city, and creates ``--incidents`` building
   fires at random road points of the city through the API;
2. for each worker count of ``--workers`` (default 1 and 4): starts gunicorn with the
   project's configuration (app preloaded and warmed in the master, workers forked from
   it) in a NAJDA_HOME of its own, and measures
   - *ready*: seconds from starting gunicorn until ``/health`` answers;
   - *first recommendation*: the latency of the first ``GET
     /incidents/{id}/recommendations`` after that (the target: <= 1 s);
   - *under load*: ``--clients`` threads (default 8), each asking recommendations for
     random incidents in a loop for ``--seconds``: requests/s, p50 / p95 / p99 latency;
   - *memory*: the sum of PSS (``/proc/PID/smaps_rollup``) over the master and its workers
     after the load (every worker has answered), and the same in RSS for comparison;
3. counts the SQL statements one recommendation runs (SQLAlchemy events, in-process);
4. prints the table and the ratios the issue names: memory with 4 workers / with 1.

Targets: first recommendation <= 1 s; p95 <= 30 ms with 8 clients; memory with 4 workers
<= 1.5 x with 1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text

from avl import Served, database, gunicorn
from najda.config import load_settings, project_root

ROOT = project_root()


# -- data ----------------------------------------------------------------------------------
def prepare(engine: Engine, *, incidents: int, seed: int) -> tuple[str, list[tuple[float, float]]]:
    """Doha imported, demo units seeded; a dispatcher token and incident locations."""
    from najda.db.migrate import upgrade
    from najda.dispatch.auth import create_user, issue_token
    from najda.dispatch.seed import seed_demo
    from najda.ingest.catalogue import import_catalogue
    from najda.ingest.region import import_region

    settings = load_settings().with_overrides(
        database_url=engine.url.render_as_string(hide_password=False), online=False
    )
    upgrade(engine)
    import_catalogue(engine, ROOT / "geo_data" / "catalogue")
    started = time.perf_counter()
    for report in import_region(engine, settings, "doha"):
        print(f"  imported {report.layer}: {report.imported}", flush=True)
    print(f"  region import {time.perf_counter() - started:.1f} s", flush=True)
    seed_demo(engine, region="doha")
    user = create_user(engine, username=f"bench-{os.getpid()}", role="dispatcher", password=None)
    token = issue_token(engine, user_id=user.id, name="bench")[1]
    with engine.connect() as conn:
        nodes = conn.execute(
            text("""SELECT ST_X(n.geom), ST_Y(n.geom) FROM road_node n
                    JOIN region r ON r.id = n.region_id WHERE r.code = 'doha'""")
        ).all()
        units = conn.execute(text("SELECT count(*) FROM unit")).scalar_one()
    print(f"  {units} units, {len(nodes)} road nodes", flush=True)
    rng = random.Random(seed)
    return token, [(x + 1e-4, y) for x, y in rng.sample(list(nodes), incidents)]


class Client:
    """One keep-alive HTTP connection with the dispatcher's token."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        payload = None if body is None else json.dumps(body)
        self.conn.request(method, "/api/v1" + path, body=payload, headers=self.headers)
        response = self.conn.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None


def create_incidents(port: int, token: str, places: list[tuple[float, float]]) -> list[int]:
    client = Client(port, token)
    ids = []
    for lon, lat in places:
        status, body = client.call(
            "POST", "/incidents", {"type": "building_fire", "location": {"lon": lon, "lat": lat}}
        )
        if status != 201:
            raise SystemExit(f"creating an incident failed: {status} {body}")
        ids.append(int(body["id"]))
    return ids


# -- server --------------------------------------------------------------------------------
@contextmanager
def server(url: str, *, workers: int, threads: int) -> Iterator[Served]:
    """A fresh gunicorn in a NAJDA_HOME of its own (no graph stored yet)."""
    home = Path(tempfile.mkdtemp(prefix="najda-server-bench-", dir="/tmp"))
    try:
        with gunicorn(url, workers=workers, threads=threads, home=home) as served:
            yield served
    finally:
        shutil.rmtree(home, ignore_errors=True)


def process_tree(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                children.append(int(entry.name))
    return [pid, *children]


def memory_mb(pid: int) -> tuple[float, float, int]:
    """(sum of PSS, sum of RSS, processes) of ``pid`` and its children, in MB."""
    pss = rss = 0
    pids = process_tree(pid)
    for p in pids:
        for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss += int(line.split()[1])
            elif line.startswith("Rss:"):
                rss += int(line.split()[1])
    return pss / 1024, rss / 1024, len(pids)


# -- load ----------------------------------------------------------------------------------
@dataclass
class Load:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0


def recommend_loop(
    port: int, token: str, ids: list[int], seconds: float, seed: int, out: Load
) -> None:
    client = Client(port, token)
    rng = random.Random(seed)
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        status, _ = client.call("GET", f"/incidents/{rng.choice(ids)}/recommendations")
        out.latencies_ms.append((time.perf_counter() - started) * 1e3)
        out.errors += status != 200


def load(port: int, token: str, ids: list[int], *, clients: int, seconds: float) -> Load:
    shares = [Load() for _ in range(clients)]
    threads = [
        threading.Thread(target=recommend_loop, args=(port, token, ids, seconds, i, shares[i]))
        for i in range(clients)
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = Load(elapsed=time.perf_counter() - started)
    for s in shares:
        total.latencies_ms += s.latencies_ms
        total.errors += s.errors
    return total


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_workers(
    url: str, token: str, ids: list[int], workers: int, args: argparse.Namespace
) -> dict[str, Any]:
    with server(url, workers=workers, threads=args.threads) as served:
        port, ready_s = served.port, served.ready_s
        client = Client(port, token)
        started = time.perf_counter()
        status, body = client.call("GET", f"/incidents/{ids[0]}/recommendations")
        first_ms = (time.perf_counter() - started) * 1e3
        if status != 200:
            raise SystemExit(f"recommendation failed: {status} {body}")
        result = load(port, token, ids, clients=args.clients, seconds=args.seconds)
        pss, rss, procs = memory_mb(served.proc.pid)
    lat = result.latencies_ms
    return {
        "workers": workers,
        "ready_s": ready_s,
        "first_ms": first_ms,
        "requests": len(lat),
        "rps": len(lat) / result.elapsed,
        "p50": statistics.median(lat),
        "p95": pct(lat, 0.95),
        "p99": pct(lat, 0.99),
        "errors": result.errors,
        "pss_mb": pss,
        "rss_mb": rss,
        "processes": procs,
    }


def statements_per_recommendation(engine: Engine, token: str, incident_id: int) -> int:
    """SQL statements one recommendation request runs (in-process app, counted by events)."""
    from najda.web import create_app

    settings = load_settings().with_overrides(
        database_url=engine.url.render_as_string(hide_password=False)
    )
    app = create_app(settings)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    client.get(f"/api/v1/incidents/{incident_id}/recommendations", headers=headers)  # warm
    counted: list[str] = []
    app_engine = app.extensions["najda"].engine

    def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        counted.append(statement)

    event.listen(app_engine, "before_cursor_execute", count)
    response = client.get(f"/api/v1/incidents/{incident_id}/recommendations", headers=headers)
    event.remove(app_engine, "before_cursor_execute", count)
    app_engine.dispose()
    if response.status_code != 200:
        raise SystemExit(f"in-process recommendation failed: {response.status_code}")
    return len(counted)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,4", help="worker counts to compare")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--incidents", type=int, default=200)
    args = parser.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    with database() as (engine, url):
        token, places = prepare(engine, incidents=args.incidents, seed=1)
        rows = []
        for n, workers in enumerate(int(w) for w in args.workers.split(",")):
            if n == 0:
                with server(url, workers=1, threads=args.threads) as served:
                    ids = create_incidents(served.port, token, places)
            rows.append(bench_workers(url, token, ids, workers, args))
            print(json.dumps(rows[-1]), flush=True)
        statements = statements_per_recommendation(engine, token, ids[0])
    print(
        f"\nDoha, {args.clients} clients, {args.seconds:.0f} s per server; load average at end: {os.getloadavg()[0]:.2f}"
    )
    print(
        "| workers | ready | first recommendation | requests/s | p50 | p95 | p99 | errors | PSS (sum) | RSS (sum) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['workers']} | {r['ready_s']:.1f} s | {r['first_ms']:.0f} ms | {r['rps']:.0f} | "
            f"{r['p50']:.1f} ms | {r['p95']:.1f} ms | {r['p99']:.1f} ms | {r['errors']} | "
            f"{r['pss_mb']:.0f} MB | {r['rss_mb']:.0f} MB |"
        )
    if len(rows) > 1:
        print(
            f"\nmemory (PSS) with {rows[-1]['workers']} workers / with {rows[0]['workers']}: x{rows[-1]['pss_mb'] / rows[0]['pss_mb']:.2f} (target <= 1.5)"
        )
    print(f"SQL statements per recommendation request: {statements} (target <= 4)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
