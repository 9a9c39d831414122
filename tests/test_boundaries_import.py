"""Boundaries and places from real Who's On First files, on real PostGIS."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from sqlalchemy import Engine, text

from db_snapshots import table_snapshot
from najda.errors import ImportFailed
from najda.ingest.boundaries import import_boundaries

ARABIC = re.compile(r"[\u0600-\u06FF]")
TABLES = ("region", "governorate", "place", "jurisdiction", "layer_import")


def snapshot(engine: Engine, tables: tuple[str, ...] = TABLES) -> dict[str, tuple[int, str]]:
    return table_snapshot(engine, tables)


@pytest.fixture
def governorates_file(data_dir: Path) -> Path:
    return data_dir / "boundaries" / "wof_riyadh_region_governorates.geojson"


@pytest.fixture
def loaded(engine: Engine, governorates_file: Path) -> Engine:
    """The test database with the Riyadh governorates imported."""
    import_boundaries(engine, "riyadh", governorates_file)
    return engine


def feature_collection(path: Path, geometries: list[dict[str, Any]]) -> Path:
    features = [
        {
            "type": "Feature",
            "geometry": g,
            "properties": {"id": i, "name_en": f"Area {i}", "name_ar": f"منطقة {i}"},
        }
        for i, g in enumerate(geometries, start=1)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def square(x: float, y: float, size: float = 0.01) -> dict[str, Any]:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_twenty_governorates_with_arabic_names_and_population(
    engine: Engine, governorates_file: Path
) -> None:
    source = json.loads(governorates_file.read_text())
    expected_population = sum(f["properties"]["population"] for f in source["features"])
    report = import_boundaries(engine, "riyadh", governorates_file)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT name_en, name_ar, population, ST_SRID(geom), GeometryType(geom) "
                "FROM governorate"
            )
        ).all()
        capital = conn.execute(
            text("SELECT name_ar, population FROM governorate WHERE name_en = 'Ar-Riyad'")
        ).one()
        region_area, governorate_area = conn.execute(
            text("""
            SELECT ST_Area(r.geom::geography), (SELECT sum(ST_Area(g.geom::geography))
                                                FROM governorate g)
            FROM region r WHERE r.code = 'riyadh'""")
        ).one()
    assert report.imported == 20 and report.skipped == 0
    assert len(rows) == 20
    assert all(ARABIC.search(name_ar) for _, name_ar, *_ in rows)
    assert sum(r[2] for r in rows) == expected_population
    assert {(r[3], r[4]) for r in rows} == {(4326, "MULTIPOLYGON")}
    assert tuple(capital) == ("الرياض", 4137280)
    # the region outline is the union of its governorates (they tile it)
    assert region_area == pytest.approx(governorate_area, rel=0.01)


def test_file_in_another_crs_lands_in_the_same_place(
    engine: Engine, governorates_file: Path, tmp_path: Path
) -> None:
    original = gpd.read_file(governorates_file).head(3)
    utm = tmp_path / "governorates_utm.gpkg"
    original.to_crs(32638).to_file(utm, driver="GPKG")
    report = import_boundaries(engine, "riyadh", utm)
    assert "32638" in report.extra["crs"]
    with engine.connect() as conn:
        for _, row in original.iterrows():
            metres, srid = conn.execute(
                text("""
                SELECT ST_HausdorffDistance(ST_Transform(geom, 32638),
                                            ST_Transform(ST_GeomFromText(:wkt, 4326), 32638)),
                       ST_SRID(geom)
                FROM governorate WHERE code = :code"""),
                {"wkt": row.geometry.wkt, "code": str(row["wof_id"])},
            ).one()
            assert srid == 4326
            assert metres < 0.01


def test_file_without_crs_must_be_lon_lat(engine: Engine, tmp_path: Path) -> None:
    lonlat = gpd.GeoDataFrame(
        {"id": [1], "name_en": ["A"], "name_ar": ["أ"]},
        geometry=gpd.GeoSeries.from_wkt(["POLYGON((46 24, 46.1 24, 46.1 24.1, 46 24))"]),
    )
    metres = lonlat.set_crs(4326).to_crs(32638).set_crs(None, allow_override=True)
    with pytest.warns(UserWarning, match="crs"):
        lonlat.to_file(tmp_path / "lonlat.shp")
        metres.to_file(tmp_path / "metres.shp")
    assert not (tmp_path / "metres.prj").exists()
    report = import_boundaries(engine, "riyadh", tmp_path / "lonlat.shp")
    assert report.imported == 1 and "assumed" in report.extra["crs"]
    with pytest.raises(ImportFailed, match="no CRS"):
        import_boundaries(engine, "riyadh", tmp_path / "metres.shp")


def test_bow_tie_is_repaired_and_a_collapsed_polygon_rejected(
    engine: Engine, tmp_path: Path
) -> None:
    bow_tie = {
        "type": "Polygon",
        "coordinates": [[[46.0, 24.0], [46.1, 24.1], [46.1, 24.0], [46.0, 24.1], [46.0, 24.0]]],
    }
    collapsed = {
        "type": "Polygon",
        "coordinates": [[[46.0, 24.0], [46.5, 24.5], [47.0, 25.0], [46.0, 24.0]]],
    }
    path = feature_collection(tmp_path / "areas.geojson", [square(46.5, 24.5), bow_tie, collapsed])
    report = import_boundaries(engine, "riyadh", path)
    assert (report.imported, report.repaired, report.skipped) == (2, 1, 1)
    assert report.reasons == {
        "invalid polygon (self-intersection), not repairable as a polygon (rejected)": 1
    }
    assert report.extra["repairs"] == {"repaired (self-intersection)": 1}
    with engine.connect() as conn:
        valid, parts, area = conn.execute(
            text("""
            SELECT ST_IsValid(geom), ST_NumGeometries(geom), ST_Area(geom)
            FROM governorate WHERE code = '2'""")
        ).one()
        logged = conn.execute(
            text(
                "SELECT skipped_count, details->'repaired' FROM layer_import "
                "WHERE layer = 'governorates'"
            )
        ).one()
    assert valid and parts == 2
    assert area == pytest.approx(0.005)  # two triangles of 0.1 x 0.05 / 2 each
    assert tuple(logged) == (1, 1)


def test_reimport_replaces_and_keeps_ids(loaded: Engine, governorates_file: Path) -> None:
    before = snapshot(loaded, ("governorate",))
    report = import_boundaries(loaded, "riyadh", governorates_file)
    assert report.imported == 20
    assert snapshot(loaded, ("governorate",)) == before
    with loaded.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM layer_import")).scalar() == 1


def test_rows_gone_from_the_file_are_removed(loaded: Engine, tmp_path: Path) -> None:
    path = feature_collection(tmp_path / "two.geojson", [square(46, 24), square(47, 24)])
    import_boundaries(loaded, "riyadh", path)
    with loaded.connect() as conn:
        names = set(conn.execute(text("SELECT name_ar FROM governorate")).scalars())
    assert names == {"منطقة 1", "منطقة 2"}


def _corrupt(tmp_path: Path, data_dir: Path) -> dict[str, Path]:
    (tmp_path / "empty.geojson").write_bytes(b"")
    (tmp_path / "corrupt.geojson").write_text('{"type": "FeatureCollection", "features": [')
    (tmp_path / "nofeatures.geojson").write_text('{"type":"FeatureCollection","features":[]}')
    return {
        "missing": tmp_path / "missing.geojson",
        "empty": tmp_path / "empty.geojson",
        "corrupt": tmp_path / "corrupt.geojson",
        "nofeatures": tmp_path / "nofeatures.geojson",
        "points": data_dir / "boundaries" / "wof_riyadh_region_localities.geojson",
    }


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "file not found"),
        ("empty", "file is empty"),
        ("corrupt", "cannot read"),
        ("nofeatures", "no features"),
        ("points", r"needs polygons, .* has Point \(549\)"),
    ],
)
def test_failed_import_leaves_the_database_unchanged(
    loaded: Engine, tmp_path: Path, data_dir: Path, case: str, message: str
) -> None:
    before = snapshot(loaded)
    with pytest.raises(ImportFailed, match=message) as failure:
        import_boundaries(loaded, "riyadh", _corrupt(tmp_path, data_dir)[case])
    assert "\n" not in failure.value.message
    assert snapshot(loaded) == before


def test_neighbourhoods_keep_polygons_and_points(engine: Engine, data_dir: Path) -> None:
    report = import_boundaries(
        engine,
        "riyadh",
        data_dir / "boundaries" / "wof_riyadh_city_neighbourhoods.geojson",
        layer="neighbourhoods",
    )
    with engine.connect() as conn:
        kinds = dict(
            conn.execute(
                text(
                    "SELECT GeometryType(geom), count(*) FROM place WHERE kind = 'neighbourhood' "
                    "GROUP BY 1"
                )
            ).all()
        )
        missing_ar = conn.execute(
            text("SELECT count(*) FROM place WHERE name_ar IS NULL OR name_ar = ''")
        ).scalar()
    assert report.imported == 232
    assert kinds == {"POLYGON": 193, "POINT": 39}
    assert missing_ar == 0
    # 3 without an Arabic name, and Dirab whose "Arabic" name is a transliteration (Dīrāb)
    assert report.extra["no_arabic_name_english_used"] == 4
    assert report.extra["name_ar_not_arabic"] == 1


def test_localities_without_arabic_name_fall_back_to_english(
    engine: Engine, data_dir: Path
) -> None:
    path = data_dir / "boundaries" / "wof_riyadh_region_localities.geojson"
    names = [f["properties"]["name_ar"] for f in json.loads(path.read_text())["features"]]
    latin = [n for n in names if n and not ARABIC.search(n)]  # transliterations: "Al ‘Ulū"
    report = import_boundaries(engine, "riyadh", path, layer="localities")
    with engine.connect() as conn:
        same = conn.execute(
            text("SELECT count(*) FROM place WHERE kind = 'locality' AND name_ar = name_en")
        ).scalar()
        shown_as_arabic = conn.execute(
            text("SELECT count(*) FROM place WHERE name_ar = ANY(:latin)"), {"latin": latin}
        ).scalar()
    assert report.imported == 549
    assert len(latin) == report.extra["name_ar_not_arabic"] == 62
    assert report.extra["no_arabic_name_english_used"] == names.count(None) + len(latin) == 297
    assert same >= 297
    assert shown_as_arabic == 0
    assert "no_arabic_name_english_used 297" in report.summary()


def test_jurisdictions_belong_to_a_known_agency(engine: Engine, governorates_file: Path) -> None:
    with pytest.raises(ImportFailed, match="unknown agency 'spies'"):
        import_boundaries(
            engine, "riyadh", governorates_file, layer="jurisdictions", agency="spies"
        )
    with pytest.raises(ImportFailed, match="need an agency"):
        import_boundaries(engine, "riyadh", governorates_file, layer="jurisdictions")
    report = import_boundaries(
        engine, "riyadh", governorates_file, layer="jurisdictions", agency="civil_defence"
    )
    with engine.connect() as conn:
        agencies = conn.execute(
            text(
                "SELECT a.code, count(*) FROM jurisdiction j JOIN agency a ON a.id = j.agency_id "
                "GROUP BY 1"
            )
        ).all()
    assert report.layer == "jurisdictions:civil_defence"
    assert [tuple(r) for r in agencies] == [("civil_defence", 20)]


def test_fields_map_other_attribute_names(engine: Engine, tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {"ADM_ID": ["G1"], "ENGLISH": ["North"], "ARABIC": ["الشمال"], "PEOPLE": ["1,234"]},
        geometry=gpd.GeoSeries.from_wkt(["POLYGON((46 24, 46.1 24, 46.1 24.1, 46 24))"]),
        crs=4326,
    )
    path = tmp_path / "custom.gpkg"
    frame.to_file(path, driver="GPKG")
    mapping = {"code": "ADM_ID", "name_en": "ENGLISH", "name_ar": "ARABIC", "population": "PEOPLE"}
    import_boundaries(engine, "riyadh", path, fields=mapping)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT code, name_en, name_ar, population FROM governorate")).one()
    assert tuple(row) == ("G1", "North", "الشمال", 1234)
    with pytest.raises(ImportFailed, match="'NAME_X'"):
        import_boundaries(engine, "riyadh", path, fields={"name_en": "NAME_X"})


def test_cli_prints_one_line_and_exits_non_zero(loaded: Engine, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from najda.cli import main

    corrupt = tmp_path / "corrupt.geojson"
    corrupt.write_text('{"type": "FeatureCollection", "features": [')
    before = snapshot(loaded)
    result = CliRunner().invoke(
        main,
        ["import", "boundaries", str(corrupt), "--region", "riyadh"],
        env={"DATABASE_URL": loaded.url.render_as_string(hide_password=False)},
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert re.fullmatch(r"error: cannot read corrupt\.geojson: .*Unterminated array", lines[0])
    assert snapshot(loaded) == before
