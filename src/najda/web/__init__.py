"""The web application: ``create_app()`` builds the Flask app, its engine and its blueprints.

Nothing is created at import time. Templates and static files live in the repository's
``web/`` folder (``web/templates``, ``web/static``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from najda.config import Settings, load_settings, project_root
from najda.db.session import make_engine
from najda.web.state import WebState


def web_root() -> Path:
    """The folder holding ``templates/`` and ``static/``."""
    return project_root() / "web"


def _secret_key(settings: Settings) -> str:
    """NAJDA_SECRET_KEY, else a key made once and kept in NAJDA_HOME.

    A kept key lets logins survive restarts and work across several gunicorn workers.
    """
    if settings.secret_key:
        return settings.secret_key
    path = settings.home / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    settings.home.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32).hex()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _default_config(settings: Settings) -> dict[str, Any]:
    return {
        "SECRET_KEY": _secret_key(settings),
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        # An optional raster base map; the map works without it (it draws the data itself).
        "NAJDA_TILE_URL": settings.tile_url,
        "NAJDA_TILE_ATTRIBUTION": settings.tile_attribution,
        "NAJDA_SITING_TIME_LIMIT_S": settings.siting_time_limit_s,
    }


def create_app(
    settings: Settings | None = None, *, config: Mapping[str, Any] | None = None
) -> Flask:
    """Build the Najda web application.

    Parameters
    ----------
    settings
        Where the database and data live; read from the environment when omitted.
    config
        Flask configuration overriding the defaults (``TESTING``, ``NAJDA_TILE_URL`` ...).
    """
    from najda.web import api, assets, console, errors, health, osmand, ui

    settings = settings or load_settings()
    root = web_root()
    app = Flask(
        "najda",
        template_folder=str(root / "templates"),
        static_folder=str(root / "static"),
        static_url_path="/static",
    )
    app.config.update(_default_config(settings))
    app.config.update(config or {})
    app.request_class = errors.NajdaRequest
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Arabic stays readable
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["najda"] = WebState(settings=settings, engine=make_engine(settings))

    errors.init_app(app)
    assets.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(ui.bp)
    app.register_blueprint(osmand.bp)
    app.register_blueprint(console.bp)
    from najda.web import planner

    app.register_blueprint(planner.bp)
    return app
