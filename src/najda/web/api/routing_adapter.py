"""The road graphs dispatch routes on, one cache per application."""

from __future__ import annotations

from flask import current_app

from najda.dispatch.assignments import Estimate, Estimator
from najda.dispatch.incidents import Incident
from najda.dispatch.recommend import estimate_units
from najda.dispatch.travel import StraightLine
from najda.errors import NajdaError
from najda.routing.graph import GraphCache
from najda.routing.store import GraphStore
from najda.web.state import engine, web_state

_KEY = "najda.dispatch.graphs"


def graph_source() -> GraphCache:
    """This application's graph cache (made on first use; reloads on a new version).

    Graphs are kept as files in ``NAJDA_HOME/graphs`` and memory-mapped, so the
    workers of one server share one copy (see :mod:`najda.routing.store`).
    """
    cache = current_app.extensions.get(_KEY)
    if cache is None:
        settings = web_state().settings
        cache = current_app.extensions.setdefault(
            _KEY,
            GraphCache(
                snap_limit_m=settings.snap_limit_m, store=GraphStore(settings.home / "graphs")
            ),
        )
    return cache


def straight_line() -> StraightLine:
    """How this application estimates ETAs the roads cannot give (from its settings)."""
    settings = web_state().settings
    return StraightLine(
        speed_kph=settings.straight_line_speed_kph, detour_factor=settings.straight_line_detour
    )


def estimator() -> Estimator:
    """Predictions for an assignment; routing trouble never blocks an assignment (a
    unit the roads cannot bring gets a straight-line estimate, failing that none)."""
    eng, graphs, pace = engine(), graph_source(), straight_line()

    def estimate(incident: Incident, unit_ids: list[int]) -> dict[int, Estimate]:
        try:
            return estimate_units(eng, graphs, incident, unit_ids, pace=pace)
        except NajdaError:
            return {}

    return estimate
