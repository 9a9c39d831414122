"""The catalogue: read it (any role, Arabic and English labels) and reload it (admin).

``GET /catalogue`` answers agencies, capabilities, unit types, incident categories and
incident types (with response plans), each entry with ``name_en`` and ``name_ar``;
``?lang=ar`` or ``?lang=en`` adds ``name`` in that language. ``?region=doha`` answers
the catalogue as that region sees it: its own agencies under their local names (Hamad
Medical Corporation's Ambulance Service for ``red_crescent`` in Doha) and their unit
types; incident types and response plans are shared by every region. ``POST /catalogue/reload``
re-imports ``<geo_data_dir>/catalogue`` (an invalid catalogue: 422 with the importer's
message, nothing changed).
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from najda.dispatch import catalogue as domain
from najda.dispatch.store import transaction
from najda.errors import InvalidInput
from najda.ingest.agencies import catalogue_for_region, region_agencies
from najda.web import params
from najda.web.api import bp, json_body
from najda.web.api import openapi as doc
from najda.web.api.auth import authorized
from najda.web.state import engine, web_state

LANGUAGES = ("ar", "en")
CATALOGUE_FOLDER = "catalogue"


def _catalogue_dir() -> Any:
    return web_state().settings.geo_data_dir / CATALOGUE_FOLDER


def _lang(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in LANGUAGES:
        raise InvalidInput("lang must be ar or en", details={"parameter": "lang"})
    return raw


def _named(entry: dict[str, Any], lang: str) -> dict[str, Any]:
    other = "en" if lang == "ar" else "ar"
    return {**entry, "name": entry.get(f"name_{lang}") or entry.get(f"name_{other}")}


@bp.get("/catalogue")
def catalogue() -> Response:
    user = authorized("read")
    lang = _lang(request.args.get("lang"))
    region = params.parse_region(request.args.get("region"))
    found = domain.read_catalogue(engine(), by=user, catalogue_dir=_catalogue_dir())
    if region is not None:
        with transaction(engine()) as conn:
            found = catalogue_for_region(found, region_agencies(conn, region))
    if lang is not None:
        found = {k: [_named(e, lang) for e in entries] for k, entries in found.items()}
    return jsonify(found)


@bp.post("/catalogue/reload")
def reload_catalogue() -> Response:
    user = authorized("admin")
    body = json_body()
    if body:
        raise InvalidInput("reload takes no options: send {}", details={"fields": sorted(body)})
    report = domain.reload_catalogue(engine(), by=user, catalogue_dir=_catalogue_dir())
    counts = {k: v for k, v in report.extra.items() if isinstance(v, int)}
    return jsonify(
        {
            "imported": report.imported,
            "counts": counts,
            "kept_in_use": report.extra.get("kept_in_use", {}),
        }
    )


def openapi_paths() -> dict[str, Any]:
    """This module's part of the OpenAPI document (called by :mod:`.openapi`)."""
    label = {"name_en": doc.nullable(doc.STR), "name_ar": doc.nullable(doc.STR)}
    name = {"name": doc.nullable(doc.STR)}

    def entries(props: dict[str, Any]) -> dict[str, Any]:
        item = doc.obj({**props, **name}, list(props))
        return {"type": "array", "items": item}

    plan = {"type": "array", "items": doc.ref("Requirement")}
    body = doc.obj(
        {
            "agencies": entries({"code": doc.STR, **label, "color": doc.STR}),
            "capabilities": entries({"code": doc.STR, **label}),
            "unit_types": entries(
                {
                    "code": doc.STR,
                    "agency": doc.STR,
                    **label,
                    "capabilities": {"type": "array", "items": doc.STR},
                }
            ),
            "categories": entries({"code": doc.STR, **label}),
            "incident_types": entries(
                {
                    "code": doc.STR,
                    "category": doc.STR,
                    **label,
                    "default_priority": {"type": "integer", "minimum": 1, "maximum": 5},
                    "response_plan": plan,
                }
            ),
        }
    )
    count_map = {"type": "object", "additionalProperties": doc.INT}
    kept = {"type": "object", "additionalProperties": {"type": "array", "items": doc.STR}}
    return {
        "/catalogue": {
            "get": doc.operation(
                "The catalogue: agencies, capabilities, unit types, categories and "
                "incident types with response plans (Arabic and English labels); with "
                "region, that region's own agencies under their local names",
                {**doc.ok(body), **doc.error_answers(*doc.READ_ERRORS, "404")},
                tag="catalogue",
                params=[
                    doc.query(
                        "lang",
                        {"type": "string", "enum": list(LANGUAGES)},
                        "adds name in this language",
                    ),
                    doc.query(
                        "region",
                        doc.REGION,
                        "a region code: its agencies (local names) and their unit types",
                    ),
                ],
            )
        },
        "/catalogue/reload": {
            "post": doc.operation(
                "Re-import geo_data/catalogue (admin): upsert by code, rows in use kept; "
                "an invalid catalogue is 422 with the importer's message and changes nothing",
                {
                    **doc.ok(
                        doc.obj({"imported": doc.INT, "counts": count_map, "kept_in_use": kept})
                    ),
                    **doc.error_answers("400", "401", "403", "415", "422", "503"),
                },
                tag="catalogue",
                body=doc.obj({}, []),
            )
        },
    }
