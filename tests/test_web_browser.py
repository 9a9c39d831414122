"""The map page in real Chromium against a real server on real PostGIS holding the
imported Riyadh region (``riyadh_engine``: the 20 WOF governorates, the Al-Muhammadiyah
OSM road graph, the OSM stations). Governorates and roads arrive as vector tiles drawn on
canvas (tests/map_helpers.py reads their pixels). Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from dispatch_helpers import PASSWORD, Server, live_server
from map_helpers import wait_painted, wait_tiles
from najda.config import project_root
from najda.dispatch.auth import create_user

pytestmark = pytest.mark.browser

SHOTS = project_root() / "artifacts" / "screenshots"
UNREACHABLE_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"
WAIT = 20_000


# -- a real server (the shared ``browser`` fixture drives Chromium) ------------------------
def root(server: Server) -> str:
    return server.url.removesuffix("/api/v1")


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
def live(riyadh: tuple[Engine, dict[str, int]]) -> Iterator[Server]:
    create_user(riyadh[0], username="viewer", role="planner", password=PASSWORD)
    with live_server(riyadh[0]) as server:
        server.app.config["NAJDA_TILE_URL"] = ""
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
    """Open the map at ``url``, signing in on the console's login page on the way."""
    page.goto(url)
    if "/console/login" in page.url:
        page.fill("#login-username", "viewer")
        page.fill("#login-password", PASSWORD)
        page.click("#login-submit")
    page.wait_for_selector("#map[data-state='ready']", timeout=WAIT)


def shoot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path))
    return path


# -- tests -----------------------------------------------------------------------------
def test_map_draws_governorates_and_roads(
    live: Server, page: Any, riyadh: tuple[Engine, dict[str, int]]
) -> None:
    counts = riyadh[1]
    open_map(page, f"{root(live)}/?lang=en")
    assert page.url == f"{root(live)}/?lang=en"  # back from the login page
    assert page.get_attribute("html", "dir") == "ltr"
    assert page.get_attribute("#map", "data-governorates") == str(counts["governorate"]) == "20"
    assert wait_tiles(page, "boundary-tiles") >= 1
    assert wait_painted(page, "boundaries") > 1000  # the choropleth fills the region
    assert page.locator(".gov-label").count() == 20
    assert page.locator("#gov-list li").count() == 20
    assert page.locator("#gov-list li").first.inner_text().startswith("Ar-Riyad")
    assert page.locator("#db-status").get_attribute("data-state") == "ok"
    shoot(page, "map-region-en.png")

    page.click("#zoom-roads")
    wait_tiles(page, "road-tiles", 2)
    assert wait_painted(page, "roads", 500) >= 500  # the district's streets
    assert page.get_attribute("#map", "data-stations") == str(counts["station"])
    shoot(page, "map-roads-en.png")
    assert page.errors == []


def test_arabic_map_runs_right_to_left(live: Server, page: Any) -> None:
    open_map(page, f"{root(live)}/?lang=ar")
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.get_attribute("html", "lang") == "ar"
    assert page.inner_text("#region-name") == "منطقة الرياض"
    assert page.locator("#gov-list li").first.inner_text().startswith("الرياض")
    assert "المحافظات" in page.inner_text("aside")
    # Right-to-left for real: the side panel sits on the right of the map.
    panel = page.locator("aside.panel").bounding_box()
    map_box = page.locator("#map").bounding_box()
    assert panel["x"] > map_box["x"]
    wait_painted(page, "boundaries", 1000)
    shoot(page, "map-region-ar.png")
    page.click("#zoom-roads")
    wait_painted(page, "roads", 500)
    shoot(page, "map-roads-ar.png")
    page.click("#lang-switch")
    page.wait_for_selector("#map[data-state='ready']")
    assert page.get_attribute("html", "dir") == "ltr"
    assert page.errors == []


def test_map_works_when_the_tile_server_is_unreachable(live: Server, page: Any) -> None:
    live.app.config["NAJDA_TILE_URL"] = UNREACHABLE_TILES
    open_map(page, f"{root(live)}/?lang=en")
    page.wait_for_selector("#map[data-tiles='unreachable']", timeout=15_000)
    assert wait_painted(page, "boundaries", 1000) >= 1000  # drawn from the database
    assert wait_painted(page, "roads", 1) >= 1
    assert page.is_visible("#map-note")
    shoot(page, "map-offline-tiles-en.png")
    assert page.errors == []
