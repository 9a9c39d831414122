"""The planner page in Debian's Chromium against a real server on real PostGIS: the
imported Riyadh region (demo units and a generated history), and the whole Doha region
(coverage, gaps, heatmap and adding five stations, in English and Arabic). Writes the
screenshots artifacts/screenshots/planner-coverage.png, planner-heatmap.png and
planner-doha-siting-{en,ar}.png."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from dispatch_helpers import live_server
from najda.analytics.history import simulate_history
from najda.config import project_root
from najda.dispatch.auth import create_user
from najda.dispatch.seed import seed_demo

pytestmark = pytest.mark.browser

SHOTS = project_root() / "artifacts" / "screenshots"
PASSWORD = "planner-pass-1"


@pytest.fixture
def site(riyadh_engine: Engine) -> Iterator[str]:
    seed_demo(riyadh_engine, region="riyadh")
    simulate_history(
        riyadh_engine, months=0.5, per_day=8, seed=11, end=datetime(2026, 9, 1, tzinfo=UTC)
    )
    create_user(riyadh_engine, username="planner-1", role="planner", password=PASSWORD)
    with live_server(riyadh_engine) as server:
        yield server.url.removesuffix("/api/v1")


def _login(page: Any, base: str, lang: str = "en", region: str = "riyadh") -> None:
    page.goto(f"{base}/planner?lang={lang}&region={region}")
    page.fill("input[name=username]", "planner-1")
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/planner**")
    page.wait_for_selector("#map[data-state=ready]", timeout=60_000)


def test_planner_coverage_and_heatmap_screenshots(browser: Any, site: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, site)
    page.wait_for_selector("#kpi-table table")
    # this road patch is small: minute-scale thresholds show the rings
    page.fill("input[name=thresholds]", "1,2,3")
    page.locator("#controls button").click()
    page.wait_for_selector("#map[data-state=ready]", timeout=60_000)
    page.fill("#siting input[name=threshold]", "1")
    page.fill("#siting input[name=add]", "2")
    page.locator("#siting button").click()
    page.wait_for_selector("#map[data-siting='2']", timeout=60_000)
    assert page.locator(".pl-new-site").count() == 2
    assert int(page.get_attribute("#map", "data-features")) == 3  # 1, 2 and 3 minutes
    before, after = (
        float(x.replace(",", ""))
        for x in page.locator("#siting-result .pl-big small").all_inner_texts()
    )
    assert after > before
    assert page.locator("#coverage-table tr").count() >= 3
    assert page.locator(".pl-std").count() == 2
    assert "Ar-Riyad" in page.inner_text("#coverage-table")
    page.evaluate("document.querySelector('.pl-side').scrollTop = 0")
    page.screenshot(path=str(SHOTS / "planner-coverage.png"), full_page=True)

    page.check("input[name=layer][value=heatmap]")
    page.wait_for_selector("#map[data-layer=heatmap][data-state=ready]", timeout=60_000)
    assert int(page.get_attribute("#map", "data-features")) > 20
    assert "Modelled response time" in page.inner_text("#legend")
    page.screenshot(path=str(SHOTS / "planner-heatmap.png"), full_page=True)
    assert errors == []


def test_planner_in_arabic_is_rtl(browser: Any, site: str) -> None:
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    _login(page, site, lang="ar")
    assert page.get_attribute("html", "dir") == "rtl"
    assert "التغطية الموزونة بالسكان" in page.inner_text("body")
    page.check("input[name=layer][value=measured]")
    page.wait_for_selector("#map[data-layer=measured][data-state=ready]", timeout=60_000)
    assert int(page.get_attribute("#map", "data-features")) > 5


@pytest.fixture
def doha_site(doha_engine: Engine) -> Iterator[str]:
    create_user(doha_engine, username="planner-1", role="planner", password=PASSWORD)
    with live_server(doha_engine) as server:
        yield server.url.removesuffix("/api/v1")


def _solve_add_five(page: Any) -> int:
    page.fill("#siting input[name=add]", "5")
    page.fill("#siting input[name=threshold]", "4")
    page.locator("#siting button").click()
    page.wait_for_function(
        "() => /^[0-9]+$/.test(document.getElementById('map').dataset.siting || '')",
        timeout=180_000,
    )
    return int(page.get_attribute("#map", "data-siting"))


def test_planner_on_the_whole_city_of_doha(browser: Any, doha_site: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, doha_site, region="doha")
    table = page.inner_text("#coverage-table")
    assert "Ad Dawhah" in table and "not placed: no locality or street data" in table
    summary = page.inner_text("#summary")
    assert "Shares of the people the population layer places in cells" in summary
    assert "1,497,477 of 1,887,006 residents placed" in summary
    for layer, at_least in (("gaps", 10), ("heatmap", 1000)):
        page.check(f"input[name=layer][value={layer}]")
        page.wait_for_selector(f"#map[data-layer={layer}][data-state=ready]", timeout=120_000)
        assert int(page.get_attribute("#map", "data-features")) >= at_least
    page.check("input[name=layer][value=coverage]")
    page.wait_for_selector("#map[data-layer=coverage][data-state=ready]", timeout=120_000)

    added = _solve_add_five(page)
    assert added == 5
    assert page.locator(".pl-new-site").count() == 5
    gains = [
        float(g)
        for g in page.locator("#siting-sites li").evaluate_all(
            "items => items.map((li) => li.dataset.gain)"
        )
    ]
    assert len(gains) == 5 and all(g > 0 for g in gains)
    assert "Proposed station 1" in page.inner_text("#siting-sites")
    # each star on the map names its rank and the people it adds
    titles = page.locator(".pl-new-site").evaluate_all("els => els.map((e) => e.title)")
    assert sorted(titles) == sorted(
        f"Proposed station {k + 1}: +{g:,.0f} people" for k, g in enumerate(gains)
    )
    assert "proven optimal" in page.inner_text("#siting-result")
    page.evaluate("document.querySelector('.pl-side').scrollTop = 0")
    page.screenshot(path=str(SHOTS / "planner-doha-siting-en.png"), full_page=True)
    assert errors == []

    arabic = browser.new_page(viewport={"width": 1400, "height": 1000})
    _login(arabic, doha_site, lang="ar", region="doha")
    assert arabic.get_attribute("html", "dir") == "rtl"
    assert "النسب من السكان الموزّعين على الخلايا في طبقة السكان" in arabic.inner_text("#summary")
    assert "الدوحة" in arabic.inner_text("#coverage-table")
    assert _solve_add_five(arabic) == 5
    assert arabic.locator(".pl-new-site").count() == 5
    assert "المركز المقترح ١" in arabic.inner_text("#siting-sites")
    arabic.screenshot(path=str(SHOTS / "planner-doha-siting-ar.png"), full_page=True)
