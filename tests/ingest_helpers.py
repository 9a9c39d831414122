"""Helpers of the import tests: counts read back from the tables, a signed-in client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, text

from dispatch_helpers import app_for, sign_in


def stations_per_agency(conn: Connection) -> dict[str, int]:
    """How many stations each agency has (every region)."""
    rows = conn.execute(
        text(
            "SELECT a.code, count(*) FROM station s JOIN agency a ON a.id = s.agency_id GROUP BY 1"
        )
    ).all()
    return {str(code): int(n) for code, n in rows}


@contextmanager
def signed_in(engine: Engine, role: str = "dispatcher") -> Iterator[Any]:
    """A Flask test client of the real app over ``engine``, signed in with ``role``."""
    app = app_for(engine)
    try:
        yield sign_in(app.test_client(), engine, role=role)
    finally:
        app.extensions["najda"].engine.dispose()
