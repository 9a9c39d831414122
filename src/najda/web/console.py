"""The dispatcher's console (``/console``) and the login page (``/console/login``).

The page is rendered once with everything its scripts need (labels in the chosen
language, the catalogue, the lifecycle, the API's addresses, both calendars for recent
days); from then on the scripts talk to the JSON API and listen to its event stream.
People log in through ``POST /api/v1/auth/login``; the session cookie it sets is what
the console's API calls carry.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
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
from flask.blueprints import BlueprintSetupState
from flask_assets import Bundle
from sqlalchemy import text
from werkzeug.routing import BuildError

from najda.dispatch import lifecycle
from najda.dispatch.auth import User
from najda.dispatch.catalogue import list_incident_types
from najda.dispatch.timefmt import utcnow
from najda.errors import NajdaError
from najda.ingest.agencies import catalogue_for_region, region_agencies
from najda.web.api.auth import current_user
from najda.web.i18n import (
    DEFAULT_ZONE,
    LANG_COOKIE,
    LANGUAGES,
    Locale,
    calendar_table,
    choose_language,
    gregorian_label,
    hijri_label,
    local_day,
    locale_for,
)
from najda.web.state import engine, web_state
from najda.web.ui import page_regions, tile_urls


def _static_dir() -> str:
    from najda.web import web_root

    return str(web_root() / "static" / "console")


# The static folder lets the asset bundle name "console/console.css" (flask-assets reads a
# first path component as a blueprint); pages load the modules from /static/console/.
bp = Blueprint("console", __name__, static_folder=_static_dir(), static_url_path="/console/static")

ONE_YEAR_S = 365 * 24 * 3600


@bp.record_once
def _register_bundles(state: BlueprintSetupState) -> None:
    # The console's stylesheet, bundled like the map's (Leaflet's images rewritten).
    env = state.app.jinja_env.assets_environment  # type: ignore[attr-defined]
    env.register(
        "console_css",
        Bundle(
            "leaflet/leaflet.css",
            "markercluster/MarkerCluster.css",
            "markercluster/MarkerCluster.Default.css",
            "css/basemap.css",
            "console/console.css",
            filters="cssrewrite",
            output="gen/console.%(version)s.css",
        ),
    )


# -- language ---------------------------------------------------------------------------
def _catalogue_paths() -> list[Path]:
    static = Path(current_app.static_folder or "")
    return [static / "i18n" / "messages.json", static / "console" / "messages.json"]


def request_locale() -> Locale:
    lang = choose_language(
        request.args.get("lang"),
        request.accept_languages.best_match(LANGUAGES),
        request.cookies.get(LANG_COOKIE),
    )
    return locale_for(_catalogue_paths(), lang)


def _remember(response: Response, locale: Locale) -> Response:
    if request.args.get("lang") in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, locale.lang, max_age=ONE_YEAR_S, samesite="Lax", httponly=True
        )
    response.headers["Content-Language"] = locale.lang
    response.headers["Cache-Control"] = "no-store"
    return response


# -- what the page's scripts are given ----------------------------------------------------
@lru_cache(maxsize=4)
def _static_catalogue(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """Capability and category labels (kept in the catalogue files, not in tables)."""
    from najda.ingest.catalogue import load_catalogue

    try:
        cat = load_catalogue(folder)
    except NajdaError:
        return {"capabilities": [], "categories": []}
    pick = ("code", "name_en", "name_ar")
    return {
        "capabilities": [{k: c[k] for k in pick} for c in cat.capability],
        "categories": [{k: c[k] for k in pick} for c in cat.category],
    }


def _catalogue(region: str | None = None) -> dict[str, Any]:
    """What the console labels things with; with ``region``, that region's own agencies
    under their local names and their unit types (incident types are shared)."""
    db = engine()
    with db.connect() as conn:
        agencies = [
            dict(r)
            for r in conn.execute(
                text("SELECT code, name_en, name_ar, color FROM agency ORDER BY id")
            ).mappings()
        ]
        unit_types = [
            dict(r)
            for r in conn.execute(
                text(
                    "SELECT t.code, t.name_en, t.name_ar, a.code AS agency FROM unit_type t "
                    "JOIN agency a ON a.id = t.agency_id ORDER BY t.id"
                )
            ).mappings()
        ]
        local = region_agencies(conn, region) if region is not None else None
    labels = _static_catalogue(web_state().settings.geo_data_dir / "catalogue")
    found = {
        "incident_types": [t.as_dict() for t in list_incident_types(db)],
        "agencies": agencies,
        "unit_types": unit_types,
        **labels,
    }
    return found if local is None else catalogue_for_region(found, local)


def _url(endpoint: str, **values: Any) -> str | None:
    """The address of an endpoint, or None while the module serving it is not there."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def _api_urls() -> dict[str, str | None]:
    names = (
        "regions",
        "governorates",
        "roads",
        "stations",
        "search",
        "incident_types",
        "list_incidents",
        "units",
        "jurisdictions",
        "login",
        "logout",
        "me",
    )
    urls = {name: _url(f"api.{name}") for name in names}
    urls["incidents"] = urls.pop("list_incidents")
    urls["events"] = _url("api.events_stream") or _url("api.events")
    urls["health"] = _url("health.health")
    return urls


