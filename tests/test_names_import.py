"""Names as every importer stores them: no bidi control marks (some WOF Arabic names end
in U+200E), and an "Arabic" name without an Arabic letter (WOF's ``name_ar = "Al Hura"``)
is not kept as Arabic. Qatar's zones are a place layer of their own, found by search."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from ingest_helpers import signed_in
from najda.cli import main
from najda.ingest.names import Names, bilingual, clean_name, has_arabic, name_pair

BIDI_CONTROLS = [
    "\u061c",
    "\u200e",
    "\u200f",
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
]
BIDI = "[" + "".join(BIDI_CONTROLS) + "]"
NAMED_TABLES = ("governorate", "place", "station", "jurisdiction", "road_edge", "region")


@pytest.mark.parametrize("mark", BIDI_CONTROLS)
def test_every_bidi_control_mark_is_removed(mark: str) -> None:
    assert clean_name(f"{mark}الضعاين{mark} ") == "الضعاين"
    assert clean_name(f"Al{mark} Daayen") == "Al Daayen"


def test_clean_name_keeps_joiners_and_tidies_spaces() -> None:
    assert clean_name("می\u200cخواهم") == "می\u200cخواهم"  # ZWNJ shapes the letters
    assert clean_name("  Al   Wakrah\t") == "Al Wakrah"
    assert clean_name("\ufeffDoha") == "Doha"
    assert [clean_name(v) for v in (None, float("nan"), "", " \u200e ")] == [None] * 4


def test_an_arabic_name_needs_an_arabic_letter() -> None:
    assert has_arabic("الدوحة") and has_arabic("KKT الدوحة")
    assert not has_arabic("Al Hura") and not has_arabic("Dīrāb") and not has_arabic("١٢٣")
    assert bilingual("Al Hura", "Al Hura") == Names("Al Hura", None, ar_not_arabic=True)
    assert bilingual(None, "Al Hura") == Names("Al Hura", None, ar_not_arabic=True)
    assert bilingual("Al Daayen", "الضعاين\u200e") == Names("Al Daayen", "الضعاين")


def test_a_plain_name_fills_the_side_of_its_script() -> None:
    assert name_pair(name="شارع الكورنيش", name_en="Corniche") == Names("Corniche", "شارع الكورنيش")
    assert name_pair(name="Corniche", name_ar="Kurnaish") == Names(
        "Corniche", None, ar_not_arabic=True
    )
    assert name_pair(name="Corniche", name_en="Corniche Street").en == "Corniche Street"
    assert name_pair(name=" \u200f") == Names(None, None)


def test_doha_names_are_clean_in_every_layer(doha_engine: Engine) -> None:
    with doha_engine.connect() as conn:
        marked = {
            table: conn.execute(
                text(f"SELECT count(*) FROM {table} WHERE name_en ~ :re OR name_ar ~ :re"),
                {"re": BIDI},
            ).scalar_one()
            for table in NAMED_TABLES
        }
        daayen = conn.execute(
            text("SELECT name_ar FROM governorate WHERE name_en = 'Al Daayen'")
        ).scalar_one()
        hura = conn.execute(
            text("SELECT name_en, name_ar FROM place WHERE code = '85907373'")
        ).one()
        details = dict(conn.execute(text("SELECT layer, details FROM layer_import")).all())
    assert marked == dict.fromkeys(NAMED_TABLES, 0)
    assert daayen == "الضعاين"  # the file has "الضعاين\u200e"
    # Al Hura has no Arabic name: the English one is shown, as for any such place
    assert tuple(hura) == ("Al Hura", "Al Hura")
    assert details["neighbourhoods"]["name_ar_not_arabic"] == 1
    assert details["neighbourhoods"]["no_arabic_name_english_used"] == 56


def test_qatar_zones_are_a_layer_of_their_own(doha_engine: Engine, data_dir: Any) -> None:
    path = data_dir / "boundaries" / "wof_qa_zones.geojson"
    arabic = sum(1 for f in json.loads(path.read_text())["features"] if f["properties"]["name_ar"])
    with doha_engine.connect() as conn:
        zones = conn.execute(
            text("""
            SELECT count(*), count(*) FILTER (WHERE name_ar ~ '[ء-ي]'),
                   count(*) FILTER (WHERE GeometryType(geom) LIKE '%POLYGON')
            FROM place WHERE kind = 'zone'""")
        ).one()
        doha = conn.execute(
            text("SELECT name_ar FROM place WHERE kind = 'zone' AND name_en = 'Doha'")
        ).scalar_one()
    assert tuple(zones) == (34, arabic, 34) and arabic == 3
    assert doha == "الدوحة"


@pytest.fixture
def doha_client(doha_engine: Engine) -> Iterator[Any]:
    with signed_in(doha_engine) as client:
        yield client


def test_search_finds_a_zone(doha_client: Any) -> None:
    response = doha_client.get("/api/v1/search", query_string={"q": "Utouriya"})
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert [(r["kind"], r["name_en"]) for r in results][:1] == [("zone", "Al Utouriya")]


def test_najda_import_boundaries_takes_zones(engine: Engine, data_dir: Any) -> None:
    path = data_dir / "boundaries" / "wof_qa_zones.geojson"
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(
        main,
        ["import", "boundaries", str(path), "--region", "doha", "--layer", "zones"],
        env={"DATABASE_URL": url},
    )
    assert result.exit_code == 0, result.output
    assert "zones: 34 imported" in result.output
    with engine.connect() as conn:
        kinds = dict(conn.execute(text("SELECT kind, count(*) FROM place GROUP BY 1")).all())
    assert kinds == {"zone": 34}
