"""The dispatcher's console in real Chromium against a real server on real PostGIS.

The Riyadh region is imported (``riyadh_engine``) and the demo units are seeded with the
dispatch core's own :func:`najda.dispatch.seed.seed_demo`. A dispatcher signs in on the
login page and works the console with the mouse and the keyboard; a second actor (a
supervisor's API token, a unit's tracking device) changes things behind the page's back
to show that the page follows live. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import pytest
from sqlalchemy import Engine, text

from dispatch_helpers import Api, Server, live_server, token_for
from map_helpers import wait_painted, wait_tiles
from najda.config import project_root
from najda.dispatch.auth import User
from najda.dispatch.seed import seed_demo

pytestmark = pytest.mark.browser

SHOTS = project_root() / "artifacts" / "screenshots"
# A point on Al-Muhammadiyah's streets, inside the imported road graph.
SCENE = (46.6500, 24.7390)
WAIT = 20_000


@pytest.fixture
def demo(riyadh_engine: Engine) -> dict[str, str]:
    """The demo units and people; the dispatcher's password."""
    report = seed_demo(riyadh_engine)
    assert report.units_created > 10
    return report.credentials


@pytest.fixture
def server(riyadh_engine: Engine, demo: dict[str, str]) -> Iterator[Server]:
    with live_server(riyadh_engine) as s:
        # Changes reach the page as events; the console's periodic re-read (15 s by
        # default) is only its safety net, made shorter here so a dropped event cannot
        # hide behind a long wait.
        s.app.config["NAJDA_CONSOLE_RESYNC_S"] = 4
        yield s


@pytest.fixture
def supervisor(riyadh_engine: Engine, server: Server) -> Api:
    """Another person at another desk, through the API."""
    return Api(server.url, token_for(riyadh_engine, "supervisor", name="supervisor-2"))


def root(server: Server) -> str:
    return server.url.removesuffix("/api/v1")


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    yield page
    context.close()


def sign_in(
    page: Any, server: Server, password: str, lang: str, username: str = "dispatcher"
) -> None:
    page.goto(f"{root(server)}/console?lang={lang}")
    page.wait_for_url("**/console/login**")
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click("#login-submit")
    page.wait_for_selector("#map[data-state='ready']", timeout=WAIT)
    # a marker on the window: gone if the page ever reloads
    page.evaluate("window.__sameDocument = true")


def click_map_at(page: Any, lon: float, lat: float) -> None:
    """Click the map where (lon, lat) is drawn (through Leaflet's own projection)."""
    point = page.evaluate(
        """([lon, lat]) => {
        const m = document.getElementById('map');
        const map = window.__najdaMap;
        const p = map.latLngToContainerPoint([lat, lon]);
        const box = m.getBoundingClientRect();
        return {x: box.left + p.x, y: box.top + p.y};
    }""",
        [lon, lat],
    )
    page.mouse.click(point["x"], point["y"])


def drawn(page: Any, selector: str) -> int:
    count: int = page.eval_on_selector_all(
        selector, "els => els.filter(e => (e.getAttribute('d') || '').length > 8).length"
    )
    return count


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


def unit_id(engine: Engine, call_sign: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM unit WHERE call_sign = :c"), {"c": call_sign}
            ).scalar_one()
        )


def make_stale(engine: Engine, minutes: int) -> str:
    """One posted patrol reported long ago: the console must mark it stale."""
    with engine.begin() as conn:
        return str(
            conn.execute(
                text(
                    "UPDATE unit SET last_fix_at = now() - make_interval(mins => :m) "
                    "WHERE id = (SELECT min(id) FROM unit WHERE call_sign LIKE 'T-PATROL-%') "
                    "RETURNING call_sign"
                ),
                {"m": minutes},
            ).scalar_one()
        )


