"""Browser libraries, bundled by flask-assets, and compressed answers.

Leaflet and its marker-cluster plugin come from their xstatic packages (PyPI);
Leaflet.VectorGrid, which draws the vector tiles, from npm (``package.json``, installed
into ``node_modules/`` by ``make setup``, that is ``npm ci``). Each folder is exposed as a
static-only blueprint (``/vendor/leaflet/...``, ``/vendor/markercluster/...``,
``/vendor/vectorgrid/...``), so the images Leaflet's CSS refers to are served too; the
``cssrewrite`` filter points the bundled CSS at them. Bundles are written to
``web/static/gen/`` (git-ignored) and rebuilt when a source changes.

Answers are compressed (Flask-Compress: zstd, Brotli or gzip, whichever the browser
takes) when they are text, JSON, GeoJSON or vector tiles; the event stream is not (it is
not in the list, and must reach the browser event by event).
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, Flask
from flask_assets import Bundle, Environment
from flask_compress import Compress
from xstatic.pkg import leaflet, leaflet_markercluster

from najda.config import project_root

log = logging.getLogger(__name__)

VECTORGRID_JS = "Leaflet.VectorGrid.bundled.min.js"
COMPRESSED_TYPES = [
    "text/html",
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/geo+json",
    "application/vnd.mapbox-vector-tile",
    "image/svg+xml",
    "text/csv",
]


def vectorgrid_dir() -> Path:
    """Where ``npm ci`` puts Leaflet.VectorGrid's built files."""
    return project_root() / "node_modules" / "leaflet.vectorgrid" / "dist"


def _vendor() -> dict[str, tuple[str, str]]:
    # blueprint name -> (folder, URL prefix)
    return {
        "leaflet": (leaflet.BASE_DIR, "/vendor/leaflet"),
        "markercluster": (leaflet_markercluster.BASE_DIR, "/vendor/markercluster"),
        "vectorgrid": (str(vectorgrid_dir()), "/vendor/vectorgrid"),
    }


def _vendor_blueprint(name: str, folder: str, url: str) -> Blueprint:
    return Blueprint(name, __name__, static_folder=folder, static_url_path=url)


def _vendor_scripts() -> list[str]:
    scripts = ["leaflet/leaflet.js", "markercluster/leaflet.markercluster.js"]
    if (vectorgrid_dir() / VECTORGRID_JS).is_file():
        scripts.append(f"vectorgrid/{VECTORGRID_JS}")
    else:  # the pages say so on the map (no tiles drawn) instead of failing to render
        log.warning("%s is missing: run `make setup` (npm ci)", vectorgrid_dir() / VECTORGRID_JS)
    return scripts


def _bundles() -> dict[str, Bundle]:
    return {
        "vendor_js": Bundle(*_vendor_scripts(), output="gen/vendor.%(version)s.js"),
        "app_css": Bundle(
            "leaflet/leaflet.css",
            "markercluster/MarkerCluster.css",
            "markercluster/MarkerCluster.Default.css",
            "css/basemap.css",
            "css/najda.css",
            filters="cssrewrite",
            output="gen/najda.%(version)s.css",
        ),
    }


def init_app(app: Flask) -> Environment:
    for name, (folder, url) in _vendor().items():
        app.register_blueprint(_vendor_blueprint(name, folder, url))
    app.config.setdefault("ASSETS_AUTO_BUILD", True)
    app.config.setdefault("ASSETS_URL_EXPIRE", False)
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSED_TYPES)
    app.config.setdefault("COMPRESS_MIN_SIZE", 1024)
    Compress(app)
    env = Environment(app)
    for name, bundle in _bundles().items():
        env.register(name, bundle)
    return env
