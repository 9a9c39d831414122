"""The whole real city: routing on Doha's road network (39,697 nodes, 95,947 edges).

ETAs against networkx built straight from the ``road_edge`` rows, node times against
pgRouting on the same tables, and one graph per server: the gunicorn workers of a real
server map the same stored files instead of each holding a copy.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
from sqlalchemy import Engine, text

from conftest import clone_database
from najda.db.localpg import LocalPostgres
from najda.db.session import make_engine
from najda.routing.engine import node_travel_times
from najda.routing.graph import RoadGraph, load_graph
from test_routing_engine import check_against_networkx
from test_routing_real import pgrouting_costs, rows_reference


@pytest.fixture(scope="module")
def doha_db(pg_cluster: LocalPostgres, doha_template: str) -> Iterator[Engine]:
    """One clone of the imported Doha region for this module (nothing here writes)."""
    name = clone_database(pg_cluster, doha_template, prefix="routing_doha")
    engine = make_engine(url=pg_cluster.url(name))
    yield engine
    engine.dispose()
    pg_cluster.drop_database(name)


@pytest.fixture(scope="module")
def doha(doha_db: Engine) -> RoadGraph:
    return load_graph(doha_db, "doha")


def test_the_whole_city_is_loaded(doha: RoadGraph, doha_db: Engine) -> None:
    with doha_db.connect() as conn:
        edges = conn.execute(
            text("SELECT count(*) FROM road_edge e JOIN region r ON r.id = e.region_id "
                 "WHERE r.code = 'doha'")
        ).scalar_one()  # fmt: skip
    assert doha.edge_count == edges > 90_000
    assert doha.node_count > 35_000
    assert (doha.twin < 0).sum() > 5_000  # one-way carriageways, roundabouts


def test_etas_equal_networkx_across_the_city(doha: RoadGraph, doha_db: Engine) -> None:
    ref = rows_reference(doha_db, "doha")
    pairs = check_against_networkx(
        doha, ref, np.random.default_rng(974), incidents=12, units_each=40, k=6
    )
    assert pairs >= 480


def test_node_times_equal_pgrouting_across_the_city(doha: RoadGraph, doha_db: Engine) -> None:
    rng = np.random.default_rng(2022)
    target = int(rng.integers(doha.node_count))
    starts = rng.choice(doha.node_count, 80, replace=False)
    ours = node_travel_times(doha, [target], direction="to")
    theirs = pgrouting_costs(
        doha_db, "doha", doha.node_id[starts].tolist(), int(doha.node_id[target])
    )
    assert len(theirs) >= 75  # one strongly connected core: all but the target itself
    for s in starts:
        node = int(doha.node_id[s])
        if node in theirs:
            assert ours[s] == pytest.approx(theirs[node], rel=1e-9)


# -- one graph per server ------------------------------------------------------------------


_MAPPING = re.compile(r"^[0-9a-f]+-[0-9a-f]+ ")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def _graph_mappings(pid: int, store: Path) -> dict[str, dict[str, int]]:
    """Per mapped file of the graph store: the kB fields of its mappings in ``pid``."""
    out: dict[str, dict[str, int]] = {}
    current: dict[str, int] | None = None
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        parts = line.split()
        if _MAPPING.match(line):  # a mapping's header: address, perms, offset, dev, inode, path
            path = parts[5] if len(parts) >= 6 else ""
            current = out.setdefault(path, {}) if path.startswith(str(store)) else None
        elif current is not None and len(parts) >= 2 and parts[1].isdigit():
            current[parts[0].rstrip(":")] = current.get(parts[0].rstrip(":"), 0) + int(parts[1])
    return out


@pytest.fixture
def doha_server(doha_engine: Engine, tmp_path: Path) -> Iterator[tuple[str, int, Path, str]]:
    """gunicorn with 3 workers (the project's configuration) over a Doha database."""
    from najda.dispatch.auth import create_user, issue_token
    from najda.dispatch.seed import seed_demo

    seed_demo(doha_engine, region="doha")
    user = create_user(doha_engine, username="doha-dispatcher", role="dispatcher", password=None)
    token = issue_token(doha_engine, user_id=user.id, name="tests")[1]
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": doha_engine.url.render_as_string(hide_password=False),
        "NAJDA_HOME": str(tmp_path),
        "NAJDA_BIND": f"127.0.0.1:{port}",
        "NAJDA_WORKERS": "3",
        "NAJDA_THREADS": "2",
        "NAJDA_LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:najda.web.gunicorn_conf"], env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert proc.poll() is None, "gunicorn exited during start-up"
            try:
                if requests.get(url + "/health", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.3)
        else:
            pytest.fail("the server did not answer /health")
        yield url, proc.pid, tmp_path / "graphs", token
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_workers_share_one_stored_graph(doha_server: tuple[str, int, Path, str]) -> None:
    """The master loads the city's graph once, into the store, before forking; every
    worker maps the same files (none loads or holds its own copy) and answers from them."""
    url, master, store, token = doha_server
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    created = http.post(
        url + "/api/v1/incidents",
        json={"type": "building_fire", "location": {"lon": 51.531, "lat": 25.286}},
        timeout=60,
    )
    assert created.status_code == 201, created.text
    reply = http.get(url + f"/api/v1/incidents/{created.json()['id']}/recommendations", timeout=60)
    assert reply.status_code == 200, reply.text
    chosen = [u for r in reply.json()["requirements"] for u in r["units"]]
    assert len(chosen) >= 3, reply.text  # the building-fire plan filled by road
    assert all(u["eta_s"] > 0 and u["estimate"]["method"] == "road" for u in chosen)
    folders = [p for p in store.iterdir() if p.is_dir()]
    assert len(folders) == 1, "one stored copy of the city's graph"
    files = {str(p) for p in folders[0].rglob("*.npy")}
    assert any("derived/search-reverse" in f for f in files)
    assert any("derived/snap" in f for f in files)
    workers = _children(master)
    assert len(workers) == 3
    for pid in [master, *workers]:
        mapped = _graph_mappings(pid, store)
        # the road arrays, the reverse search and the snap grid a ranking reads are mapped
        for part in ("edge_v.npy", "search-reverse/cols.npy", "snap-100m/cell_seg.npy"):
            assert any(f.endswith(part) for f in mapped), (pid, part)
        for path, fields in mapped.items():  # no page copied out of the shared file
            assert fields.get("Anonymous", 0) == 0, f"{pid} holds a private copy of {path}"
