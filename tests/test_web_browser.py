"""The map page in real Chromium against a real server on real PostGIS holding the
imported Riyadh region (``riyadh_engine``: the 20 WOF governorates, the Al-Muhammadiyah
OSM road graph, the OSM stations). Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from werkzeug.serving import make_server

from najda.config import load_settings, project_root
from najda.web import create_app

pytestmark = pytest.mark.browser

SHOTS = project_root() / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
UNREACHABLE_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"


# -- a real server and a real browser --------------------------------------------------
class LiveServer:
    def __init__(self, engine: Engine, config: dict[str, Any]) -> None:
        settings = load_settings().with_overrides(
            database_url=engine.url.render_as_string(hide_password=False), online=False
        )
        self.app = create_app(settings, config=config)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.app.extensions["najda"].engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _layer_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table: int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in ("governorate", "road_edge", "station")
        }


@pytest.fixture
def riyadh(riyadh_engine: Engine) -> tuple[Engine, dict[str, int]]:
    return riyadh_engine, _layer_counts(riyadh_engine)


@pytest.fixture
def live(riyadh: tuple[Engine, dict[str, int]]) -> Iterator[LiveServer]:
    with LiveServer(riyadh[0], {"NAJDA_TILE_URL": ""}) as server:
        yield server


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 860})
    page = context.new_page()
    page.errors = []  # uncaught script errors; every test asserts there were none
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    yield page
    context.close()


def open_map(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#map[data-state='ready']", timeout=20_000)


def drawn(page: Any, selector: str) -> int:
    """Paths actually drawn (an SVG path with geometry, not an empty clipped one)."""
    count: int = page.eval_on_selector_all(
        selector, "els => els.filter(e => (e.getAttribute('d') || '').length > 8).length"
    )
    return count


def shoot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path))
    return path


# -- tests -----------------------------------------------------------------------------
def test_map_draws_governorates_and_roads(
    live: LiveServer, page: Any, riyadh: tuple[Engine, dict[str, int]]
) -> None:
    counts = riyadh[1]
    open_map(page, f"{live.url}/?lang=en")
    assert page.get_attribute("html", "dir") == "ltr"
    assert page.get_attribute("#map", "data-governorates") == str(counts["governorate"]) == "20"
    assert page.locator("path.najda-gov").count() == 20
    assert drawn(page, "path.najda-gov") == 20
    assert page.locator("path.najda-road").count() > 0  # the major roads, at region zoom
    assert page.locator("#gov-list li").count() == 20
    assert page.locator("#gov-list li").first.inner_text().startswith("Ar-Riyad")
    assert page.locator("#db-status").get_attribute("data-state") == "ok"
    shoot(page, "map-region-en.png")

    region_roads = int(page.get_attribute("#map", "data-roads") or 0)
    page.click("#zoom-roads")
    page.wait_for_function(f"Number(document.getElementById('map').dataset.roads) > {region_roads}")
    page.wait_for_timeout(400)
    roads = int(page.get_attribute("#map", "data-roads") or 0)
    assert roads == counts["road_edge"] - _two_way_twins(riyadh[0])
    assert page.get_attribute("#map", "data-stations") == str(counts["station"])
    assert drawn(page, "path.najda-road") > 300
    shoot(page, "map-roads-en.png")
    assert page.errors == []


def _two_way_twins(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM road_edge e WHERE EXISTS (SELECT 1 FROM road_edge r "
                    "WHERE r.u = e.v AND r.v = e.u AND r.id < e.id "
                    "AND r.osm_way_id IS NOT DISTINCT FROM e.osm_way_id)"
                )
            ).scalar_one()
        )


def test_arabic_map_runs_right_to_left(live: LiveServer, page: Any) -> None:
    open_map(page, f"{live.url}/?lang=ar")
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.get_attribute("html", "lang") == "ar"
    assert page.inner_text("#region-name") == "منطقة الرياض"
    assert page.locator("#gov-list li").first.inner_text().startswith("الرياض")
    assert "المحافظات" in page.inner_text("aside")
    # Right-to-left for real: the side panel sits on the right of the map.
    panel = page.locator("aside.panel").bounding_box()
    map_box = page.locator("#map").bounding_box()
    assert panel["x"] > map_box["x"]
    assert drawn(page, "path.najda-gov") == 20
    shoot(page, "map-region-ar.png")
    page.click("#zoom-roads")
    page.wait_for_function("Number(document.getElementById('map').dataset.roads) > 300")
    page.wait_for_timeout(400)
    shoot(page, "map-roads-ar.png")
    page.click("#lang-switch")
    page.wait_for_selector("#map[data-state='ready']")
    assert page.get_attribute("html", "dir") == "ltr"
    assert page.errors == []


def test_map_works_when_the_tile_server_is_unreachable(
    riyadh: tuple[Engine, dict[str, int]], page: Any
) -> None:
    with LiveServer(riyadh[0], {"NAJDA_TILE_URL": UNREACHABLE_TILES}) as server:
        open_map(page, f"{server.url}/?lang=en")
        page.wait_for_selector("#map[data-tiles='unreachable']", timeout=15_000)
        assert drawn(page, "path.najda-gov") == 20
        assert page.locator("path.najda-road").count() > 0
        assert page.is_visible("#map-note")
        shoot(page, "map-offline-tiles-en.png")
        assert page.errors == []
