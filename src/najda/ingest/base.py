"""What every importer shares: reports, regions, atomic layer replacement, progress.

An importer reads and validates its whole input *before* it opens a transaction, then
replaces the region's layer inside one transaction (:func:`replace_layer`), so a failed
import leaves the database exactly as it was.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, text

from najda.errors import ImportFailed

T = TypeVar("T")


@dataclass
class ImportReport:
    """What an import did: rows written, rows skipped (with reasons), and extras."""

    layer: str
    region: str
    source: str
    imported: int = 0
    skipped: int = 0
    repaired: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped += count
        self.reasons[reason] = self.reasons.get(reason, 0) + count

    def tally(self, key: str, count: int = 1) -> None:
        """Count something noted but kept (``extra[key]``), such as a name left out."""
        self.extra[key] = int(self.extra.get(key, 0)) + count

    def summary(self) -> str:
        parts = [f"{self.layer}: {self.imported} imported"]
        if self.repaired:
            parts.append(f"{self.repaired} repaired")
        if self.skipped:
            why = ", ".join(f"{k}: {v}" for k, v in sorted(self.reasons.items()))
            parts.append(f"{self.skipped} skipped ({why})")
        parts.extend(f"{k} {v}" for k, v in self.extra.items() if not isinstance(v, dict | list))
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def progress(
    iterable: Iterable[T],
    *,
    desc: str,
    total: int | None = None,
    unit: str = "it",
    enabled: bool | None = None,
) -> Iterator[T]:
    """A tqdm progress bar on stderr, quiet when not a terminal unless NAJDA_PROGRESS=1."""
    from tqdm import tqdm

    if enabled is None:
        enabled = sys.stderr.isatty() or os.environ.get("NAJDA_PROGRESS") == "1"
    yield from tqdm(
        iterable,
        desc=desc,
        total=total,
        unit=unit,
        disable=not enabled,
        leave=False,
        mininterval=0.5,
    )


def require_file(path: str | Path) -> Path:
    """The path as a readable, non-empty file, or :class:`ImportFailed`."""
    p = Path(path)
    if not p.exists():
        raise ImportFailed(f"file not found: {p}", details={"path": str(p)})
    if not p.is_file():
        raise ImportFailed(f"not a file: {p}", details={"path": str(p)})
    if p.stat().st_size == 0:
        raise ImportFailed(f"file is empty: {p}", details={"path": str(p)})
    return p


def ensure_region(
    conn: Connection,
    code: str,
    *,
    name_en: str | None = None,
    name_ar: str | None = None,
    timezone: str | None = None,
    incident_prefix: str | None = None,
) -> int:
    """Id of region ``code``, creating it (or updating the names given) as needed."""
    row = conn.execute(
        text("""
            INSERT INTO region (code, name_en, name_ar, timezone, incident_prefix)
            VALUES (:code, :en, :ar, coalesce(:tz, 'Asia/Riyadh'), coalesce(:prefix, 'NJD'))
            ON CONFLICT (code) DO UPDATE SET
              name_en = coalesce(:en_set, region.name_en),
              name_ar = coalesce(:ar_set, region.name_ar),
              timezone = coalesce(:tz, region.timezone),
              incident_prefix = coalesce(:prefix, region.incident_prefix)
            RETURNING id
        """),
        {
            "code": code,
            "en": name_en or code,
            "ar": name_ar or name_en or code,
            "en_set": name_en,
            "ar_set": name_ar,
            "tz": timezone,
            "prefix": incident_prefix,
        },
    ).one()
    return int(row[0])


def region_id(conn: Connection, code: str) -> int:
    row = conn.execute(text("SELECT id FROM region WHERE code = :c"), {"c": code}).first()
    if row is None:
        raise ImportFailed(f"unknown region: {code}", details={"region": code})
    return int(row[0])


Bind = Engine | Connection
"""Where an importer writes: an engine (its own transaction) or a connection already in a
transaction (a savepoint inside the caller's, so several layers commit together)."""


@contextmanager
def unit_of_work(bind: Bind) -> Iterator[Connection]:
    """``engine.begin()``, or a savepoint when ``bind`` is a connection in a transaction."""
    if isinstance(bind, Connection):
        with bind.begin_nested():
            yield bind
    else:
        with bind.begin() as conn:
            yield conn


@contextmanager
def reading(bind: Bind) -> Iterator[Connection]:
    """A connection to read with: ``bind`` itself, or a new one from the engine."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn


@contextmanager
def replace_layer(engine: Bind, report: ImportReport) -> Iterator[Connection]:
    """One transaction in which the importer deletes and rewrites its layer.

    On success the layer's row in ``layer_import`` is written in the same transaction;
    on any exception everything is rolled back.
    """
    with unit_of_work(engine) as conn:
        conn.execute(text("SET LOCAL lock_timeout = '30s'"))
        yield conn
        rid = region_id(conn, report.region)
        conn.execute(
            text("""
                INSERT INTO layer_import (region_id, layer, source, feature_count,
                                          skipped_count, details)
                VALUES (:rid, :layer, :source, :n, :skipped, CAST(:details AS jsonb))
                ON CONFLICT (region_id, layer) DO UPDATE SET
                  source = EXCLUDED.source, feature_count = EXCLUDED.feature_count,
                  skipped_count = EXCLUDED.skipped_count, details = EXCLUDED.details,
                  imported_at = now()
            """),
            {
                "rid": rid,
                "layer": report.layer,
                "source": report.source,
                "n": report.imported,
                "skipped": report.skipped,
                "details": json.dumps(
                    {
                        "reasons": report.reasons,
                        "repaired": report.repaired,
                        **_jsonable(report.extra),
                    },
                    ensure_ascii=False,
                ),
            },
        )


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        try:
            json.dumps(value)
        except TypeError:
            value = str(value)
        out[key] = value
    return out


def copy_rows(
    conn: Connection, table: str, columns: list[str], rows: Iterable[tuple[Any, ...]]
) -> int:
    """Bulk-insert with PostgreSQL COPY; geometry columns take hex EWKB or EWKT text."""
    raw = conn.connection.driver_connection
    if raw is None:
        raise RuntimeError("no driver connection")
    count = 0
    cols = ", ".join(columns)
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count
