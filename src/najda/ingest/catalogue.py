"""The catalogue: agencies, unit types (with capabilities) and incident types.

The catalogue is project-authored TOML in ``geo_data/catalogue/*.toml``. Every file may
hold any of these arrays of tables, and they are merged:

``[[agency]]``
    code, name_en, name_ar, color (``#RRGGBB``)
``[[capability]]``
    code, name_en, name_ar: what a response plan can ask for
``[[unit_type]]``
    code, agency, name_en, name_ar, capabilities (list of capability codes)
``[[category]]``
    code, name_en, name_ar: groups of incident types
``[[incident_type]]``
    code, category, name_en, name_ar, priority (1 = most urgent .. 5) and plan, a list
    of ``{capability, count}``; an empty plan means no unit is sent

The files are validated completely before the database is touched; then every row is
upserted by code in one transaction. Rows that are no longer in the files are deleted
only when nothing refers to them (units refer to unit types, stations to agencies, ...);
otherwise they are kept and named in the report.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from najda.errors import ImportFailed
from najda.ingest.base import Bind, ImportReport, unit_of_work

PRIORITIES = range(1, 6)
_SECTIONS = ("agency", "capability", "unit_type", "category", "incident_type")
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_ARABIC = re.compile(r"[\u0600-\u06FF]")
_KEYS = {
    "agency": {"code", "name_en", "name_ar", "color"},
    "capability": {"code", "name_en", "name_ar"},
    "unit_type": {"code", "agency", "name_en", "name_ar", "capabilities"},
    "category": {"code", "name_en", "name_ar"},
    "incident_type": {"code", "category", "name_en", "name_ar", "priority", "plan"},
}
_OPTIONAL = {"agency": {"color"}}


@dataclass
class Catalogue:
    """The validated contents of the catalogue files, one list of dicts per section."""

    agency: list[dict[str, Any]] = field(default_factory=list)
    capability: list[dict[str, Any]] = field(default_factory=list)
    unit_type: list[dict[str, Any]] = field(default_factory=list)
    category: list[dict[str, Any]] = field(default_factory=list)
    incident_type: list[dict[str, Any]] = field(default_factory=list)

    def codes(self, section: str) -> set[str]:
        return {row["code"] for row in getattr(self, section)}


def import_catalogue(engine: Bind, catalogue_dir: str | Path) -> ImportReport:
    """Validate the catalogue files and upsert them into the database.

    Parameters
    ----------
    engine
        Database engine.
    catalogue_dir
        Folder of ``*.toml`` catalogue files.

    Returns
    -------
    ImportReport
        ``imported`` counts all rows written; ``extra`` has counts per table and the
        codes kept because they are still in use.

    Raises
    ------
    ImportFailed
        When a file is missing, unreadable or invalid; nothing is written then.
    """
    catalogue = load_catalogue(catalogue_dir)
    report = ImportReport(layer="catalogue", region="", source=str(catalogue_dir))
    with unit_of_work(engine) as conn:
        _upsert_all(conn, catalogue, report)
    return report


def load_catalogue(catalogue_dir: str | Path) -> Catalogue:
    """Read and validate every ``*.toml`` file of ``catalogue_dir``.

    Raises
    ------
    ImportFailed
        On the first problem found, naming the file or the row.
    """
    folder = Path(catalogue_dir)
    files = sorted(folder.glob("*.toml")) if folder.is_dir() else []
    if not files:
        raise ImportFailed(
            f"no catalogue files (*.toml) in {folder}", details={"path": str(folder)}
        )
    catalogue = Catalogue()
    for path in files:
        for section, rows in _read_toml(path).items():
            getattr(catalogue, section).extend(_check_row(section, row, path) for row in rows)
    _validate(catalogue)
    return catalogue


def _read_toml(path: Path) -> dict[str, list[dict[str, Any]]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ImportFailed(
            f"cannot read catalogue file {path.name}: {exc}", details={"path": str(path)}
        ) from exc
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise ImportFailed(
            f"{path.name}: unknown section(s) {', '.join(unknown)}; "
            f"expected {', '.join(_SECTIONS)}",
            details={"path": str(path)},
        )
    for section, rows in data.items():
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ImportFailed(
                f"{path.name}: [{section}] must be an array of tables ([[{section}]])",
                details={"path": str(path)},
            )
    return data


def _check_row(section: str, row: dict[str, Any], path: Path) -> dict[str, Any]:
    where = f"{path.name}: {section} {row.get('code', '?')!r}"
    missing = _KEYS[section] - _OPTIONAL.get(section, set()) - set(row)
    extra = set(row) - _KEYS[section]
    if missing or extra:
        raise ImportFailed(f"{where}: missing {sorted(missing)} / unknown {sorted(extra)} keys")
    if not isinstance(row["code"], str) or not _CODE.match(row["code"]):
        raise ImportFailed(f"{where}: code must be lower_snake_case")
    for key in ("name_en", "name_ar"):
        if not isinstance(row[key], str) or not row[key].strip():
            raise ImportFailed(f"{where}: {key} must be a non-empty string")
    if not _ARABIC.search(row["name_ar"]):
        raise ImportFailed(f"{where}: name_ar has no Arabic letters")
    if section == "agency" and not _COLOR.match(str(row.get("color", "#555555"))):
        raise ImportFailed(f"{where}: color must look like #1a2b3c")
    if section == "incident_type":
        priority = row["priority"]
        if (
            isinstance(priority, bool)
            or not isinstance(priority, int)
            or priority not in PRIORITIES
        ):
            raise ImportFailed(
                f"{where}: priority must be an integer from 1 (most urgent) to 5, not {priority!r}"
            )
    return row


def _validate(catalogue: Catalogue) -> None:
    for section in _SECTIONS:
        codes = [row["code"] for row in getattr(catalogue, section)]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ImportFailed(f"duplicate {section} code(s): {', '.join(dupes)}")
    agencies = catalogue.codes("agency")
    capabilities = catalogue.codes("capability")
    provided: set[str] = set()
    for unit_type in catalogue.unit_type:
        _check_unit_type(unit_type, agencies, capabilities)
        provided.update(unit_type["capabilities"])
    categories = catalogue.codes("category")
    for incident_type in catalogue.incident_type:
        _check_incident_type(incident_type, categories, capabilities, provided)


def _check_unit_type(row: dict[str, Any], agencies: set[str], capabilities: set[str]) -> None:
    where = f"unit_type {row['code']!r}"
    if row["agency"] not in agencies:
        raise ImportFailed(f"{where}: unknown agency {row['agency']!r}")
    caps = row["capabilities"]
    if not isinstance(caps, list) or not caps or not all(isinstance(c, str) for c in caps):
        raise ImportFailed(f"{where}: capabilities must be a non-empty list of codes")
    unknown = sorted(set(caps) - capabilities)
    if unknown:
        raise ImportFailed(f"{where}: unknown capability {', '.join(unknown)}")


def _check_incident_type(
    row: dict[str, Any], categories: set[str], capabilities: set[str], provided: set[str]
) -> None:
    where = f"incident_type {row['code']!r}"
    if row["category"] not in categories:
        raise ImportFailed(f"{where}: unknown category {row['category']!r}")
    plan = row["plan"]
    if not isinstance(plan, list):
        raise ImportFailed(f"{where}: plan must be a list of {{capability, count}}")
    seen: set[str] = set()
    for step in plan:
        if not isinstance(step, dict) or set(step) != {"capability", "count"}:
            raise ImportFailed(f"{where}: each plan entry needs exactly capability and count")
        cap, count = step["capability"], step["count"]
        if cap not in capabilities:
            raise ImportFailed(f"{where}: plan names unknown capability {cap!r}")
        if cap not in provided:
            raise ImportFailed(f"{where}: no unit type provides capability {cap!r}")
        if cap in seen:
            raise ImportFailed(f"{where}: capability {cap!r} appears twice in the plan")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ImportFailed(f"{where}: count for {cap!r} must be a positive integer")
        seen.add(cap)


# -- writing -------------------------------------------------------------------------------
def _upsert_all(conn: Connection, catalogue: Catalogue, report: ImportReport) -> None:
    for row in catalogue.agency:
        conn.execute(
            text("""
            INSERT INTO agency (code, name_en, name_ar, color)
            VALUES (:code, :name_en, :name_ar, :color)
            ON CONFLICT (code) DO UPDATE SET name_en = EXCLUDED.name_en,
              name_ar = EXCLUDED.name_ar, color = EXCLUDED.color
        """),
            {**row, "color": row.get("color", "#555555")},
        )
    for row in catalogue.unit_type:
        conn.execute(
            text("""
            INSERT INTO unit_type (code, agency_id, name_en, name_ar, capabilities)
            VALUES (:code, (SELECT id FROM agency WHERE code = :agency), :name_en, :name_ar,
                    :capabilities)
            ON CONFLICT (code) DO UPDATE SET agency_id = EXCLUDED.agency_id,
              name_en = EXCLUDED.name_en, name_ar = EXCLUDED.name_ar,
              capabilities = EXCLUDED.capabilities
        """),
            row,
        )
    for row in catalogue.incident_type:
        conn.execute(
            text("""
            INSERT INTO incident_type (code, category, name_en, name_ar, default_priority,
                                       response_plan)
            VALUES (:code, :category, :name_en, :name_ar, :priority, CAST(:plan AS jsonb))
            ON CONFLICT (code) DO UPDATE SET category = EXCLUDED.category,
              name_en = EXCLUDED.name_en, name_ar = EXCLUDED.name_ar,
              default_priority = EXCLUDED.default_priority,
              response_plan = EXCLUDED.response_plan
        """),
            {**row, "plan": json.dumps(row["plan"])},
        )
    kept: dict[str, list[str]] = {}
    # children before parents, so a stale unit type does not keep its agency in use
    for table, section in (
        ("incident_type", "incident_type"),
        ("unit_type", "unit_type"),
        ("agency", "agency"),
    ):
        kept_here = _delete_stale(conn, table, catalogue.codes(section))
        if kept_here:
            kept[table] = kept_here
    report.imported = (
        len(catalogue.agency) + len(catalogue.unit_type) + len(catalogue.incident_type)
    )
    report.extra.update(
        {
            "agencies": len(catalogue.agency),
            "unit_types": len(catalogue.unit_type),
            "incident_types": len(catalogue.incident_type),
            "capabilities": len(catalogue.capability),
        }
    )
    if kept:
        report.extra["kept_in_use"] = kept


def _delete_stale(conn: Connection, table: str, codes: set[str]) -> list[str]:
    """Delete rows of ``table`` whose code is not in ``codes``; keep those in use."""
    stale = conn.execute(
        text(f"SELECT id, code FROM {table} WHERE NOT (code = ANY(:codes))"),
        {"codes": sorted(codes)},
    ).all()
    if not stale:
        return []
    references = _referencing_columns(conn, table)
    kept: list[str] = []
    for row_id, code in stale:
        if any(
            conn.execute(
                text(f"SELECT EXISTS (SELECT 1 FROM {ref} WHERE {col} = :id)"), {"id": row_id}
            ).scalar_one()
            for ref, col in references
        ):
            kept.append(code)
        else:
            conn.execute(text(f"DELETE FROM {table} WHERE id = :id"), {"id": row_id})
    return sorted(kept)


def _referencing_columns(conn: Connection, table: str) -> list[tuple[str, str]]:
    """(table, column) pairs whose foreign key points at ``table``, any delete rule.

    Read from the catalog so that tables added by later migrations (incidents, ...) are
    respected without changing this module.
    """
    rows = conn.execute(
        text("""
        SELECT c.conrelid::regclass::text, quote_ident(a.attname)
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        WHERE c.contype = 'f' AND c.confrelid = CAST(:t AS regclass)
    """),
        {"t": table},
    ).all()
    return [(str(r[0]), str(r[1])) for r in rows]
