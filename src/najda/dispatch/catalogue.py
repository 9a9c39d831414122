"""The catalogue as dispatch sees it: incident types and their response plans, the whole
catalogue for reading, and the admin's reload from ``geo_data/catalogue``.

Agencies, unit types and incident types live in tables; capability and category labels
are kept only in the catalogue files, so :func:`read_catalogue` reads them from there
(a code in use whose label cannot be read is listed with null labels).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from najda import events
from najda.dispatch.auth import User, require
from najda.dispatch.plans import Requirement, parse_plan
from najda.dispatch.store import transaction
from najda.errors import ImportFailed, Unprocessable
from najda.ingest.base import ImportReport
from najda.ingest.catalogue import import_catalogue, load_catalogue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IncidentType:
    id: int
    code: str
    category: str
    name_en: str
    name_ar: str
    default_priority: int
    response_plan: tuple[Requirement, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "category": self.category,
            "name_en": self.name_en,
            "name_ar": self.name_ar,
            "default_priority": self.default_priority,
            "response_plan": [
                {"capability": r.capability, "count": r.count} for r in self.response_plan
            ],
        }


_COLUMNS = "id, code, category, name_en, name_ar, default_priority, response_plan"


def _from_row(row: Any) -> IncidentType:
    return incident_type_from(row._mapping)


def incident_type_from(values: Mapping[str, Any]) -> IncidentType:
    """An :class:`IncidentType` from an ``incident_type`` row as a mapping."""
    return IncidentType(
        id=values["id"],
        code=values["code"],
        category=values["category"],
        name_en=values["name_en"],
        name_ar=values["name_ar"],
        default_priority=values["default_priority"],
        response_plan=tuple(parse_plan(values["response_plan"] or [])),
    )


def incident_type_by_code(conn: Connection, code: str) -> IncidentType:
    row = conn.execute(
        text(f"SELECT {_COLUMNS} FROM incident_type WHERE code = :c"), {"c": code}
    ).first()
    if row is None:
        raise Unprocessable(
            f"unknown incident type: {code}", code="unknown_incident_type", details={"type": code}
        )
    return _from_row(row)


def incident_type_by_id(conn: Connection, type_id: int) -> IncidentType:
    return _from_row(
        conn.execute(
            text(f"SELECT {_COLUMNS} FROM incident_type WHERE id = :i"), {"i": type_id}
        ).one()
    )


def list_incident_types(engine: Engine) -> list[IncidentType]:
    with transaction(engine) as conn:
        rows = conn.execute(text(f"SELECT {_COLUMNS} FROM incident_type ORDER BY code")).all()
    return [_from_row(r) for r in rows]


def read_catalogue(
    engine: Engine, *, by: User, catalogue_dir: Path
) -> dict[str, list[dict[str, Any]]]:
    """Agencies, capabilities, unit types, categories and incident types, ar and en."""
    require(by, "read")
    with transaction(engine) as conn:
        agencies = [
            dict(r)
            for r in conn.execute(
                text("SELECT code, name_en, name_ar, color FROM agency ORDER BY code")
            ).mappings()
        ]
        unit_types = [
            {**r, "capabilities": list(r["capabilities"] or [])}
            for r in conn.execute(
                text("""
                SELECT t.code, a.code AS agency, t.name_en, t.name_ar, t.capabilities
                FROM unit_type t JOIN agency a ON a.id = t.agency_id ORDER BY t.code""")
            ).mappings()
        ]
        incident_types = [
            _from_row(r).as_dict()
            for r in conn.execute(text(f"SELECT {_COLUMNS} FROM incident_type ORDER BY code"))
        ]
    capabilities, categories = _file_labels(catalogue_dir)
    used_caps = {c for t in unit_types for c in t["capabilities"]} | {
        step["capability"] for t in incident_types for step in t["response_plan"]
    }
    return {
        "agencies": agencies,
        "capabilities": _labelled(capabilities, used_caps),
        "unit_types": unit_types,
        "categories": _labelled(categories, {t["category"] for t in incident_types}),
        "incident_types": incident_types,
    }


_Labels = dict[str, dict[str, Any]]


def _file_labels(catalogue_dir: Path) -> tuple[_Labels, _Labels]:
    try:
        files = load_catalogue(catalogue_dir)
    except ImportFailed as exc:
        log.warning("catalogue labels unreadable: %s", exc.message)
        return {}, {}
    pick = ("code", "name_en", "name_ar")
    return (
        {c["code"]: {k: c[k] for k in pick} for c in files.capability},
        {c["code"]: {k: c[k] for k in pick} for c in files.category},
    )


def _labelled(labels: _Labels, used: set[str]) -> list[dict[str, Any]]:
    """Every labelled code, then any code in use without a label (null labels)."""
    missing = {c: {"code": c, "name_en": None, "name_ar": None} for c in used - set(labels)}
    merged = {**labels, **missing}
    return [merged[c] for c in sorted(merged)]


def reload_catalogue(engine: Engine, *, by: User, catalogue_dir: Path) -> ImportReport:
    """Re-import the catalogue files (upsert by code, rows in use kept); all or nothing.

    An invalid catalogue is refused with the importer's message (422) and changes
    nothing. A successful reload is published as a ``catalogue.reloaded`` live event.
    """
    require(by, "admin")
    try:
        with transaction(engine) as conn:
            report = import_catalogue(conn, catalogue_dir)
            events.publish(
                conn,
                "catalogue.reloaded",
                {
                    **{k: v for k, v in report.extra.items() if k != "kept_in_use"},
                    "by": by.username,
                },
            )
    except ImportFailed as exc:
        # name the file, not where the server keeps it
        path = exc.details.get("path")
        raise ImportFailed(exc.message, details={"file": Path(path).name} if path else {}) from exc
    log.info("catalogue reloaded by %s: %s", by.username, report.summary())
    return report
