"""The planner's page (``/planner``): coverage, gaps and heatmap layers, KPI tables and
the station-siting answer, drawn from the ``/api/v1/analytics`` endpoints.

Signed-in people of any role may read it; without a session the console's login page
is shown first and comes back here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from najda.analytics.coverage import DENOMINATORS
from najda.analytics.kpi import STAGES, STANDARDS
from najda.errors import NajdaError
from najda.web.api.analytics import planner_for
from najda.web.api.auth import current_user
from najda.web.i18n import LANG_COOKIE, LANGUAGES, Locale, choose_language, locale_for
from najda.web.ui import page_regions, tile_urls

bp = Blueprint("planner", __name__)


def _locale() -> Locale:
    static = Path(current_app.static_folder or "")
    lang = choose_language(
        request.args.get("lang"),
        request.accept_languages.best_match(LANGUAGES),
        request.cookies.get(LANG_COOKIE),
    )
    return locale_for(
        [static / "i18n" / "messages.json", static / "planner" / "messages.json"], lang
    )


def planner_config(locale: Locale) -> dict[str, Any]:
    regions, region = page_regions()
    api = {
        name: url_for(f"api.analytics_{name}")
        for name in ("coverage", "gaps", "heatmap", "kpis", "siting")
    }
    api.update(governorates=url_for("api.governorates"), stations=url_for("api.stations"))
    api.update(tile_urls())
    return {
        "lang": locale.lang,
        "api": api,
        "regions": regions,
        "region": region,
        "stages": list(STAGES),
        "messages": locale.messages,
        "standards": [
            {"code": s.code, "stage": s.stage, "target_s": s.target_s} for s in STANDARDS
        ],
        "tiles": {
            "url": current_app.config.get("NAJDA_TILE_URL", ""),
            "attribution": current_app.config.get("NAJDA_TILE_ATTRIBUTION", ""),
        },
    }


def analytics_config(region: dict[str, Any] | None) -> dict[str, Any]:
    """What the analytics panels need besides the base map: the agencies with stations
    in the region (names from the catalogue) and what each percentage is a share of."""
    agencies = planner_for(region["code"]).agencies() if region else []
    return {"agencies": agencies, "denominators": DENOMINATORS}


@bp.get("/planner")
def planner_page() -> Response:
    locale = _locale()
    try:
        user = current_user()
    except NajdaError:
        user = None
    if user is None:
        return make_response(
            redirect(url_for("console.login_page", next=request.full_path.rstrip("?")))
        )
    config = planner_config(locale)
    config.update(analytics_config(config["region"]))
    html = render_template("planner.html", t=locale, config=config, user=user)
    response = make_response(html)
    response.headers["Content-Language"] = locale.lang
    response.headers["Cache-Control"] = "no-store"
    return response
