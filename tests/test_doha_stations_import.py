"""Qatar's emergency facilities become stations by agency, with stated rules: every point
left out is counted with its reason, and a facility mapped twice becomes one station."""

from __future__ import annotations

from pathlib import Path

import pytest
from shapely.geometry import Point
from sqlalchemy import Engine, text

from ingest_helpers import stations_per_agency
from najda.ingest.base import ImportReport
from najda.ingest.stations import (
    StationRow,
    kind_agency,
    merge_duplicates,
    prepare_stations,
    read_points,
    station_agency,
)

TRAINING = "police training ground: not a dispatch station"
HEALTH_CENTRE = "health centre: not an ambulance post"


@pytest.mark.parametrize(
    ("kind", "role", "ed", "expected"),
    [
        ("police", "station", None, ("police", "")),
        ("police", "department", None, ("police", "")),
        ("police", "unknown", None, ("police", "")),
        ("police", "traffic", None, ("traffic", "")),
        ("police", "training", None, (None, TRAINING)),
        ("fire", "fire-station", None, ("civil_defence", "")),
        ("fire", "civil-defence-hq", None, ("civil_defence", "")),
        (
            "fire",
            "industrial-fire-station",
            None,
            (None, "industrial fire brigade (a company's own): not civil defence"),
        ),
        ("ambulance", "ambulance_station", None, ("red_crescent", "")),
        ("hospital", "hospital", "yes", ("red_crescent", "")),
        ("hospital", "hospital", "unknown", ("red_crescent", "")),
        (
            "hospital",
            "hospital",
            "no",
            (None, "hospital without an emergency department: not an ambulance post"),
        ),
        ("hospital", "health-centre", "yes", (None, HEALTH_CENTRE)),
        ("hospital", "unclear", "unknown", (None, "not clearly a hospital: not an ambulance post")),
        ("clinic-ed", "health-centre", "yes", (None, "kind clinic-ed: not a dispatch station")),
    ],
)
def test_kind_rules(kind: str, role: str, ed: str | None, expected: tuple[str | None, str]) -> None:
    assert kind_agency(kind, role=role, ed=ed) == expected


def test_an_agency_column_or_option_wins_over_kind() -> None:
    training = {"kind": "police", "type_or_role": "training"}
    assert station_agency(training) == (None, TRAINING)
    assert station_agency({**training, "agency": "police"}) == ("police", "")
    assert station_agency(training, agency="traffic") == ("traffic", "")
    assert station_agency({}) == (None, "no agency, amenity or kind")


def _station(code: str, agency: str, lon: float, en: str | None, ar: str | None) -> StationRow:
    return StationRow(code, agency, "police", en, ar, Point(lon, 25.28))


def test_duplicates_within_fifty_metres_of_one_agency_are_merged() -> None:
    # 0.0001 degree of longitude at 25.28 N is about 10 m
    stations = [
        _station("a", "police", 51.5000, "Mesaieed Police Station", None),
        _station("b", "police", 51.5001, None, "مركز شرطة مسيعيد"),
        _station("c", "traffic", 51.5001, "Traffic", None),  # same place, other agency
        _station("d", "police", 51.5010, "Another station", None),  # 100 m away
    ]
    report = ImportReport(layer="stations", region="doha", source="test")
    kept = merge_duplicates(stations, report=report)
    assert [(s.code, s.name_en, s.name_ar) for s in kept] == [
        ("a", "Mesaieed Police Station", "مركز شرطة مسيعيد"),
        ("c", "Traffic", None),
        ("d", "Another station", None),
    ]
    assert report.reasons == {"same agency within 50 m of another station (merged)": 1}


def test_qatar_facilities_become_stations_by_agency(doha_engine: Engine) -> None:
    with doha_engine.connect() as conn:
        per_agency = stations_per_agency(conn)
        count, skipped, details = conn.execute(
            text(
                "SELECT feature_count, skipped_count, details FROM layer_import "
                "WHERE layer = 'stations'"
            )
        ).one()
        mesaieed = conn.execute(
            text("SELECT name_en, name_ar FROM station WHERE name_ar = 'مركز شرطة مسيعيد'")
        ).all()
        unnamed = conn.execute(
            text("SELECT count(*) FROM station WHERE name_en IS NULL OR name_ar IS NULL")
        ).scalar_one()
        unlinked = conn.execute(
            text("SELECT count(*) FROM station WHERE road_node_id IS NULL")
        ).scalar_one()
    # 138 points: 41 police (3 traffic, 3 training grounds), 21 fire (2 industrial),
    # 3 ambulance points, 72 hospitals (37 hospitals with an emergency department not
    # "no"), 1 clinic; two police points mapped twice
    assert per_agency == {"police": 33, "traffic": 3, "civil_defence": 19, "red_crescent": 40}
    assert count + skipped == 138
    assert details["reasons"] == {
        HEALTH_CENTRE: 24,
        "hospital without an emergency department: not an ambulance post": 2,
        "not clearly a hospital: not an ambulance post": 8,
        "specialist centre: not an ambulance post": 1,
        "kind clinic-ed: not a dispatch station": 1,
        "industrial fire brigade (a company's own): not civil defence": 2,
        TRAINING: 3,
        "same agency within 50 m of another station (merged)": 2,
    }
    # the two Mesaieed police points (10 m apart): one station with both names
    assert [tuple(r) for r in mesaieed] == [("Mesaieed Police Station", "مركز شرطة مسيعيد")]
    assert unnamed == 0 and unlinked == 0


def test_station_names_are_cleaned(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text(
        "name,name_ar,lat,lon\n"
        "Al Sadd Police,\u200fقسم شرطة السد\u200e,25.28,51.49\n"
        "Old Airport Post,Matar Qadeem,25.26,51.55\n",
        encoding="utf-8",
    )
    report = ImportReport(layer="stations", region="doha", source="test")
    rows = prepare_stations(
        read_points(path, report=report), agency="police", report=report, source="posts.csv"
    )
    assert [(r.name_en, r.name_ar) for r in rows] == [
        ("Al Sadd Police", "قسم شرطة السد"),
        ("Old Airport Post", "Old Airport Post"),  # a Latin "Arabic" name is not kept
    ]
    assert report.extra["name_ar_not_arabic"] == 1