def create_by_click(page: Any, type_code: str) -> str:
    click_map_at(page, *SCENE)
    page.wait_for_selector("#incident-type")
    page.select_option("#incident-type", type_code)
    page.fill("#caller-number", "0551234567")
    page.click("#create-submit")
    page.wait_for_selector(".incident-detail", timeout=WAIT)
    return str(page.get_attribute(".incident-detail", "data-incident-id"))


def recommendation_rows(page: Any) -> list[dict[str, Any]]:
    page.wait_for_selector("#rec-table .rec-row", timeout=WAIT)
    rows: list[dict[str, Any]] = page.eval_on_selector_all(
        "#rec-table .rec-row",
        """rows =>
        rows.map(r => ({unit_id: Number(r.dataset.unitId), eta: Number(r.dataset.eta),
                        call_sign: r.querySelector('.call-sign').textContent,
                        agency: r.querySelector('.agency-tag').textContent,
                        shown_eta: r.querySelector('.eta').textContent}))""",
    )
    return rows


def queue_order(page: Any) -> list[str]:
    ids: list[str] = page.eval_on_selector_all(
        "#queue .queue-item", "els => els.map(e => e.dataset.incidentId)"
    )
    return ids


def marker_status(page: Any, uid: int) -> str | None:
    status: str | None = page.get_attribute(f".unit-marker[data-unit-id='{uid}']", "data-status")
    return status


def wait_for_marker(page: Any, uid: int, status: str) -> None:
    """Until the unit's marker shows ``status`` (units are re-read after an event)."""
    page.wait_for_selector(
        f".unit-marker[data-unit-id='{uid}'][data-status='{status}']",
        state="attached",
        timeout=WAIT,
    )
    assert marker_status(page, uid) == status


def timeline_kinds(page: Any) -> list[str]:
    kinds: list[str] = page.eval_on_selector_all(
        "#timeline .tl-item", "els => els.map(e => e.dataset.kind)"
    )
    return kinds


