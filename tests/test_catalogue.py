"""The catalogue of agencies, unit types and incident types, on real PostGIS.

The ``engine`` fixture's template already ran ``import_catalogue`` on geo_data/catalogue.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from db_snapshots import table_snapshot
from najda.config import project_root
from najda.errors import ImportFailed
from najda.ingest.catalogue import import_catalogue, load_catalogue

CATALOGUE = project_root() / "geo_data" / "catalogue"
ARABIC = re.compile(r"[\u0600-\u06FF]")
TABLES = ("agency", "unit_type", "incident_type")


def snapshot(engine: Engine, tables: tuple[str, ...] = TABLES) -> dict[str, tuple[int, str]]:
    return table_snapshot(engine, tables)


@pytest.fixture
def catalogue_copy(tmp_path: Path) -> Path:
    target = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    content = path.read_text(encoding="utf-8")
    assert old in content, old
    path.write_text(content.replace(old, new, 1), encoding="utf-8")


def test_agencies_of_a_saudi_unified_centre(engine: Engine) -> None:
    with engine.connect() as conn:
        agencies = dict(conn.execute(text("SELECT code, name_ar FROM agency")).all())
    assert agencies == {
        "police": "الدوريات الأمنية",
        "traffic": "المرور",
        "road_security": "أمن الطرق",
        "civil_defence": "الدفاع المدني",
        "red_crescent": "هيئة الهلال الأحمر السعودي",
        "coast_guard": "حرس الحدود",
    }


def test_every_row_has_an_arabic_label(engine: Engine) -> None:
    with engine.connect() as conn:
        for table in TABLES:
            rows = conn.execute(text(f"SELECT code, name_en, name_ar FROM {table}")).all()
            assert rows, table
            for code, name_en, name_ar in rows:
                assert ARABIC.search(name_ar), (table, code, name_ar)
                assert not ARABIC.search(name_en), (table, code, name_en)


def test_plans_name_only_capabilities_some_unit_type_provides(engine: Engine) -> None:
    with engine.connect() as conn:
        unknown = conn.execute(
            text("""
            SELECT it.code, step->>'capability' FROM incident_type it,
                   jsonb_array_elements(it.response_plan) step
            WHERE NOT EXISTS (SELECT 1 FROM unit_type ut
                              WHERE (step->>'capability') = ANY(ut.capabilities))
               OR (step->>'count')::int < 1
        """)
        ).all()
        priorities = conn.execute(
            text("SELECT min(default_priority), max(default_priority) FROM incident_type")
        ).one()
        plans = dict(conn.execute(text("SELECT code, response_plan FROM incident_type")).all())
    assert unknown == []
    assert priorities == (1, 5)
    assert plans["building_fire"] == [
        {"capability": "fire_suppression", "count": 2},
        {"capability": "ems_bls", "count": 1},
        {"capability": "police", "count": 1},
    ]
    assert plans["traffic_accident_injuries"] == [
        {"capability": "traffic", "count": 1},
        {"capability": "ems_als", "count": 1},
    ]
    assert plans["inquiry"] == []


def test_call_types_of_the_design_are_covered() -> None:
    catalogue = load_catalogue(CATALOGUE)
    categories = {row["category"] for row in catalogue.incident_type}
    assert {
        "traffic",
        "fire",
        "security",
        "medical",
        "humanitarian",
        "violation",
        "inquiry",
        "psychological",
    } <= categories
    labels = {row["code"]: row["name_ar"] for row in catalogue.category}
    assert labels["traffic"] == "حوادث مرورية"
    assert labels["fire"] == "حرائق"
    assert labels["inquiry"] == "استفسارات"


def test_reimport_is_idempotent(engine: Engine) -> None:
    before = snapshot(engine)
    report = import_catalogue(engine, CATALOGUE)
    assert snapshot(engine) == before
    assert report.extra["agencies"] == before["agency"][0] == 6


def test_upsert_keeps_ids_and_updates_labels(engine: Engine, catalogue_copy: Path) -> None:
    with engine.connect() as conn:
        old_id = conn.execute(text("SELECT id FROM incident_type WHERE code = 'theft'")).scalar()
    edit(catalogue_copy / "incident_types.toml", 'name_en = "Theft"', 'name_en = "Theft report"')
    import_catalogue(engine, catalogue_copy)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT id, name_en FROM incident_type WHERE code = 'theft'")).one()
    assert tuple(row) == (old_id, "Theft report")


def test_rows_gone_from_the_files_are_deleted_unless_in_use(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("""
            INSERT INTO unit_type (code, agency_id, name_en, name_ar, capabilities)
            SELECT c, id, c, 'قديم', '{police}' FROM agency,
                   (VALUES ('old_in_use'), ('old_unused')) v(c) WHERE agency.code = 'police'
        """)
        )
        conn.execute(
            text("""
            INSERT INTO unit (call_sign, unit_type_id, agency_id)
            SELECT 'P-1', ut.id, ut.agency_id FROM unit_type ut WHERE ut.code = 'old_in_use'
        """)
        )
    report = import_catalogue(engine, CATALOGUE)
    with engine.connect() as conn:
        codes = set(conn.execute(text("SELECT code FROM unit_type")).scalars())
    assert "old_in_use" in codes
    assert "old_unused" not in codes
    assert report.extra["kept_in_use"] == {"unit_type": ["old_in_use"]}


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "unit_types.toml",
            'agency = "police"',
            'agency = "secret_police"',
            "unknown agency 'secret_police'",
        ),
        (
            "incident_types.toml",
            '{ capability = "fire_suppression", count = 2 }',
            '{ capability = "water_cannon", count = 2 }',
            "unknown capability 'water_cannon'",
        ),
        ("incident_types.toml", "priority = 4", "priority = 0", "priority must be an integer"),
        ("incident_types.toml", "priority = 3", 'priority = "high"', "priority must be"),
        ("incident_types.toml", "count = 2", "count = 0", "must be a positive integer"),
        ("agencies.toml", 'name_ar = "المرور"', 'name_ar = "Traffic"', "no Arabic letters"),
        ("agencies.toml", "[[agency]]", "[[agency]", "cannot read catalogue file"),
    ],
)
def test_invalid_catalogue_is_refused_and_changes_nothing(
    engine: Engine, catalogue_copy: Path, file: str, old: str, new: str, message: str
) -> None:
    # a valid change too, to show that nothing of the file set is written
    edit(
        catalogue_copy / "agencies.toml",
        'name_en = "Traffic police"',
        'name_en = "Traffic department"',
    )
    edit(catalogue_copy / file, old, new)
    before = snapshot(engine)
    with pytest.raises(ImportFailed, match=re.escape(message)):
        import_catalogue(engine, catalogue_copy)
    assert snapshot(engine) == before


def test_missing_catalogue_folder_is_refused(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="no catalogue files"):
        import_catalogue(engine, tmp_path / "nowhere")
