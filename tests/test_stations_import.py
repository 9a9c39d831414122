"""Stations from real OpenStreetMap points and from CSV, linked to the road network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod
from sqlalchemy import Engine, text

from db_snapshots import table_snapshot
from ingest_helpers import stations_per_agency
from najda.errors import ImportFailed
from najda.ingest.stations import import_stations, link_stations_to_roads

TABLES = ("region", "station", "layer_import")


def snapshot(engine: Engine, tables: tuple[str, ...] = TABLES) -> dict[str, tuple[int, str]]:
    return table_snapshot(engine, tables)


@pytest.fixture
def facilities(data_dir: Path) -> Path:
    return data_dir / "facilities" / "riyadh_emergency_facilities_osm.geojson"


def test_osm_facilities_become_stations_of_three_agencies(engine: Engine, facilities: Path) -> None:
    report = import_stations(engine, "riyadh", facilities)
    with engine.connect() as conn:
        per_agency = stations_per_agency(conn)
        unnamed_ar = conn.execute(
            text("SELECT count(*) FROM station WHERE name_ar IS NULL OR name_en IS NULL")
        ).scalar()
        english_only = conn.execute(
            text("SELECT count(*) FROM station WHERE name_ar = name_en AND name_ar !~ '[ء-ي]'")
        ).scalar()
        linked = conn.execute(
            text(
                "SELECT count(*) FROM station WHERE road_node_id IS NOT NULL "
                "OR snap_distance_m IS NOT NULL"
            )
        ).scalar()
    # 217 points: 50 clinics and doctors skipped; 12 points mapped twice (the same
    # hospital as a node and a building, within 50 m) merged into their twins
    assert per_agency == {"police": 23, "civil_defence": 12, "red_crescent": 120}
    assert report.imported == 155
    assert report.reasons == {
        "amenity clinic: not a dispatch station": 43,
        "amenity doctors: not a dispatch station": 7,
        "same agency within 50 m of another station (merged)": 12,
    }
    assert unnamed_ar == 0
    assert report.extra["no_arabic_name_english_used"] == english_only > 0
    # no roads in this database: nothing to link to
    assert linked == 0 and report.extra["linked_to_roads"] == 0


def test_reimport_keeps_codes_and_ids(engine: Engine, facilities: Path) -> None:
    import_stations(engine, "riyadh", facilities)
    before = snapshot(engine, ("station",))
    report = import_stations(engine, "riyadh", facilities)
    assert report.imported == 155
    assert snapshot(engine, ("station",)) == before


def test_csv_stations_with_an_agency_and_duplicates(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text(
        "name,name_ar,latitude,longitude\n"
        "Post A,مركز أ,24.70,46.68\n"
        "Post B,مركز ب,24.71,46.69\n"
        "Post B,مركز ب,24.71,46.69\n"
        "Post C,مركز ج,not-a-number,46.70\n",
        encoding="utf-8",
    )
    report = import_stations(engine, "riyadh", path, agency="red_crescent")
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT code, name_en, name_ar, ST_X(geom), ST_Y(geom) FROM station "
                "ORDER BY name_en"
            )
        ).all()
    assert report.imported == 2
    assert report.reasons == {"duplicate station (same code)": 1, "no coordinates": 1}
    assert [(r[1], r[2]) for r in rows] == [("Post A", "مركز أ"), ("Post B", "مركز ب")]
    assert (rows[0][3], rows[0][4]) == pytest.approx((46.68, 24.70))
    assert all(r[0].startswith("h:") for r in rows)


def _csv(tmp_path: Path, body: str, name: str) -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("case", "agency", "message"),
    [
        ("missing", None, "file not found"),
        ("no_latlon", "police", "needs lat/lon"),
        ("polygons", None, r"stations need points, .* has Polygon"),
        ("no_agency", None, "cannot tell the agency"),
        ("unknown_agency", "secret_police", "unknown agency 'secret_police'"),
        ("only_clinics", None, "no usable stations"),
    ],
)
def test_failed_import_leaves_the_database_unchanged(
    engine: Engine,
    facilities: Path,
    data_dir: Path,
    tmp_path: Path,
    case: str,
    agency: str | None,
    message: str,
) -> None:
    import_stations(engine, "riyadh", facilities)
    files = {
        "missing": tmp_path / "missing.geojson",
        "no_latlon": _csv(tmp_path, "name,x_coord,y_coord\nA,1,2\n", "a.csv"),
        "polygons": data_dir / "boundaries" / "wof_riyadh_region_governorates.geojson",
        "no_agency": _csv(tmp_path, "name,lat,lon\nA,24.7,46.7\n", "b.csv"),
        "unknown_agency": _csv(tmp_path, "name,lat,lon\nA,24.7,46.7\n", "c.csv"),
        "only_clinics": _csv(tmp_path, "name,amenity,lat,lon\nA,clinic,24.7,46.7\n", "d.csv"),
    }
    before = snapshot(engine)
    with pytest.raises(ImportFailed, match=message):
        import_stations(engine, "riyadh", files[case], agency=agency)
    assert snapshot(engine) == before


def test_stations_link_to_the_nearest_road_node(riyadh_engine: Engine) -> None:
    with riyadh_engine.connect() as conn:
        nodes = np.array(
            conn.execute(text("SELECT id, ST_X(geom), ST_Y(geom) FROM road_node ORDER BY id")).all()
        )
        stations = conn.execute(
            text("SELECT ST_X(geom), ST_Y(geom), road_node_id, snap_distance_m FROM station")
        ).all()
    assert len(nodes) > 500 and len(stations) == 155
    geod = Geod(ellps="WGS84")
    for lon, lat, node_id, snapped in stations:
        _, _, metres = geod.inv(
            np.full(len(nodes), lon), np.full(len(nodes), lat), nodes[:, 1], nodes[:, 2]
        )
        nearest = int(np.argmin(metres))
        assert snapped == pytest.approx(metres[nearest], abs=0.5)
        assert node_id == int(nodes[nearest, 0]) or metres[nearest] == pytest.approx(
            metres[np.flatnonzero(nodes[:, 0] == node_id)[0]], abs=0.01
        )


def test_a_station_on_a_junction_snaps_to_it(riyadh_engine: Engine, tmp_path: Path) -> None:
    with riyadh_engine.connect() as conn:
        node_id, lon, lat = conn.execute(
            text("SELECT id, ST_X(geom), ST_Y(geom) FROM road_node ORDER BY id LIMIT 1")
        ).one()
    path = tmp_path / "one.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [lon, lat]},
                        "properties": {"amenity": "fire_station", "name": "Junction station"},
                    }
                ],
            }
        )
    )
    report = import_stations(riyadh_engine, "riyadh", path)
    with riyadh_engine.connect() as conn:
        row = conn.execute(text("SELECT road_node_id, snap_distance_m, name_ar FROM station")).one()
    assert report.extra["linked_to_roads"] == 1
    assert row[0] == node_id and row[1] == pytest.approx(0.0, abs=1e-6)
    assert row[2] == "Junction station"  # no Arabic name: falls back to the English one


def test_link_leaves_stations_unlinked_when_the_region_has_no_roads(riyadh_engine: Engine) -> None:
    with riyadh_engine.begin() as conn:
        rid = conn.execute(text("SELECT id FROM region WHERE code = 'riyadh'")).scalar_one()
        conn.execute(text("DELETE FROM road_node WHERE region_id = :rid"), {"rid": rid})
        linked = link_stations_to_roads(conn, rid)
        left = conn.execute(
            text(
                "SELECT count(*) FROM station WHERE road_node_id IS NOT NULL "
                "OR snap_distance_m IS NOT NULL"
            )
        ).scalar()
    assert linked == 0 and left == 0