# -- the flow in English -----------------------------------------------------------------
def test_create_recommend_assign_and_follow_live(
    riyadh_engine: Engine, server: Server, demo: dict[str, str], supervisor: Api, page: Any
) -> None:
    stale_sign = make_stale(riyadh_engine, minutes=25)
    # a call taken at another desk before this dispatcher signs in
    other = supervisor.post(
        "/incidents",
        json={"type": "medical_emergency", "location": {"lon": 46.6450, "lat": 24.7440}},
    ).json()
    sign_in(page, server, demo["dispatcher"], "en")
    assert page.get_attribute("html", "dir") == "ltr"
    with riyadh_engine.connect() as conn:
        units = conn.execute(text("SELECT count(*) FROM unit")).scalar_one()
    assert page.get_attribute("#map", "data-units") == str(units)
    assert wait_tiles(page, "road-tiles") >= 1  # the base map arrives as vector tiles
    assert page.get_attribute("#map", "data-governorates") == "20"
    stale = page.locator(".unit-marker.stale")
    assert stale.count() == 1
    assert stale.get_attribute("data-call-sign") == stale_sign
    assert "25 min" in stale.inner_text()
    assert page.locator("#queue .queue-item").count() == 1

    # the keyboard: J selects the next in the queue, Esc lets go, N starts a new call
    page.keyboard.press("j")
    page.wait_for_selector(f".incident-detail[data-incident-id='{other['id']}']")
    assert page.get_attribute("#queue .queue-item.selected", "data-incident-id") == str(other["id"])
    page.keyboard.press("Escape")
    page.wait_for_selector(".detail-empty")
    page.keyboard.press("n")
    page.wait_for_selector("#incident-type")
    assert page.get_attribute("#map", "data-draft") == "true"
    page.keyboard.press("Escape")
    page.wait_for_selector(".detail-empty")

    # 1. create by clicking the map
    incident_id = create_by_click(page, "building_fire")
    incident = supervisor.get(f"/incidents/{incident_id}").json()
    assert incident["type"]["code"] == "building_fire"
    assert incident["status"] == "received"
    assert abs(incident["location"]["lon"] - SCENE[0]) < 2e-4
    assert abs(incident["location"]["lat"] - SCENE[1]) < 2e-4
    assert page.inner_text("#detail-type") == "Building fire"
    # the queue: priority first (the fire is 1, the medical call 2), then age
    queue = queue_order(page)
    assert queue == [incident_id, str(other["id"])]

    # 2. recommended units in ETA order, the same as the API's, each route drawn
    rows = recommendation_rows(page)
    api_rec = supervisor.get(f"/incidents/{incident_id}/recommendations").json()
    expected = sorted(
        (u["eta_s"], u["unit_id"]) for r in api_rec["requirements"] for u in r["units"]
    )
    assert [(r["eta"], r["unit_id"]) for r in rows] == expected
    assert len(rows) == sum(r["count"] for r in incident["type"]["response_plan"]) == 4
    etas = [r["eta"] for r in rows]
    assert etas == sorted(etas)
    assert all(":" in r["shown_eta"] for r in rows)
    page.wait_for_function(f"document.getElementById('map').dataset.routes === '{len(rows)}'")
    assert drawn(page, "path.route-recommended") == len(rows)
    assert stale_sign not in {r["call_sign"] for r in rows}
    shoot(page, "console-en.png")

    # 3. untick the slowest, assign the rest with the keyboard ("A")
    slowest = rows[-1]
    page.uncheck(f".rec-row[data-unit-id='{slowest['unit_id']}'] .rec-pick")
    page.keyboard.press("a")
    page.wait_for_selector("#assigned .assigned-item", timeout=WAIT)
    page.wait_for_function("document.querySelectorAll('#assigned .assigned-item').length === 3")
    chosen = [r["unit_id"] for r in rows[:-1]]
    with riyadh_engine.connect() as conn:
        active = set(
            conn.execute(
                text(
                    "SELECT unit_id FROM assignment WHERE incident_id = :i AND released_at IS NULL"
                ),
                {"i": int(incident_id)},
            ).scalars()
        )
    assert active == set(chosen)
    for uid in chosen:
        wait_for_marker(page, uid, "dispatched")
    assert marker_status(page, slowest["unit_id"]) == "available"
    assert (
        page.get_attribute(f"#queue [data-incident-id='{incident_id}']", "data-status")
        == "dispatched"
    )
    # the unfilled requirement is recommended again, with only the unit left out
    rows_after = recommendation_rows(page)
    assert [r["unit_id"] for r in rows_after] == [slowest["unit_id"]]
    page.click("#assign-selected")
    page.wait_for_function("document.querySelectorAll('#assigned .assigned-item').length === 4")
    assert page.locator("#rec-table").count() == 0  # the plan is filled
    kinds = timeline_kinds(page)
    assert kinds == [
        "created",
        "unit_assigned",
        "unit_assigned",
        "unit_assigned",
        "transition",
        "unit_assigned",
    ]

    # 4. live: another desk moves the incident on; a unit's tracker reports a move
    first = chosen[0]
    assert (
        supervisor.post(
            f"/incidents/{incident_id}/transitions", json={"status": "en_route"}
        ).status_code
        == 200
    )
    wait_for_marker(page, first, "en_route")
    page.wait_for_selector(
        f"#queue [data-incident-id='{incident_id}'][data-status='en_route']", timeout=WAIT
    )
    page.wait_for_function(
        "document.querySelectorAll('#timeline .tl-item').length === 7", timeout=WAIT
    )
    _report_position(riyadh_engine, server, first, (46.6480, 24.7400))
    page.wait_for_function(
        f"""() => {{
        const ll = window.__najdaMap && window.__najdaUnitLatLng({first});
        return ll && Math.abs(ll.lng - 46.6480) < 1e-6 && Math.abs(ll.lat - 24.7400) < 1e-6;
    }}""",
        timeout=WAIT,
    )
    new_call = supervisor.post(
        "/incidents", json={"type": "cardiac_arrest", "location": {"lon": 46.6420, "lat": 24.7350}}
    ).json()
    page.wait_for_selector(f"#queue [data-incident-id='{new_call['id']}']", timeout=WAIT)
    # cardiac arrest is priority 1, received after the fire: second in the queue
    queue = queue_order(page)
    assert queue == [incident_id, str(new_call["id"]), str(other["id"])]
    assert page.evaluate("window.__sameDocument") is True

    # 5. lifecycle buttons: on scene, clear (the units come free), close
    page.click("[data-transition='on_scene']")
    page.wait_for_selector(".incident-detail[data-status='on_scene']", timeout=WAIT)
    page.click("[data-transition='cleared']")
    page.wait_for_selector(".incident-detail[data-status='cleared']", timeout=WAIT)
    wait_for_marker(page, first, "available")
    assert page.locator(f"#queue [data-incident-id='{incident_id}']").count() == 0
    page.click("[data-transition='closed']")
    page.wait_for_selector(".incident-detail[data-status='closed']", timeout=WAIT)
    kinds = timeline_kinds(page)
    assert kinds[-3:] == ["transition", "transition", "transition"]
    assert len(kinds) == 10
    shoot(page, "console-en-closed.png")
    assert page.errors == []


