"""Pages. The region map: governorates and roads drawn from the API, in Arabic or English
(``?lang=ar`` runs the page right-to-left). The API it reads needs a signed-in caller,
so without a session the console's login page is shown first and comes back here."""

from __future__ import annotations

from pathlib import Path

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
from najda.web.api.auth import current_user
from najda.web.i18n import LANGUAGES, choose_language, locale_for

bp = Blueprint("ui", __name__)


def _messages_path() -> Path:
    return Path(current_app.static_folder or "") / "i18n" / "messages.json"


def _map_config(lang: str) -> dict[str, object]:
    """What the page's script needs: endpoints, language and the optional tile layer."""
    return {
        "lang": lang,
        "api": {
            name: url_for(f"api.{name}")
            for name in ("regions", "governorates", "roads", "stations")
        },
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