def _clock(now: datetime, lang: str) -> dict[str, Any]:
    today = local_day(now, DEFAULT_ZONE)
    return {
        "zone": DEFAULT_ZONE,
        "now": now.isoformat(),
        "today": today.isoformat(),
        "gregorian": gregorian_label(today, lang),
        "hijri": hijri_label(today, lang),
        "calendar": calendar_table(today, lang),
    }


def _user_json(user: User) -> dict[str, Any]:
    return {
        **user.as_dict(),
        "can_dispatch": user.can("dispatch"),
        "can_override": user.can("override"),
    }


def console_config(user: User, locale: Locale) -> dict[str, Any]:
    regions, region = page_regions()
    return {
        "lang": locale.lang,
        "user": _user_json(user),
        "api": {**_api_urls(), **tile_urls()},
        "regions": regions,
        "region": region,
        "catalogue": _catalogue(region["code"] if region else None),
        "lifecycle": {
            "statuses": list(lifecycle.STATUSES),
            "open": sorted(lifecycle.OPEN_STATUSES, key=lifecycle.STATUSES.index),
            "transitions": {
                k: sorted(v, key=lifecycle.STATUSES.index) for k, v in lifecycle.TRANSITIONS.items()
            },
        },
        "stale_after_s": web_state().settings.position_max_age_s,
        "clock": _clock(utcnow(), locale.lang),
        "tiles": {
            "url": current_app.config.get("NAJDA_TILE_URL", ""),
            "attribution": current_app.config.get("NAJDA_TILE_ATTRIBUTION", ""),
        },
        "login_page": url_for("console.login_page"),
        "resync_s": float(current_app.config.get("NAJDA_CONSOLE_RESYNC_S", 15.0)),
    }


# -- pages ------------------------------------------------------------------------------
def _signed_in() -> User | None:
    try:
        return current_user()
    except NajdaError:
        return None


@bp.get("/console")
def console_page() -> Response:
    locale = request_locale()
    user = _signed_in()
    if user is None:
        return _remember(
            make_response(
                redirect(url_for("console.login_page", next=request.full_path.rstrip("?")))
            ),
            locale,
        )
    html = render_template("console.html", t=locale, config=console_config(user, locale), user=user)
    return _remember(make_response(html), locale)


@bp.get("/console/login")
def login_page() -> Response:
    locale = request_locale()
    target = request.args.get("next") or url_for("console.console_page")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("console.console_page")  # never send someone off-site
    if _signed_in() is not None:
        return _remember(make_response(redirect(target)), locale)
    now = utcnow()
    html = render_template(
        "console_login.html",
        t=locale,
        next_url=target,
        login_url=url_for("api.login"),
        clock=_clock(now, locale.lang),
    )
    return _remember(make_response(html), locale)