def _report_position(engine: Engine, server: Server, uid: int, where: tuple[float, float]) -> None:
    """The unit's tracking device reports through the field-unit API."""
    from najda.avl.credentials import issue_credentials

    admin = User(id=0, username="admin", role="admin")
    issued = issue_credentials(engine, unit_id=uid, by=admin)
    device = Api(server.url, issued.token)
    response = device.post(
        "/avl/positions",
        json={"time": datetime.now(UTC).isoformat(), "lon": where[0], "lat": where[1]},
    )
    assert response.status_code == 200, response.text


# -- release a unit; a supervisor changes the priority (another desk, in Arabic) ----------
def _assigned_count_is(page: Any, n: int) -> None:
    page.wait_for_function(
        f"document.querySelectorAll('#assigned .assigned-item').length === {n}", timeout=WAIT
    )


def _timeline_has(page: Any, kind: str) -> None:
    page.wait_for_selector(f"#timeline .tl-item[data-kind='{kind}']", timeout=WAIT)


def test_release_a_unit_and_change_priority_as_supervisor(
    riyadh_engine: Engine, server: Server, demo: dict[str, str], page: Any, browser: Any
) -> None:
    sign_in(page, server, demo["dispatcher"], "en")
    incident_id = create_by_click(page, "building_fire")
    iid = int(incident_id)
    # the moment the form opened is the call's answer time (call handling starts there)
    with riyadh_engine.connect() as conn:
        call = conn.execute(
            text(
                "SELECT c.answered_at, c.source, i.received_at FROM incident_call c "
                "JOIN incident i ON i.id = c.incident_id WHERE c.incident_id = :i"
            ),
            {"i": iid},
        ).one()
    assert call.source == "manual"
    assert timedelta(0) <= call.received_at - call.answered_at < timedelta(minutes=2)
    page.wait_for_selector("#detail-call-answered")
    recommendation_rows(page)
    page.click("#assign-selected")
    _assigned_count_is(page, 4)
    # a dispatcher may not override the priority: the control is not there
    assert page.locator("#priority-form").count() == 0

    # the supervisor's desk, in Arabic, on the same incident
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    sup = context.new_page()
    sup.errors = []
    sup.on("pageerror", lambda exc: sup.errors.append(str(exc)))
    sign_in(sup, server, demo["supervisor"], "ar", username="supervisor")
    sup.click(f"#queue [data-incident-id='{incident_id}']")
    sup.wait_for_selector(f".incident-detail[data-incident-id='{incident_id}']", timeout=WAIT)
    _assigned_count_is(sup, 4)

    # release: asks first (Esc keeps the unit), then frees it, by the keyboard
    item = page.locator("#assigned .assigned-item").last
    uid = int(item.get_attribute("data-unit-id") or 0)
    aid = item.get_attribute("data-assignment-id")
    page.focus(f"[data-release='{aid}']")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"[data-release-confirm='{aid}']:focus", timeout=WAIT)
    page.keyboard.press("Escape")
    page.wait_for_selector(f"[data-release='{aid}']:focus", timeout=WAIT)
    assert page.locator(".release-confirm").count() == 0
    assert page.locator(".incident-detail").count() == 1  # Esc did not let go of it
    page.keyboard.press("Enter")
    page.wait_for_selector(f"[data-release-confirm='{aid}']", timeout=WAIT)
    page.keyboard.press("Enter")
    _assigned_count_is(page, 3)
    _timeline_has(page, "unit_released")
    wait_for_marker(page, uid, "available")
    with riyadh_engine.connect() as conn:
        released = conn.execute(
            text(
                "SELECT s.released_at, u.status FROM assignment s JOIN unit u ON u.id = s.unit_id"
                " WHERE s.id = :a"
            ),
            {"a": int(aid or 0)},
        ).one()
    assert released.released_at is not None and released.status == "available"
    # live at the other desk
    _assigned_count_is(sup, 3)
    _timeline_has(sup, "unit_released")
    wait_for_marker(sup, uid, "available")
    assert "إعفاء وحدة" in sup.inner_text("#timeline")

    # the supervisor lowers the priority: a reason is required
    assert sup.inner_text("#priority-change h3") == "تغيير الأولوية"
    sup.select_option("#priority-new", "2")
    sup.click("#priority-submit")
    sup.wait_for_selector("#priority-error:not([hidden])", timeout=WAIT)
    with riyadh_engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT priority FROM incident WHERE id = :i"), {"i": iid}
            ).scalar_one()
            == 1
        )
    sup.fill("#priority-change-reason", "الحريق تحت السيطرة")
    sup.press("#priority-change-reason", "Enter")
    sup.wait_for_selector(".incident-detail.p2", timeout=WAIT)
    _timeline_has(sup, "priority_changed")
    with riyadh_engine.connect() as conn:
        row = conn.execute(
            text("SELECT priority, priority_reason FROM incident WHERE id = :i"), {"i": iid}
        ).one()
        event = conn.execute(
            text(
                "SELECT actor, details FROM incident_event "
                "WHERE incident_id = :i AND kind = 'priority_changed'"
            ),
            {"i": iid},
        ).one()
    assert (row.priority, row.priority_reason) == (2, "الحريق تحت السيطرة")
    assert event.actor == "supervisor" and event.details["from"] == 1
    assert "الحريق تحت السيطرة" in sup.inner_text("#timeline")
    shoot(sup, "console-ar-supervisor.png")
    # the dispatcher's page follows live
    page.wait_for_selector(
        f"#queue [data-incident-id='{incident_id}'][data-priority='2']", timeout=WAIT
    )
    page.wait_for_selector(".incident-detail.p2", timeout=WAIT)
    _timeline_has(page, "priority_changed")
    assert timeline_kinds(page)[-2:] == ["unit_released", "priority_changed"]
    shoot(page, "console-en-release-priority.png")
    assert sup.errors == [] and page.errors == []
    context.close()


