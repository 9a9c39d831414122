"""Languages and calendars of the console: the language choice, the catalogues, the
Umm al-Qura dates, and the console page served (or refused) through the real app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from dispatch_helpers import app_for
from najda.config import project_root
from najda.dispatch.auth import create_user
from najda.web.i18n import (
    calendar_table,
    choose_language,
    digits,
    gregorian_label,
    hijri_label,
    hijri_parts,
    local_day,
    locale_for,
)

CATALOGUES = [
    project_root() / "web" / "static" / "i18n" / "messages.json",
    project_root() / "web" / "static" / "console" / "messages.json",
]


def test_language_choice_order() -> None:
    assert choose_language(None, None) == "ar"  # Arabic first
    assert choose_language(None, "en") == "en"
    assert choose_language(None, "en", "ar") == "ar"  # remembered beats the browser
    assert choose_language("en", None, "ar") == "en"  # asked beats remembered
    assert choose_language("fr", "de", "xx") == "ar"


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: p.parent.name)
def test_every_label_exists_in_both_languages(path: Path) -> None:
    catalogue = json.loads(path.read_text(encoding="utf-8"))
    assert set(catalogue["en"]) == set(catalogue["ar"])
    assert all(v.strip() for lang in ("en", "ar") for v in catalogue[lang].values())


def test_locales_merge_catalogues() -> None:
    ar = locale_for(CATALOGUES, "ar")
    assert ar.direction == "rtl" and ar["queue"] == "قائمة البلاغات"
    assert ar["app_name"] == "نجدة"  # from the map's catalogue
    assert locale_for(CATALOGUES, "en")["queue"] == "Incident queue"


def test_umm_al_qura_dates() -> None:
    assert hijri_parts(date(2026, 11, 22)) == (1448, 6, 12)
    assert hijri_label(date(2026, 11, 22), "en") == "12 Jumada al-Akhirah 1448 AH"
    assert hijri_label(date(2026, 11, 22), "ar") == "١٢ جمادى الآخرة ١٤٤٨ هـ"
    assert hijri_parts(date(2020, 5, 24)) == (1441, 10, 1)  # Eid al-Fitr 1441
    assert gregorian_label(date(2026, 11, 22), "ar") == "٢٢ نوفمبر ٢٠٢٦ م"
    assert digits("RYD-2026", "en") == "RYD-2026"


def test_the_day_is_the_day_in_riyadh() -> None:
    # 22:30 UTC on the 21st is already the 22nd in Riyadh (UTC+3)
    assert local_day(datetime(2026, 11, 21, 22, 30, tzinfo=UTC)) == date(2026, 11, 22)
    table = calendar_table(date(2026, 11, 22), "en", days_back=2, days_ahead=1)
    assert list(table) == ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"]
    assert table["2026-11-22"]["hijri_ymd"] == [1448, 6, 12]


@pytest.fixture
def client(riyadh_engine: Engine) -> Iterator[Any]:
    app = app_for(riyadh_engine)
    yield app.test_client()
    app.extensions["najda"].engine.dispose()


def test_console_asks_for_a_login_then_serves_arabic(client: Any, riyadh_engine: Engine) -> None:
    response = client.get("/console")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login?next=/console")
    login = client.get("/console/login?next=//evil.example/")
    assert login.status_code == 200
    html = login.get_data(as_text=True)
    assert 'dir="rtl"' in html and "تسجيل الدخول" in html
    assert 'data-next="/console"' in html  # never off-site after signing in

    create_user(riyadh_engine, username="d1", role="planner", password="long-password")
    assert (
        client.post(
            "/api/v1/auth/login", json={"username": "d1", "password": "long-password"}
        ).status_code
        == 200
    )
    page = client.get("/console").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page
    config = json.loads(
        page.split('<script id="console-config" type="application/json">')[1].split("</script>")[0]
    )
    assert config["lang"] == "ar" and config["user"]["can_dispatch"] is False
    assert config["api"]["search"] == "/api/v1/search"
    assert config["api"]["events"] == "/api/v1/events"
    assert any(t["code"] == "building_fire" for t in config["catalogue"]["incident_types"])
    assert config["clock"]["hijri"].endswith("هـ")
    english = client.get("/console?lang=en")
    assert 'dir="ltr"' in english.get_data(as_text=True)
    assert "najda_lang=en" in english.headers["Set-Cookie"]
    assert 'dir="ltr"' in client.get("/console").get_data(as_text=True)  # remembered
