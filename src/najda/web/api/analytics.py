"""Planner analytics: coverage, gaps, heatmaps, KPIs and station siting.

Every endpoint is a GET (planner role or above), answers JSON by default and the same
result as a download with ``format=csv`` or ``format=geojson``. Views parse the query
string, ask one :class:`najda.analytics.service.Planner` method, and serialise.

Siting solves an integer program on a reduced candidate set (every road node is a
candidate; see :mod:`najda.analytics.siting`); the solver stops after
``NAJDA_SITING_TIME_LIMIT_S`` seconds (Flask config; :data:`SITING_TIME_LIMIT_S` by
default), answering 422 ``solver_time_limit`` rather than holding a worker.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, current_app, jsonify, request

from najda.analytics import coverage as cov
from najda.analytics import heatmap, kpi
from najda.analytics.export import points_geojson, rows_to_csv
from najda.analytics.service import Planner
from najda.errors import InvalidInput
from najda.web import params as p
from najda.web.api import bp
from najda.web.api import openapi as doc
from najda.web.api.auth import authorized
from najda.web.api.geo import geojson_response
from najda.web.api.routing_adapter import graph_source
from najda.web.state import engine, web_state

_KEY = "najda.analytics.planners"
FORMATS = ("json", "csv", "geojson")
SOURCES = ("stations", "units")
MODELS = ("mclp", "lscp")
MAX_CANDIDATE_RESOLUTION = 10
SITING_TIME_LIMIT_S = 10.0

METHOD = {
    "population": "governorate populations; localities' people spread over their "
    "neighbourhood polygons by area (else at their point) on H3 cells; a governorate "
    "without localities spreads its people over its residential streets (by length) "
    "when the road data covers at least a tenth of it; "
    "people neither accounts for are unplaced and never covered",
    "travel_time": "one forward multi-source search on the road graph from the stations' "
    "linked road nodes (or available units' snapped positions)",
    "demand": "each H3 cell takes the time of the road node nearest its centre within "
    f"{cov.DEFAULT_ACCESS_M:g} m; cells farther from every road are off-network",
}


def planner() -> Planner:
    """The planner of the region asked for (``region``, default riyadh)."""
    return planner_for(p.parse_region(request.args.get("region")) or "riyadh")


def planner_for(region: str) -> Planner:
    """This application's planner of ``region`` (one per region, sharing the app's graphs)."""
    planners: dict[str, Planner] = current_app.extensions.setdefault(_KEY, {})
    if region not in planners:
        planners.setdefault(
            region,
            Planner(
                engine(),
                region,
                graphs=graph_source(),
                max_age_s=web_state().settings.position_max_age_s,
            ),
        )
    return planners[region]


# -- parsing -----------------------------------------------------------------------------
def _format() -> str:
    fmt = (request.args.get("format") or "json").lower()
    if fmt not in FORMATS:
        raise InvalidInput(
            "format must be json, csv or geojson",
            details={"parameter": "format", "known": list(FORMATS)},
        )
    return fmt


def _choice(name: str, default: str, known: tuple[str, ...]) -> str:
    value = request.args.get(name) or default
    if value not in known:
        raise InvalidInput(
            f"{name} must be one of {', '.join(known)}",
            details={"parameter": name, "known": list(known)},
        )
    return value


def _thresholds() -> tuple[float, ...]:
    raw = request.args.get("thresholds")
    if not raw:
        return cov.DEFAULT_THRESHOLDS_MIN
    try:
        values = [float(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise InvalidInput(
            "thresholds must be comma-separated minutes", details={"parameter": "thresholds"}
        ) from None
    return cov.check_thresholds(values)


def _resolution(default: int) -> int:
    return p.parse_int(
        request.args.get("resolution"), name="resolution", default=default, low=6, high=10
    )


def _agency() -> str | None:
    return request.args.get("agency") or None


def _time(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(
            f"{name} must be an ISO 8601 date or time", details={"parameter": name}
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _targets() -> dict[str, float]:
    out = {}
    for stage in kpi.STAGES:
        value = p.parse_float(
            request.args.get(f"target_{stage}"), name=f"target_{stage}", low=1.0, high=86_400.0
        )
        if value is not None:
            out[stage] = value
    return out


# -- answering ---------------------------------------------------------------------------
def _csv(rows: list[dict[str, Any]], name: str) -> Response:
    response = current_app.response_class(rows_to_csv(rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


def _geojson(collection: dict[str, Any], name: str) -> Response:
    response = geojson_response(collection)
    if request.args.get("download"):
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.geojson"'
    return response


def _coverage() -> tuple[cov.Coverage, dict[str, Any]]:
    source = _choice("source", "stations", SOURCES)
    agency = _agency()
    result = planner().coverage(
        source=source, agency=agency, thresholds_min=_thresholds(), resolution=_resolution(8)
    )
    return result, {"source": source, "agency": agency}


@bp.get("/analytics/coverage")
def analytics_coverage() -> Response:
    """Population-weighted coverage per governorate; areas as GeoJSON."""
    authorized("read")
    fmt = _format()
    result, query = _coverage()
    if fmt == "csv":
        return _csv(result.governorate_rows(), "coverage")
    if fmt == "geojson":
        return _geojson(cov.coverage_geojson(result), "coverage-areas")
    return jsonify(
        {
            **query,
            "region": planner().region,
            "thresholds_min": list(result.thresholds_min),
            "resolution": result.demand.surface.resolution,
            "method": METHOD,
            "denominators": cov.DENOMINATORS,
            "totals": result.totals(),
            "governorates": result.governorate_rows(),
            "sources_used": [s.as_dict() for s in result.sources_used],
            "sources_left_out": len(result.sources_left_out),
        }
    )


@bp.get("/analytics/gaps")
def analytics_gaps() -> Response:
    """H3 cells with people beyond a threshold (or off the network)."""
    authorized("read")
    fmt = _format()
    threshold = (
        p.parse_float(request.args.get("threshold"), name="threshold", low=0.5, high=120.0) or 8.0
    )
    result, query = _coverage()
    if threshold not in result.thresholds_min:
        result, query = _coverage_with(threshold)
    rows = result.gap_rows(threshold)
    if fmt == "csv":
        return _csv(rows, f"gaps-{threshold:g}min")
    if fmt == "geojson":
        return _geojson(cov.gaps_geojson(result, threshold), f"gaps-{threshold:g}min")
    return jsonify(
        {
            **query,
            "threshold_min": threshold,
            "cells": len(rows),
            "population": sum(r["population"] for r in rows),
            "rows": rows[:1000],
        }
    )


def _coverage_with(threshold: float) -> tuple[cov.Coverage, dict[str, Any]]:
    source = _choice("source", "stations", SOURCES)
    result = planner().coverage(
        source=source, agency=_agency(), thresholds_min=(threshold,), resolution=_resolution(8)
    )
    return result, {"source": source, "agency": _agency()}


@bp.get("/analytics/heatmap")
def analytics_heatmap() -> Response:
    """Modelled (road graph) or measured (incident history) response times per H3 cell."""
    authorized("read")
    fmt = _format()
    kind = _choice("kind", "modelled", ("modelled", "measured"))
    resolution = p.parse_int(
        request.args.get("resolution"), name="resolution", default=0, low=6, high=11
    )
    if kind == "modelled":
        # by default, the finest cells that keep the whole road graph a few thousand shapes
        resolution = resolution or planner().heatmap_resolution()
        source = _choice("source", "stations", SOURCES)
        rows = planner().modelled_heatmap(source=source, agency=_agency(), resolution=resolution)
        query: dict[str, Any] = {"source": source, "agency": _agency()}
    else:
        resolution = resolution or heatmap.DEFAULT_RESOLUTION
        stage = _choice("stage", "response", kpi.STAGES)
        rows = planner().measured_heatmap(stage=stage, resolution=resolution, since=_time("since"))
        query = {"stage": stage}
    if fmt == "csv":
        return _csv(rows, f"heatmap-{kind}")
    if fmt == "geojson":
        return _geojson(heatmap.cells_geojson(rows), f"heatmap-{kind}")
    return jsonify({"kind": kind, **query, "resolution": resolution, "cells": rows})


@bp.get("/analytics/kpis")
def analytics_kpis() -> Response:
    """p50/p90 per stage and group, standards and settable targets (``target_<stage>``)."""
    authorized("read")
    fmt = _format()
    if fmt == "geojson":
        raise InvalidInput(
            "KPIs have no geometry: use json or csv", details={"parameter": "format"}
        )
    by = _choice("by", "all", kpi.DIMENSIONS)
    report = planner().kpis(by=by, targets=_targets(), since=_time("since"), until=_time("until"))
    if fmt == "csv":
        return _csv(report.rows, f"kpis-by-{by}")
    return jsonify(
        {
            "by": by,
            "incidents": report.incidents,
            "stages": list(kpi.STAGES),
            "targets": report.targets,
            "standards": report.standards,
            "rows": report.rows,
        }
    )


@bp.get("/analytics/siting")
def analytics_siting() -> Response:
    """Where to add stations: ``model=mclp&add=N`` or ``model=lscp``, with before/after."""
    authorized("read")
    fmt = _format()
    model = _choice("model", "mclp", MODELS)
    add = p.parse_int(request.args.get("add"), name="add", default=1, low=1, high=20)
    threshold = (
        p.parse_float(request.args.get("threshold"), name="threshold", low=0.5, high=60.0) or 8.0
    )
    candidate_res = p.parse_int(
        request.args.get("candidate_resolution"),
        name="candidate_resolution",
        default=0,  # every road node
        low=6,
        high=MAX_CANDIDATE_RESOLUTION,
    )
    answer = planner().siting(
        model=model,  # type: ignore[arg-type]  # checked against the two names above
        add=add,
        threshold_min=threshold,
        agency=_agency(),
        resolution=_resolution(8),
        candidate_resolution=candidate_res or None,
        progress=False,  # a server has no terminal to draw a bar on
        time_limit_s=float(
            current_app.config.get("NAJDA_SITING_TIME_LIMIT_S", SITING_TIME_LIMIT_S)
        ),
    )
    answer = {**answer, "denominators": cov.DENOMINATORS}
    if fmt == "csv":
        return _csv(answer["new_sites"], f"siting-{model}")
    if fmt == "geojson":
        sites = points_geojson(
            [{**s, "kind": "new_site"} for s in answer["new_sites"]]
            + [{**s, "kind": "existing"} for s in answer["existing"]]
        )
        cells = heatmap.cells_geojson(answer["cells"])
        return _geojson(
            {"type": "FeatureCollection", "features": cells["features"] + sites["features"]},
            f"siting-{model}",
        )
    return jsonify(answer)


# -- OpenAPI -----------------------------------------------------------------------------
def _answers(
    body: dict[str, Any],
    *,
    formats: tuple[str, ...] = FORMATS,
    geojson: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """200 in each of ``formats`` (CSV as text, GeoJSON as a feature collection), and the
    errors every analytics endpoint can give."""
    media = {
        "json": (doc.JSON, body),
        "csv": ("text/csv", {"type": "string"}),
        "geojson": (doc.GEOJSON, geojson or doc.ref("FeatureCollection")),
    }
    content = {media[f][0]: {"schema": media[f][1]} for f in formats}
    return {
        "200": {"description": "OK (the format asked for)", "content": content},
        **doc.error_answers("400", "401", "403", "404", "422", "503"),
    }


def _common(*, formats: tuple[str, ...] = FORMATS) -> list[dict[str, Any]]:
    return [
        doc.query("region", doc.REGION, "region code (default riyadh)"),
        doc.query("format", {"type": "string", "enum": list(formats)}, "default json"),
    ]


def _source() -> list[dict[str, Any]]:
    return [
        doc.query("source", {"type": "string", "enum": list(SOURCES)}),
        doc.query("agency", doc.CODE),
    ]


def _h3_param(low: int, high: int, name: str = "resolution", note: str = "") -> dict[str, Any]:
    schema = {"type": "integer", "minimum": low, "maximum": high}
    return doc.query(name, schema, "H3 resolution" + (f" ({note})" if note else ""))


def _minutes(name: str, low: float, high: float) -> dict[str, Any]:
    return doc.query(name, {"type": "number", "minimum": low, "maximum": high}, "minutes")


ARRAY = {"type": "array", "items": doc.OBJ}


def openapi_paths() -> dict[str, Any]:
    """This module's part of the OpenAPI document (called by :mod:`.openapi`)."""
    STR, NUM, INT = doc.STR, doc.NUM, doc.INT
    thresholds = doc.query("thresholds", STR, "comma-separated minutes, 1 to 6 in (0, 120]")
    since = doc.query("since", STR, "ISO 8601 date or time")
    return {
        "/analytics/coverage": {
            "get": doc.operation(
                "Population-weighted coverage per governorate (GeoJSON: the areas)",
                _answers(
                    doc.obj(
                        {
                            "region": STR,
                            "thresholds_min": {"type": "array", "items": NUM},
                            "resolution": INT,
                            "totals": doc.OBJ,
                            "governorates": ARRAY,
                            "sources_used": ARRAY,
                            "sources_left_out": INT,
                            "denominators": doc.OBJ,
                        },
                        extra=True,
                    )
                ),
                tag="analytics",
                params=[*_common(), *_source(), thresholds, _h3_param(6, 10)],
            )
        },
        "/analytics/gaps": {
            "get": doc.operation(
                "H3 cells with people beyond a threshold or off the road network",
                _answers(
                    doc.obj(
                        {"threshold_min": NUM, "cells": INT, "population": NUM, "rows": ARRAY},
                        extra=True,
                    )
                ),
                tag="analytics",
                params=[
                    *_common(),
                    *_source(),
                    _minutes("threshold", 0.5, 120),
                    thresholds,
                    _h3_param(6, 10),
                ],
            )
        },
        "/analytics/heatmap": {
            "get": doc.operation(
                "Modelled (road graph) or measured (history) response times per H3 cell",
                _answers(doc.obj({"kind": STR, "resolution": INT, "cells": ARRAY}, extra=True)),
                tag="analytics",
                params=[
                    *_common(),
                    doc.query("kind", {"type": "string", "enum": ["modelled", "measured"]}),
                    *_source(),
                    doc.query("stage", {"type": "string", "enum": list(kpi.STAGES)}),
                    _h3_param(
                        6,
                        11,
                        note="modelled default: the finest up to 9 keeping the graph "
                        "within a few thousand cells; measured default: 9",
                    ),
                    since,
                ],
            )
        },
        "/analytics/kpis": {
            "get": doc.operation(
                "Response-time percentiles per stage and group against standards and targets",
                _answers(
                    doc.obj(
                        {
                            "by": STR,
                            "incidents": INT,
                            "stages": {"type": "array", "items": STR},
                            "targets": doc.OBJ,
                            "standards": ARRAY,
                            "rows": ARRAY,
                        },
                        extra=True,
                    ),
                    formats=("json", "csv"),
                ),
                tag="analytics",
                params=[
                    *_common(formats=("json", "csv")),
                    doc.query("by", {"type": "string", "enum": list(kpi.DIMENSIONS)}),
                    since,
                    doc.query("until", STR, "ISO 8601 date or time"),
                    *(
                        doc.query(
                            f"target_{stage}",
                            {"type": "number", "minimum": 1, "maximum": 86_400},
                            "seconds",
                        )
                        for stage in kpi.STAGES
                    ),
                ],
            )
        },
        "/analytics/siting": {
            "get": doc.operation(
                "Where to add stations (maximal or set covering) with before and after; every "
                "road node is a candidate (or one per H3 cell at candidate_resolution); a site "
                "that adds no one is never proposed (added may be below requested); "
                "422 solver_time_limit when the solver cannot finish in time",
                _answers(
                    doc.obj(
                        {
                            "model": {"type": "string", "enum": list(MODELS)},
                            "threshold_min": NUM,
                            "requested": INT,
                            "added": INT,
                            "exact": doc.BOOL,
                            "reduction": doc.OBJ,
                            "new_sites": ARRAY,
                            "existing": ARRAY,
                            "cells": ARRAY,
                            "covered_before": NUM,
                            "covered_after": NUM,
                            "denominators": doc.OBJ,
                        },
                        extra=True,
                    )
                ),
                tag="analytics",
                params=[
                    *_common(),
                    doc.query("model", {"type": "string", "enum": list(MODELS)}),
                    doc.query("add", {"type": "integer", "minimum": 1, "maximum": 20}),
                    _minutes("threshold", 0.5, 60),
                    doc.query("agency", doc.CODE),
                    _h3_param(6, 10),
                    _h3_param(
                        6,
                        MAX_CANDIDATE_RESOLUTION,
                        "candidate_resolution",
                        "one candidate per cell; default: every road node",
                    ),
                ],
            )
        },
    }
