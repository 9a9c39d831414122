"""The map at city scale, in Debian's Chromium against a real server over the real Doha
region (95,947 road edges, 8 municipalities, 73 neighbourhoods, demo units seeded):
roads drawn from vector tiles, street names at close zoom, jurisdictions fetched only once
turned on, the region switcher, and the console's first load under 1 MB in Arabic and in
English (every response's bytes summed as the browser received them). Screenshots go to
artifacts/screenshots/ and the byte counts to artifacts/console-first-load-<lang>.json.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from dispatch_helpers import Server, live_server
from map_helpers import WAIT, painted, wait_loaded, wait_painted, wait_tiles
from najda.config import project_root
from najda.dispatch.seed import seed_demo

pytestmark = pytest.mark.browser

ARTIFACTS = project_root() / "artifacts"
SHOTS = ARTIFACTS / "screenshots"
FIRST_LOAD_LIMIT = 1_000_000  # bytes, issue 10's target for the console
OLD_TOWN = (25.2865, 51.5330)  # Grand Hamad Street and Al Corniche


@pytest.fixture
def doha(doha_engine: Engine) -> Iterator[tuple[Server, dict[str, str]]]:
    report = seed_demo(doha_engine, region="doha")
    assert report.units_created > 20
    with live_server(doha_engine) as server:
        server.app.config["NAJDA_TILE_URL"] = ""
        yield server, report.credentials


def root(server: Server) -> str:
    return server.url.removesuffix("/api/v1")


class Traffic:
    """Every request of a page and the bytes of each finished response (headers and body
    as they came over the wire, compressed where they were)."""

    def __init__(self, page: Any) -> None:
        self.started: list[Any] = []
        self.done: dict[Any, int] = {}
        page.on("request", lambda request: self.started.append(request))
        page.on("requestfinished", self._finished)
        page.on("requestfailed", lambda request: self.done.setdefault(request, 0))

    def _finished(self, request: Any) -> None:
        sizes = request.sizes()
        self.done[request] = sizes["responseHeadersSize"] + sizes["responseBodySize"]

    def urls(self, part: str) -> list[str]:
        return [r.url for r in self.started if part in r.url]

    def settle(self, page: Any, timeout_s: float = 30.0) -> None:
        """Wait until every request but the event stream has been answered."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            pending = [r for r in self.started if r not in self.done and "/events" not in r.url]
            if not pending:
                return
            page.wait_for_timeout(100)
        raise AssertionError(f"still waiting for {[r.url for r in pending][:5]}")

    def report(self) -> dict[str, Any]:
        rows = sorted(
            ((r.url.split("?")[0], n) for r, n in self.done.items()), key=lambda row: -row[1]
        )
        return {"total_bytes": sum(self.done.values()), "requests": len(rows), "largest": rows[:15]}


def new_page(browser: Any) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return context, page


def sign_in(page: Any, server: Server, password: str) -> None:
    """A session cookie from the login API (so that the page load measured is the console's)."""
    answer = page.request.post(
        f"{server.url}/auth/login", data={"username": "dispatcher", "password": password}
    )
    assert answer.ok, answer.text()


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


def open_console(browser: Any, doha: tuple[Server, dict[str, str]], lang: str) -> tuple[Any, ...]:
    """A fresh browser (empty cache) signed in, its traffic counted from the console's load."""
    server, credentials = doha
    context, page = new_page(browser)
    sign_in(page, server, credentials["dispatcher"])
    traffic = Traffic(page)
    page.goto(f"{root(server)}/console?lang={lang}")
    page.wait_for_selector("#map[data-state='ready']", timeout=WAIT)
    return context, page, traffic


def open_layers(page: Any) -> None:
    page.hover(".leaflet-control-layers")
    page.wait_for_selector(".leaflet-control-layers-expanded", timeout=WAIT)


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_console_first_load_is_under_a_megabyte(
    browser: Any, doha: tuple[Server, dict[str, str]], lang: str
) -> None:
    context, page, traffic = open_console(browser, doha, lang)
    assert page.get_attribute("html", "dir") == ("rtl" if lang == "ar" else "ltr")
    wait_tiles(page, "road-tiles", 4)
    wait_tiles(page, "boundary-tiles", 4)
    assert wait_painted(page, "roads", 2000) >= 2000  # the city's main roads, on canvas
    assert int(page.get_attribute("#map", "data-units") or 0) > 20
    wait_loaded(page, "road-tiles", "boundary-tiles")
    traffic.settle(page)

    load = traffic.report()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"console-first-load-{lang}.json").write_text(json.dumps(load, indent=1))
    assert load["total_bytes"] <= FIRST_LOAD_LIMIT, load
    assert traffic.urls("/api/v1/tiles/roads/") and traffic.urls("/api/v1/tiles/boundaries/")
    assert traffic.urls("/api/v1/roads") == []  # no GeoJSON roads any more
    assert traffic.urls("jurisdictions") == []  # not shown, not fetched
    shoot(page, f"console-doha-{lang}.png")
    assert page.errors == []
    context.close()


