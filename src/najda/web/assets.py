"""Leaflet and the marker-cluster plugin from their xstatic packages, bundled by flask-assets.

Each package's folder is exposed as a static-only blueprint (``/vendor/leaflet/...``,
``/vendor/markercluster/...``), so the images Leaflet's CSS refers to are served too; the
``cssrewrite`` filter points the bundled CSS at them. Bundles are written to
``web/static/gen/`` (git-ignored) and rebuilt when a source changes.
"""

from __future__ import annotations

from flask import Blueprint, Flask
from flask_assets import Bundle, Environment
from xstatic.pkg import leaflet, leaflet_markercluster

VENDOR = {
    # blueprint name -> (folder, URL prefix)
    "leaflet": (leaflet.BASE_DIR, "/vendor/leaflet"),
    "markercluster": (leaflet_markercluster.BASE_DIR, "/vendor/markercluster"),
}


def _vendor_blueprint(name: str, folder: str, url: str) -> Blueprint:
    return Blueprint(name, __name__, static_folder=folder, static_url_path=url)


def _bundles() -> dict[str, Bundle]:
    return {
        "vendor_js": Bundle(
            "leaflet/leaflet.js",
            "markercluster/leaflet.markercluster.js",
            output="gen/vendor.%(version)s.js",
        ),
        "app_css": Bundle(
            "leaflet/leaflet.css",
            "markercluster/MarkerCluster.css",
            "markercluster/MarkerCluster.Default.css",
            "css/najda.css",
            filters="cssrewrite",
            output="gen/najda.%(version)s.css",
        ),
    }


def init_app(app: Flask) -> Environment:
    for name, (folder, url) in VENDOR.items():
        app.register_blueprint(_vendor_blueprint(name, folder, url))
    app.config.setdefault("ASSETS_AUTO_BUILD", True)
    app.config.setdefault("ASSETS_URL_EXPIRE", False)
    env = Environment(app)
    for name, bundle in _bundles().items():
        env.register(name, bundle)
    return env
