"""Engines and units of work.

One engine per application (or command); short ``with session_scope(engine)`` blocks.
Database errors are translated into domain errors at the edges that call this.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from najda.config import Settings
from najda.db.localpg import LocalPostgres


def embedded_cluster(settings: Settings) -> LocalPostgres:
    return LocalPostgres(settings.home, port=settings.pg_port)


def database_url(settings: Settings) -> str:
    """``DATABASE_URL`` when set, otherwise the embedded cluster's URL."""
    if settings.database_url:
        url = settings.database_url
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url
    return embedded_cluster(settings).url()


def make_engine(
    settings: Settings | None = None,
    *,
    url: str | None = None,
    pool_size: int = 5,
    max_overflow: int = 10,
) -> Engine:
    if url is None:
        if settings is None:
            raise ValueError("make_engine needs settings or url")
        url = database_url(settings)
    return create_engine(
        url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True, future=True
    )


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A unit of work: commits on success, rolls back on any exception."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
