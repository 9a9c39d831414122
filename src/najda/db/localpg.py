"""The embedded default database: a private PostgreSQL + PostGIS cluster.

The cluster lives in a folder of the project (``.najda/pgdata`` by default), listens only
on a Unix socket in its own folder (never on TCP, so it cannot collide with a server
already running on the machine) and is run by an unprivileged operating-system user
when the caller is root, because ``initdb`` refuses to run as root.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DATABASE_NAME = "najda"
SUPERUSER = "najda"
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes; leave room for ".s.PGSQL.NNNNN"


class LocalPostgresError(RuntimeError):
    """The embedded cluster could not be found, made, started or stopped."""


def _postgres_versions() -> list[Path]:
    roots = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return [p.parent for p in sorted(roots, key=lambda p: int(p.parent.parent.name), reverse=True)]


def find_bindir() -> Path:
    """Folder of ``initdb`` and ``pg_ctl`` for the newest PostgreSQL that has PostGIS."""
    override = os.environ.get("NAJDA_PG_BINDIR")
    if override:
        return Path(override)
    candidates = _postgres_versions()
    for bindir in candidates:
        version = bindir.parent.name
        if Path(f"/usr/share/postgresql/{version}/extension/postgis.control").exists():
            return bindir
    if candidates:
        raise LocalPostgresError(
            f"PostgreSQL {candidates[0].parent.name} is installed but PostGIS is not: "
            f"install postgresql-{candidates[0].parent.name}-postgis-3 (make setup does)"
        )
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise LocalPostgresError("PostgreSQL server binaries not found: run `make setup` first")


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class ClusterPaths:
    home: Path
    data_dir: Path
    socket_dir: Path
    log_file: Path


class LocalPostgres:
    """A private cluster under ``home``.

    Parameters
    ----------
    home
        Folder that holds ``pgdata/``, ``run/`` (the socket) and ``postgres.log``.
    port
        Port number; it only names the socket file, the cluster does not listen on TCP.
    os_user
        Operating-system user that runs the server. Default: the caller, or
        ``postgres`` when the caller is root.
    """

    def __init__(self, home: Path, *, port: int = 54329, os_user: str | None = None) -> None:
        self.port = port
        self.os_user = os_user or ("postgres" if os.geteuid() == 0 else None)
        self.paths = self._choose_paths(Path(home).resolve())
        self._bindir: Path | None = None

    # -- paths ---------------------------------------------------------------------------
    def _choose_paths(self, home: Path) -> ClusterPaths:
        if self.os_user and not self._user_can_reach(home):
            fallback = Path("/var/tmp") / f"najda-{_short_hash(str(home))}"
            log.warning(
                "%s is not reachable by user %s; cluster kept in %s", home, self.os_user, fallback
            )
            home = fallback
        socket_dir = home / "run"
        if len(str(socket_dir)) > _SOCKET_PATH_MAX:
            socket_dir = Path("/tmp") / f"najda-{_short_hash(str(home))}"
        return ClusterPaths(home, home / "pgdata", socket_dir, home / "postgres.log")

    def _user_can_reach(self, path: Path) -> bool:
        """Whether ``os_user`` can traverse every existing parent of ``path``."""
        if self.os_user is None:
            return True
        existing = path
        while not existing.exists():
            existing = existing.parent
        result = subprocess.run(
            ["runuser", "-u", self.os_user, "--", "test", "-x", str(existing)],
            capture_output=True,
            check=False,
            cwd="/",
        )
        return result.returncode == 0

    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_bindir()
        return self._bindir

    # -- running commands as the cluster's owner -------------------------------------------
    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self.os_user and os.geteuid() == 0:
            cmd = ["runuser", "-u", self.os_user, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd="/")
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise LocalPostgresError(f"{Path(args[0]).name} failed: {' | '.join(detail)}")
        return result

    def _own(self, *paths: Path) -> None:
        for path in paths:
            path.mkdir(parents=True, exist_ok=True)
            if self.os_user and os.geteuid() == 0:
                entry = pwd.getpwnam(self.os_user)
                os.chown(path, entry.pw_uid, entry.pw_gid)
        os.chmod(self.paths.socket_dir, 0o755)

    # -- lifecycle -----------------------------------------------------------------------
    def initialised(self) -> bool:
        return (self.paths.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        """Create the cluster if it does not exist yet."""
        if self.initialised():
            return
        self.paths.home.mkdir(parents=True, exist_ok=True)
        self._own(self.paths.data_dir, self.paths.socket_dir)
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.paths.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )
        conf = self.paths.data_dir / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write(
                "\n# najda embedded cluster\n"
                "listen_addresses = ''\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.paths.socket_dir}'\n"
                # trust auth on the socket: only its owner (and root) may connect
                "unix_socket_permissions = 0700\n"
                "max_connections = 200\n"
                "shared_buffers = 256MB\n"
                "work_mem = 32MB\n"
                "maintenance_work_mem = 256MB\n"
                "synchronous_commit = off\n"
                "timezone = 'UTC'\n"
            )

    def running(self) -> bool:
        if not self.initialised():
            return False
        result = self._run(
            str(self.bindir / "pg_ctl"), "status", "-D", str(self.paths.data_dir), check=False
        )
        return result.returncode == 0

    def start(self, *, timeout_s: int = 60) -> None:
        """Initialise if needed, start, and make sure the application database exists."""
        self.init()
        self._own(self.paths.socket_dir)
        if not self.running():
            log_file = self.paths.log_file
            log_file.touch(exist_ok=True)
            if self.os_user and os.geteuid() == 0:
                entry = pwd.getpwnam(self.os_user)
                os.chown(log_file, entry.pw_uid, entry.pw_gid)
            self._run(
                str(self.bindir / "pg_ctl"),
                "start",
                "-w",
                "-t",
                str(timeout_s),
                "-D",
                str(self.paths.data_dir),
                "-l",
                str(log_file),
            )
        self._wait_ready(timeout_s)
        self.create_database(DATABASE_NAME)

    def stop(self) -> None:
        if self.running():
            self._run(
                str(self.bindir / "pg_ctl"),
                "stop",
                "-w",
                "-m",
                "fast",
                "-D",
                str(self.paths.data_dir),
            )

    def destroy(self) -> None:
        """Stop and delete the cluster's files (tests use this for throwaway clusters)."""
        self.stop()
        shutil.rmtree(self.paths.home, ignore_errors=True)
        if self.paths.socket_dir.parent != self.paths.home:
            shutil.rmtree(self.paths.socket_dir, ignore_errors=True)

    def _wait_ready(self, timeout_s: int) -> None:
        import psycopg

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with psycopg.connect(self.conninfo("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise LocalPostgresError(f"cluster did not accept connections: {exc}") from exc
                time.sleep(0.2)

    # -- connection strings ---------------------------------------------------------------
    def conninfo(self, dbname: str = DATABASE_NAME) -> str:
        return f"host={self.paths.socket_dir} port={self.port} user={SUPERUSER} dbname={dbname}"

    def url(self, dbname: str = DATABASE_NAME) -> str:
        return (
            f"postgresql+psycopg://{SUPERUSER}@/{dbname}"
            f"?host={self.paths.socket_dir}&port={self.port}"
        )

    def create_database(self, name: str) -> bool:
        """Create database ``name`` if missing; returns whether it was created."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists:
                return False
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True

    def drop_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def describe(self) -> dict[str, str]:
        return {
            "data_dir": str(self.paths.data_dir),
            "socket_dir": str(self.paths.socket_dir),
            "log": str(self.paths.log_file),
            "running": "yes" if self.running() else "no",
            "url": self.url(),
        }
