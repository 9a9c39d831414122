"""Pages. The region map: governorates, roads and street names drawn from the API's vector
tiles, in Arabic or English (``?lang=ar`` runs the page right-to-left). The API it reads
needs a signed-in caller, so without a session the console's login page is shown first and
comes back here.

Also what every map page (this one, the console, the planner) is given: the addresses of
the tile layers and the region to show (:func:`page_regions`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote

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

from najda.errors import NajdaError
from najda.web import geo_queries
from najda.web.api.auth import current_user
from najda.web.i18n import LANGUAGES, choose_language, locale_for
from najda.web.state import engine, web_state

bp = Blueprint("ui", __name__)


def _messages_path() -> Path:
    return Path(current_app.static_folder or "") / "i18n" / "messages.json"


def tile_urls() -> dict[str, str]:
    """URL templates of the vector tiles (``{layer}``, ``{z}``, ``{x}``, ``{y}``) and labels."""
    return {
        "tiles": unquote(url_for("api.tile", layer="{layer}", z="{z}", x="{x}", y="{y}")),
        "labels": unquote(url_for("api.tile_labels", z="{z}", x="{x}", y="{y}")),
    }


def page_regions() -> tuple[list[dict[str, str]], dict[str, Any] | None]:
    """The loaded regions (code and names, for the switcher) and the one to show:
    ``?region=CODE``, else the ``NAJDA_REGION`` setting, else the first."""
    regions = geo_queries.list_regions(engine())
    region = geo_queries.choose_region(
        regions, wanted=request.args.get("region"), default=web_state().settings.region
    )
    brief = [{k: r[k] for k in ("code", "name_en", "name_ar")} for r in regions]
    return brief, region


def _map_config(lang: str) -> dict[str, object]:
    """What the page's script needs: endpoints, language, region and the optional tiles."""
    regions, region = page_regions()
    return {
        "lang": lang,
        "api": {
            **{name: url_for(f"api.{name}") for name in ("regions", "governorates", "stations")},
            **tile_urls(),
        },
        "regions": regions,
        "region": region,
        "health": url_for("health.health"),
        "tiles": {
            "url": current_app.config.get("NAJDA_TILE_URL", ""),
            "attribution": current_app.config.get("NAJDA_TILE_ATTRIBUTION", ""),
        },
    }


def _signed_in() -> bool:
    try:
        return current_user() is not None
    except NajdaError:  # a bad token or an unreachable database: sign in again
        return False


@bp.get("/")
def map_page() -> Response:
    if not _signed_in():
        return make_response(
            redirect(url_for("console.login_page", next=request.full_path.rstrip("?")))
        )
    lang = choose_language(request.args.get("lang"), request.accept_languages.best_match(LANGUAGES))
    locale = locale_for(_messages_path(), lang)
    return make_response(render_template("map.html", t=locale, map_config=_map_config(lang)))
