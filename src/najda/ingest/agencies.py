"""A region's own agencies: which catalogue agencies answer its calls, and their names.

Agency codes, unit types, incident types and response plans are shared by every region
(``geo_data/catalogue``); what a centre calls its agencies is not. The ambulance service
is the Saudi Red Crescent Authority in Riyadh and Hamad Medical Corporation's Ambulance
Service in Doha, under the same code ``red_crescent`` (codes never change: units,
stations and jurisdictions refer to them). A region manifest lists its agencies::

    [[agency]]
    code = "red_crescent"                 # a catalogue agency code
    name_en = "Hamad Medical Corporation Ambulance Service"   # optional, with name_ar
    name_ar = "خدمة الإسعاف - مؤسسة حمد الطبية"
    call_prefix = "AMB"                   # optional: call-sign prefix of its demo units

A region whose manifest lists none has every catalogue agency under its catalogue name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from najda.errors import ImportFailed, NotFound
from najda.ingest.base import Bind, ImportReport, region_id, replace_layer
from najda.ingest.names import clean_name, has_arabic

LAYER = "agencies"
_KEYS = {"code", "name_en", "name_ar", "call_prefix"}
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_PREFIX = re.compile(r"^[A-Z]{1,3}$")


@dataclass(frozen=True)
class RegionAgency:
    """One ``[[agency]]`` entry: a catalogue code and, optionally, the local names."""

    code: str
    name_en: str | None = None
    name_ar: str | None = None
    call_prefix: str | None = None


def parse_region_agencies(entries: Any, *, source: str) -> list[RegionAgency]:
    """The ``[[agency]]`` tables of a manifest, checked for shape.

    Raises
    ------
    ImportFailed
        Not a list of tables, an unknown key, a bad code or prefix, a code listed twice,
        only one of the two names, or an Arabic name without an Arabic letter.
    """
    if entries is None:
        return []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ImportFailed(f"{source}: [agency] must be an array of tables ([[agency]])")
    agencies = [_entry(entry, source=source) for entry in entries]
    codes = [a.code for a in agencies]
    twice = sorted({c for c in codes if codes.count(c) > 1})
    if twice:
        raise ImportFailed(f"{source}: agency listed twice: {', '.join(twice)}")
    return agencies


def _entry(entry: dict[str, Any], *, source: str) -> RegionAgency:
    code = entry.get("code")
    where = f"{source}: agency {code!r}"
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise ImportFailed(f"{where}: unknown key(s) {unknown}")
    if not isinstance(code, str) or not _CODE.match(code):
        raise ImportFailed(f"{where}: code must be a catalogue agency code (lower_snake_case)")
    name_en, name_ar = clean_name(entry.get("name_en")), clean_name(entry.get("name_ar"))
    if (name_en is None) != (name_ar is None):
        raise ImportFailed(f"{where}: give both name_en and name_ar, or neither")
    if name_ar is not None and not has_arabic(name_ar):
        raise ImportFailed(f"{where}: name_ar has no Arabic letter")
    prefix = entry.get("call_prefix")
    if prefix is not None and (not isinstance(prefix, str) or not _PREFIX.match(prefix)):
        raise ImportFailed(f"{where}: call_prefix must be 1 to 3 capital letters")
    return RegionAgency(code, name_en, name_ar, prefix)


def import_region_agencies(
    engine: Bind, region: str, agencies: Sequence[RegionAgency]
) -> ImportReport:
    """Replace the agency list of ``region`` (which must exist) in one transaction.

    Raises
    ------
    ImportFailed
        A code that is not in the catalogue (import the catalogue first).
    """
    report = ImportReport(layer=LAYER, region=region, source="region manifest [[agency]]")
    with replace_layer(engine, report) as conn:
        rid = region_id(conn, region)
        ids = _agency_ids(conn, [a.code for a in agencies])
        conn.execute(text("DELETE FROM region_agency WHERE region_id = :rid"), {"rid": rid})
        for position, agency in enumerate(agencies, start=1):
            conn.execute(
                text("""
                INSERT INTO region_agency (region_id, agency_id, position, name_en, name_ar,
                                           call_prefix)
                VALUES (:rid, :aid, :pos, :en, :ar, :prefix)"""),
                {
                    "rid": rid,
                    "aid": ids[agency.code],
                    "pos": position,
                    "en": agency.name_en,
                    "ar": agency.name_ar,
                    "prefix": agency.call_prefix,
                },
            )
        report.imported = len(agencies)
    if agencies:
        report.extra["codes"] = ", ".join(a.code for a in agencies)
    else:
        report.extra["agencies"] = "every catalogue agency, catalogue names"
    return report


def _agency_ids(conn: Connection, codes: Sequence[str]) -> dict[str, int]:
    rows = conn.execute(
        text("SELECT code, id FROM agency WHERE code = ANY(:codes)"), {"codes": list(codes)}
    ).all()
    found: dict[str, int] = {str(code): int(aid) for code, aid in rows}
    missing = [c for c in codes if c not in found]
    if missing:
        raise ImportFailed(
            f"agency {', '.join(missing)} is not in the catalogue (najda import catalogue)",
            details={"agencies": missing},
        )
    return found


def region_agencies(conn: Connection, region: str) -> list[dict[str, Any]]:
    """The agencies of ``region`` in its order: code, name_en, name_ar, color, call_prefix.

    Raises
    ------
    NotFound
        No region ``region`` is loaded (code ``unknown_region``).
    """
    rid = conn.execute(text("SELECT id FROM region WHERE code = :c"), {"c": region}).scalar()
    if rid is None:
        raise NotFound(
            f"No region with code {region!r} is loaded.",
            code="unknown_region",
            details={"region": region},
        )
    rows = conn.execute(
        text("""
        SELECT a.code, coalesce(ra.name_en, a.name_en) AS name_en,
               coalesce(ra.name_ar, a.name_ar) AS name_ar, a.color, ra.call_prefix
        FROM agency a LEFT JOIN region_agency ra ON ra.agency_id = a.id AND ra.region_id = :rid
        WHERE ra.region_id IS NOT NULL
           OR NOT EXISTS (SELECT 1 FROM region_agency x WHERE x.region_id = :rid)
        ORDER BY ra.position NULLS LAST, a.id"""),
        {"rid": rid},
    ).mappings()
    return [dict(r) for r in rows]


def catalogue_for_region(
    catalogue: dict[str, list[dict[str, Any]]], agencies: Sequence[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """The shared catalogue as one region sees it: its agencies, under their names there,
    and the unit types of those agencies; incident types and plans are unchanged.

    Parameters
    ----------
    catalogue
        As :func:`najda.dispatch.catalogue.read_catalogue` answers it.
    agencies
        The region's agencies (:func:`region_agencies`).
    """
    codes = {a["code"] for a in agencies}
    return {
        **catalogue,
        "agencies": [{k: a[k] for k in ("code", "name_en", "name_ar", "color")} for a in agencies],
        "unit_types": [t for t in catalogue.get("unit_types", []) if t["agency"] in codes],
    }
