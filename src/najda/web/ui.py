"""Pages. For now the first map: governorates and roads drawn from the API, in Arabic or
English (``?lang=ar`` runs the page right-to-left)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, render_template, request, url_for

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


@bp.get("/")
def map_page() -> str:
    lang = choose_language(request.args.get("lang"), request.accept_languages.best_match(LANGUAGES))
    locale = locale_for(_messages_path(), lang)
    return render_template("map.html", t=locale, map_config=_map_config(lang))
