"""The embedded cluster: starts, stops, keeps its data, never listens on TCP."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from najda.cli import main
from najda.db.localpg import LocalPostgres


@pytest.fixture
def cluster_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="najda-lpg-", dir="/tmp"))
    os.chmod(home, 0o755)
    yield home
    shutil.rmtree(home, ignore_errors=True)


def test_cluster_starts_stops_and_keeps_data(cluster_home: Path) -> None:
    cluster = LocalPostgres(cluster_home, port=54987)
    try:
        cluster.start()
        assert cluster.running()
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            conn.execute("CREATE TABLE kept (id int, g geometry(Point, 4326))")
            conn.execute("INSERT INTO kept VALUES (1, ST_SetSRID(ST_MakePoint(46.7, 24.7), 4326))")
            listen = (
                conn.execute("SHOW listen_addresses").scalar()
                if hasattr(conn, "scalar")
                else conn.execute("SHOW listen_addresses").fetchone()[0]
            )
        assert listen == ""  # socket only: cannot collide with a server on 5432
        cluster.stop()
        assert not cluster.running()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(cluster.conninfo(), connect_timeout=2)
        cluster.start()
        with psycopg.connect(cluster.conninfo()) as conn:
            row = conn.execute("SELECT id, ST_AsText(g) FROM kept").fetchone()
        assert row == (1, "POINT(46.7 24.7)")
    finally:
        cluster.destroy()
    assert not (cluster_home / "pgdata").exists()


def test_cli_db_commands(cluster_home: Path) -> None:
    env = {"NAJDA_HOME": str(cluster_home), "NAJDA_PG_PORT": "54988", "DATABASE_URL": ""}
    runner = CliRunner()
    try:
        result = runner.invoke(main, ["db", "status"], env=env)
        assert result.exit_code == 3, result.output
        assert "running     no" in result.output
        result = runner.invoke(main, ["db", "start"], env=env)
        assert result.exit_code == 0, result.output
        result = runner.invoke(main, ["db", "url"], env=env)
        assert str(cluster_home) in result.output or "/tmp/najda-" in result.output
        result = runner.invoke(main, ["db", "migrate"], env=env)
        assert result.exit_code == 0, result.output
        assert "schema at revision" in result.output
        result = runner.invoke(main, ["db", "status"], env=env)
        assert result.exit_code == 0 and "running     yes" in result.output
        result = runner.invoke(main, ["db", "stop"], env=env)
        assert result.exit_code == 0, result.output
    finally:
        LocalPostgres(cluster_home, port=54988).destroy()
