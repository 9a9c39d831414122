"""Checksums of table contents, to show that a failed operation changed nothing."""

from __future__ import annotations

from sqlalchemy import Engine, text


def table_snapshot(engine: Engine, tables: tuple[str, ...]) -> dict[str, tuple[int, str]]:
    """Row count and an md5 of every row (in id order) of each table."""
    with engine.connect() as conn:
        return {
            t: tuple(
                conn.execute(
                    text(
                        "SELECT count(*), "
                        "md5(coalesce(string_agg(x::text, '|' ORDER BY x.id), '')) "
                        f"FROM {t} x"
                    )
                ).one()
            )
            for t in tables
        }