# -- the same flow in Arabic -------------------------------------------------------------
def test_arabic_console_runs_right_to_left(
    riyadh_engine: Engine, server: Server, demo: dict[str, str], supervisor: Api, page: Any
) -> None:
    make_stale(riyadh_engine, minutes=40)
    supervisor.post(
        "/incidents",
        json={"type": "traffic_accident_injuries", "location": {"lon": 46.6440, "lat": 24.7420}},
    )
    sign_in(page, server, demo["dispatcher"], "ar")
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.get_attribute("html", "lang") == "ar"
    assert page.inner_text("#queue-title") == "قائمة البلاغات"
    assert "هـ" in page.inner_text("#clock-hijri")  # the Umm al-Qura date
    # right to left for real: the queue on the right, the incident panel on the left
    queue_box = page.locator(".queue-pane").bounding_box()
    detail_box = page.locator(".detail-pane").bounding_box()
    assert queue_box["x"] > detail_box["x"]

    # search a road by its Arabic name, create the incident there
    page.fill("#search", "طريق التخصصي")
    page.wait_for_selector("#search-results li[data-kind='road']", timeout=WAIT)
    assert "طريق التخصصي" in page.inner_text("#search-results")
    page.keyboard.press("Enter")
    page.wait_for_selector("#incident-type")
    assert page.input_value("#incident-address") == "طريق التخصصي"
    page.select_option("#incident-type", "building_fire")
    page.click("#create-submit")
    page.wait_for_selector(".incident-detail", timeout=WAIT)
    assert page.inner_text("#detail-type") == "حريق مبنى"
    assert page.inner_text("#detail-status") == "مستلم"
    rows = recommendation_rows(page)
    etas = [r["eta"] for r in rows]
    assert etas == sorted(etas) and len(rows) == 4
    agencies = {r["agency"] for r in rows}
    assert "الدفاع المدني" in agencies and "هيئة الهلال الأحمر السعودي" in agencies
    assert page.inner_text("#recommendations h3") == "الوحدات المقترحة"
    assert drawn(page, "path.route-recommended") == 4
    shoot(page, "console-ar.png")

    page.click("#assign-selected")
    page.wait_for_function(
        "document.querySelectorAll('#assigned .assigned-item').length === 4", timeout=WAIT
    )
    for r in rows:
        wait_for_marker(page, r["unit_id"], "dispatched")
    timeline = page.inner_text("#timeline")
    assert "إنشاء البلاغ" in timeline and "توجيه وحدة" in timeline
    assert "مستلم ← موجَّه" in timeline
    assert timeline_kinds(page).count("unit_assigned") == 4
    shoot(page, "console-ar-assigned.png")
    page.click("#lang-switch")
    page.wait_for_selector("#map[data-state='ready']", timeout=WAIT)
    assert page.get_attribute("html", "dir") == "ltr"
    assert page.errors == []


