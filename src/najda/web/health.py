"""``GET /health``: is the database reachable, which schema revision, what is loaded.

Answers 200 with the counts, or 503 in the error shape when the database is down or not
migrated (a load balancer or ``make demo`` can poll it).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from najda.web.geo_queries import database_health
from najda.web.state import engine

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> Response:
    response = jsonify(database_health(engine()))
    response.headers["Cache-Control"] = "no-store"
    return response
