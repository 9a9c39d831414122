"""No dead ends in the console (real Chromium, real server, the real Doha region): an
incident in the desert shows its straight-line ETAs flagged in the user's language, any
available unit is assigned by hand from a searchable list, and errors (the server's,
a lost connection, a garbled answer) are shown translated by their code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from dispatch_helpers import Api, Server, live_server, token_for
from najda.config import project_root
from najda.dispatch.seed import seed_demo
from test_console_browser import WAIT, shoot, sign_in
from test_console_browser import page as console_page  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser

DESERT = (51.0108, 25.4445)  # Al-Shahaniya, tens of kilometres from the Doha roads
MESSAGES = json.loads(
    (project_root() / "web" / "static" / "console" / "messages.json").read_text(encoding="utf-8")
)


@pytest.fixture
def demo(doha_engine: Engine) -> dict[str, str]:
    report = seed_demo(doha_engine, region="doha")
    assert report.units_created > 10
    return report.credentials


@pytest.fixture
def server(doha_engine: Engine, demo: dict[str, str]) -> Iterator[Server]:
    with live_server(doha_engine) as s:
        yield s


@pytest.fixture
def supervisor(doha_engine: Engine, server: Server) -> Api:
    return Api(server.url, token_for(doha_engine, "supervisor", name="supervisor-2"))


def open_incident(page: Any, incident_id: int) -> None:
    page.click(f"#queue .queue-item[data-incident-id='{incident_id}']")
    page.wait_for_selector(f".incident-detail[data-incident-id='{incident_id}']", timeout=WAIT)


def error_toast(page: Any) -> str:
    toast = page.wait_for_selector(".toast.error", timeout=WAIT)
    message: str = toast.inner_text()
    toast.evaluate("el => el.remove()")  # the next check waits for a new one
    return message


def fill(template: str, **values: str) -> str:
    """A catalogue message with its {placeholders} filled (dots allowed in names)."""
    return re.sub(r"\{([a-z_.]+)\}", lambda m: values[m.group(1).replace(".", "_")], template)


def open_other_units(page: Any) -> None:
    page.click("#assign-other-toggle")
    page.wait_for_selector("#other-table .other-row", timeout=WAIT)


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_desert_incident_flags_estimates_and_takes_any_unit_by_hand(
    doha_engine: Engine,
    server: Server,
    demo: dict[str, str],
    supervisor: Api,
    console_page: Any,  # noqa: F811 (the fixture imported above)
    lang: str,
) -> None:
    page, t = console_page, MESSAGES[lang]
    incident = supervisor.post(
        "/incidents",
        json={"type": "building_fire", "location": {"lon": DESERT[0], "lat": DESERT[1]}},
    ).json()
    api_rec = supervisor.get(f"/incidents/{incident['id']}/recommendations").json()
    assert api_rec["estimate"]["method"] == "straight_line"

    sign_in(page, server, demo["dispatcher"], lang)
    open_incident(page, incident["id"])

    # 1. the flag, in the user's language, over ETAs each marked as estimated
    flag = page.wait_for_selector("#estimate-flag", timeout=WAIT)
    assert flag.get_attribute("data-reason") == "off_network"
    flag_text = flag.inner_text()
    assert flag_text.startswith(t["estimate_flag_off_network"].split("{")[0].strip())
    page.wait_for_selector("#rec-table .rec-row", timeout=WAIT)
    rows = page.eval_on_selector_all(
        "#rec-table .rec-row",
        """rows => rows.map(r => ({unit_id: Number(r.dataset.unitId), eta: Number(r.dataset.eta),
            flag: (r.querySelector('.eta .eta-flag') || {}).textContent || '',
            method: r.querySelector('.eta').dataset.method}))""",
    )
    expected = sorted(
        (u["eta_s"], u["unit_id"]) for r in api_rec["requirements"] for u in r["units"]
    )
    assert [(r["eta"], r["unit_id"]) for r in rows] == expected
    assert {r["method"] for r in rows} == {"straight_line"}
    assert {r["flag"] for r in rows} == {t["eta_straight_line"]}
    shoot(page, f"console-offnet-{lang}.png")

    # 2. any available unit by hand: search the list, assign one nobody recommended
    recommended = {r["unit_id"] for r in rows}
    open_other_units(page)
    listed = supervisor.get(f"/incidents/{incident['id']}/available-units").json()["units"]
    pick = next(u for u in listed if u["unit_id"] not in recommended and u["agency"] == "police")
    page.fill("#other-search", pick["call_sign"].lower())
    visible = page.eval_on_selector_all(
        "#other-table .other-row", "rows => rows.filter(r => !r.hidden).map(r => r.dataset.unitId)"
    )
    assert visible == [str(pick["unit_id"])]
    row = f".other-row[data-unit-id='{pick['unit_id']}']"
    assert page.inner_text(f"{row} .eta-flag") == t["eta_straight_line"]
    shoot(page, f"console-offnet-other-{lang}.png")
    page.click(f"{row} [data-assign-unit]")
    assigned = f"#assigned .assigned-item[data-unit-id='{pick['unit_id']}']"
    page.wait_for_selector(assigned, timeout=WAIT)
    assert page.inner_text(f"{assigned} .eta-flag") == t["eta_straight_line"]
    with doha_engine.connect() as conn:
        method = conn.execute(
            text("""
            SELECT e.details ->> 'eta_method' FROM incident_event e
            JOIN assignment a ON e.details ->> 'assignment_id' = a.id::text
            WHERE a.incident_id = :i AND a.unit_id = :u AND a.released_at IS NULL"""),
            {"i": incident["id"], "u": pick["unit_id"]},
        ).scalar_one()
    assert method == "straight_line"
    assert f"({t['eta_straight_line']})" in page.inner_text("#timeline")

    # 3. the server's error, translated by its code: a unit another desk took meanwhile
    # the list is read again after the assignment, without the unit now busy
    page.wait_for_selector("#other-table", state="attached", timeout=WAIT)
    assert page.locator(f".other-row[data-unit-id='{pick['unit_id']}']").count() == 0
    taken = next(
        u for u in listed if u["unit_id"] not in recommended and u["unit_id"] != pick["unit_id"]
    )
    other = supervisor.post(
        "/incidents", json={"type": "open_area_fire", "location": {"lon": 51.52, "lat": 25.29}}
    ).json()
    held = supervisor.post(
        f"/incidents/{other['id']}/assignments", json={"units": [{"unit_id": taken["unit_id"]}]}
    )
    assert held.status_code == 201, held.text
    page.fill("#other-search", "")
    page.click(f".other-row[data-unit-id='{taken['unit_id']}'] [data-assign-unit]")
    message = error_toast(page)
    wanted = fill(
        t["error_unit_busy"], call_sign=taken["call_sign"], held_by_number=other["number"]
    )
    assert message == f"{t['error']}: {wanted}"

    # 4. no connection at all, then an answer that is not JSON: both translated
    page.route("**/available-units", lambda route: route.abort())
    page.click("#assign-other-toggle")  # close
    page.click("#assign-other-toggle")  # open again: the list is fetched anew
    assert error_toast(page) == f"{t['error']}: {t['error_network_error']}"
    page.unroute("**/available-units")
    page.route(
        "**/available-units",
        lambda route: route.fulfill(status=502, content_type="text/html", body="<h1>502</h1>"),
    )
    page.click("#assign-other-toggle")
    page.click("#assign-other-toggle")
    status = "٥٠٢" if lang == "ar" else "502"
    assert error_toast(page) == f"{t['error']}: {fill(t['error_bad_response'], status=status)}"
    page.unroute("**/available-units")
    assert page.errors == []
