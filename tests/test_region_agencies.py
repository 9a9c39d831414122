"""Each region names its own agencies (Arabic and English) under the shared catalogue
codes: Doha's ambulance service is Hamad Medical Corporation's, Riyadh's the Saudi Red
Crescent, both ``red_crescent``; incident types and response plans stay shared. Read
through the real app: ``GET /api/v1/catalogue?region=`` and the console."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from dispatch_helpers import assert_error_shape
from ingest_helpers import signed_in
from najda.config import load_settings, project_root
from najda.errors import ImportFailed
from najda.ingest.agencies import parse_region_agencies
from najda.ingest.region import check_agencies, load_manifest

ARABIC = re.compile(r"[\u0600-\u06FF]")
QATAR = {
    "police": ("Police emergency patrols (Al Fazaa)", "دوريات شرطة الفزعة (النجدة)"),
    "traffic": ("General Directorate of Traffic", "الإدارة العامة للمرور"),
    "civil_defence": ("General Directorate of Civil Defence", "الإدارة العامة للدفاع المدني"),
    "red_crescent": (
        "Hamad Medical Corporation Ambulance Service",
        "خدمة الإسعاف - مؤسسة حمد الطبية",
    ),
    "coast_guard": ("Coasts and Borders Security", "أمن السواحل والحدود"),
}


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"code": "police", "colour": "#000000"}], r"unknown key\(s\) \['colour'\]"),
        ([{"code": "Police"}], "lower_snake_case"),
        ([{"code": "police", "name_en": "Police"}], "both name_en and name_ar, or neither"),
        ([{"code": "police", "name_en": "Police", "name_ar": "Shurta"}], "no Arabic letter"),
        ([{"code": "police", "call_prefix": "police"}], "1 to 3 capital letters"),
        ([{"code": "police"}, {"code": "police"}], "agency listed twice: police"),
        ({"code": "police"}, "must be an array of tables"),
    ],
)
def test_bad_agency_tables_are_refused(entries: Any, message: str) -> None:
    with pytest.raises(ImportFailed, match=message):
        parse_region_agencies(entries, source="manifest x.toml")


def test_names_are_cleaned_and_optional() -> None:
    parsed = parse_region_agencies(
        [
            {"code": "traffic", "name_en": " Traffic ", "name_ar": "المرور\u200e"},
            {"code": "police"},
        ],
        source="manifest x.toml",
    )
    assert [(a.code, a.name_en, a.name_ar) for a in parsed] == [
        ("traffic", "Traffic", "المرور"),
        ("police", None, None),
    ]


def _manifest(tmp_path: Path, agencies: str, jurisdictions: str) -> Any:
    geo = tmp_path / "geo_data"
    (geo / "regions").mkdir(parents=True)
    (geo / "catalogue").symlink_to(project_root() / "geo_data" / "catalogue")
    (geo / "regions" / "x.toml").write_text(
        '[region]\nname_en = "X"\nname_ar = "س"\n\n'
        f'[[layers]]\nlayer = "jurisdictions"\nderive_from = "governorates"\n'
        f"agencies = {jurisdictions}\n\n{agencies}",
        encoding="utf-8",
    )
    return load_manifest(load_settings().with_overrides(geo_data_dir=geo), "x")


def test_manifest_agencies_must_be_in_the_catalogue(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, '[[agency]]\ncode = "secret_police"\n', '["police"]')
    with pytest.raises(ImportFailed, match="agency secret_police is not in the catalogue"):
        check_agencies(manifest)


def test_jurisdictions_are_for_the_regions_agencies(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, '[[agency]]\ncode = "police"\n', '["police", "traffic"]')
    with pytest.raises(ImportFailed, match="jurisdictions for traffic, which the region"):
        check_agencies(manifest)


@pytest.fixture
def doha_client(doha_engine: Engine) -> Iterator[Any]:
    with signed_in(doha_engine) as client:
        yield client


def test_doha_catalogue_names_qatars_agencies(doha_client: Any) -> None:
    shared = doha_client.get("/api/v1/catalogue").get_json()
    response = doha_client.get("/api/v1/catalogue", query_string={"region": "doha", "lang": "ar"})
    assert response.status_code == 200, response.get_json()
    doha = response.get_json()
    assert {a["code"]: (a["name_en"], a["name_ar"]) for a in doha["agencies"]} == QATAR
    assert [a["code"] for a in doha["agencies"]] == list(QATAR)  # the manifest's order
    assert all(a["name"] == a["name_ar"] and ARABIC.search(a["name"]) for a in doha["agencies"])
    # Saudi road security has no Qatari counterpart: neither it nor its unit types
    assert {t["agency"] for t in doha["unit_types"]} == set(QATAR)
    # incident types and response plans are the shared ones
    assert [(t["code"], t["response_plan"]) for t in doha["incident_types"]] == [
        (t["code"], t["response_plan"]) for t in shared["incident_types"]
    ]
    assert {a["code"] for a in shared["agencies"]} >= set(QATAR) | {"road_security"}


def test_a_region_must_exist_and_be_a_code(doha_client: Any) -> None:
    missing = doha_client.get("/api/v1/catalogue", query_string={"region": "atlantis"})
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "unknown_region"
    bad = doha_client.get("/api/v1/catalogue", query_string={"region": "no such place"})
    assert bad.status_code == 400
    assert bad.get_json()["error"]["details"] == {"parameter": "region"}


def test_the_console_shows_the_regions_own_agencies(doha_client: Any) -> None:
    html = doha_client.get("/console").get_data(as_text=True)
    found = re.search(r'<script id="console-config" type="application/json">(.*?)</script>', html)
    assert found is not None
    catalogue = json.loads(found.group(1))["catalogue"]
    assert {a["code"]: (a["name_en"], a["name_ar"]) for a in catalogue["agencies"]} == QATAR
    assert "road_security" not in {t["agency"] for t in catalogue["unit_types"]}


def test_riyadh_keeps_the_saudi_names(riyadh_engine: Engine) -> None:
    with signed_in(riyadh_engine, role="planner") as client:
        body = client.get("/api/v1/catalogue", query_string={"region": "riyadh"}).get_json()
    with riyadh_engine.connect() as conn:
        catalogue = dict(conn.execute(text("SELECT code, name_ar FROM agency")).all())
    assert {a["code"]: a["name_ar"] for a in body["agencies"]} == catalogue
    assert body["agencies"][4]["name_ar"] == "هيئة الهلال الأحمر السعودي"


def test_the_error_shape_over_http(doha_engine: Engine) -> None:
    from dispatch_helpers import clients, live_server

    with live_server(doha_engine) as server:
        planner = clients(doha_engine, server.url)["planner"]
        assert_error_shape(planner.get("/catalogue", params={"region": "atlantis"}), 404)