# -- no network at all -------------------------------------------------------------------
def test_console_map_needs_no_internet(
    riyadh_engine: Engine, demo: dict[str, str], browser: Any
) -> None:
    with live_server(riyadh_engine) as server:
        server.app.config["NAJDA_TILE_URL"] = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        blocked: list[str] = []

        def only_localhost(route: Any) -> None:
            if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort("internetdisconnected")

        context.route("**/*", only_localhost)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.errors = errors
        sign_in(page, server, demo["dispatcher"], "en")
        page.wait_for_selector("#map[data-tiles='unreachable']", timeout=WAIT)
        assert blocked and all("openstreetmap" in url for url in blocked)
        assert wait_painted(page, "roads", 500) >= 500  # the streets around the units
        assert wait_painted(page, "boundaries", 100) >= 100
        assert int(page.get_attribute("#map", "data-units") or 0) > 10
        shoot(page, "console-offline-en.png")
        # the whole region: every governorate drawn from the database's tiles
        page.evaluate("""() => { const r = JSON.parse(
            document.getElementById('console-config').textContent).region.bbox;
            window.__najdaMap.fitBounds([[r[1], r[0]], [r[3], r[2]]]); }""")
        page.wait_for_function("window.__najdaMap.getZoom() < 9", timeout=WAIT)
        assert wait_painted(page, "boundaries", 5000) >= 5000
        assert wait_painted(page, "roads", 1) >= 1  # the major roads at region zoom
        context.close()
        assert errors == []