def test_console_streets_labels_and_jurisdictions_on_request(
    browser: Any, doha: tuple[Server, dict[str, str]]
) -> None:
    context, page, traffic = open_console(browser, doha, "ar")
    assert page.get_attribute("#map", "data-labels") in (None, "0")  # none at city zoom

    page.evaluate(f"window.__najdaMap.setView([{OLD_TOWN[0]}, {OLD_TOWN[1]}], 16.5)")
    page.wait_for_function(
        "Number(document.getElementById('map').dataset.labels || 0) >= 8", timeout=WAIT
    )
    names = page.locator(".road-label").all_inner_texts()
    assert "Grand Hamad Street" in names  # Doha's roads have English names only
    assert len(names) == len(set(names)) or len(names) > 8
    assert traffic.urls("/api/v1/tiles/labels/16/")
    assert wait_painted(page, "roads", 5000) >= 5000
    wait_loaded(page, "road-tiles", "boundary-tiles")
    shoot(page, "console-doha-streets-ar.png")

    assert traffic.urls("jurisdictions") == []
    # the map names the agency as the region does (its manifest), not by the catalogue
    open_layers(page)
    toggle = page.locator(".leaflet-control-layers-overlays label", has_text="دوريات شرطة الفزعة")
    toggle.locator("input").check()
    page.wait_for_function(
        "Number(document.getElementById('map').dataset.jurisdictionTiles || 0) >= 1",
        timeout=WAIT,
    )
    asked = traffic.urls("/api/v1/tiles/jurisdictions/")
    assert asked and all("agency=police" in url for url in asked)
    page.evaluate("window.__najdaMap.setView([25.33, 51.45], 11)")
    assert wait_painted(page, "jurisdictions", 100) >= 100
    assert page.errors == []
    context.close()


def test_map_page_over_doha_with_a_region_switcher(
    browser: Any, doha: tuple[Server, dict[str, str]], doha_engine: Engine
) -> None:
    server, credentials = doha
    with doha_engine.begin() as conn:  # a second region, so that a switcher is offered
        conn.execute(
            text("INSERT INTO region (code, name_en, name_ar) VALUES ('zz', 'Test', 'تجربة')")
        )
    context, page = new_page(browser)
    sign_in(page, server, credentials["dispatcher"])
    page.goto(f"{root(server)}/?lang=en&region=doha")
    page.wait_for_selector("#map[data-state='ready']", timeout=WAIT)
    assert page.inner_text("#region-name") == "Doha"
    assert page.locator("#gov-list li").count() == 8
    assert wait_painted(page, "boundaries", 5000) >= 5000  # the municipalities' choropleth
    assert wait_painted(page, "roads", 500) >= 500
    wait_loaded(page, "road-tiles", "boundary-tiles")
    shoot(page, "map-doha-en.png")

    page.click("#zoom-roads")
    page.wait_for_function("window.__najdaMap.getZoom() >= 9.5", timeout=WAIT)
    assert wait_painted(page, "roads", 3000) >= 3000
    wait_loaded(page, "road-tiles", "boundary-tiles")
    shoot(page, "map-doha-roads-en.png")

    assert page.locator("#region-select option").count() == 2
    page.select_option("#region-select", "zz")
    page.wait_for_url("**region=zz**", timeout=WAIT)
    page.wait_for_selector("#map[data-state]", timeout=WAIT)
    assert page.inner_text("#region-name") == "Test"
    assert "lang=en" in page.url  # the language stays
    assert painted(page, "roads") == 0  # nothing imported there
    context.close()


def test_map_page_in_arabic_over_doha(browser: Any, doha: tuple[Server, dict[str, str]]) -> None:
    server, credentials = doha
    context, page = new_page(browser)
    sign_in(page, server, credentials["dispatcher"])
    page.goto(f"{root(server)}/?lang=ar")
    page.wait_for_selector("#map[data-state='ready']", timeout=WAIT)
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.inner_text("#region-name") == "الدوحة"
    assert page.locator("#gov-list li").first.inner_text().startswith("الدوحة")
    assert page.locator("#region-select").count() == 0  # one region: no switcher
    wait_painted(page, "boundaries", 5000)
    wait_loaded(page, "road-tiles", "boundary-tiles")
    shoot(page, "map-doha-ar.png")
    assert page.errors == []
    context.close()
