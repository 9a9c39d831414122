"""The whole Riyadh region from its manifest, and `najda status` after it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from najda.cli import main
from najda.config import Settings, load_settings, project_root
from najda.errors import ImportFailed
from najda.ingest.region import import_region

TABLES = (
    "region",
    "governorate",
    "place",
    "jurisdiction",
    "station",
    "layer_import",
    "agency",
    "unit_type",
    "incident_type",
)
LAYERS = ("governorate", "place", "jurisdiction", "station")


def snapshot(engine: Engine, tables: tuple[str, ...] = TABLES) -> dict[str, tuple[Any, ...]]:
    """Row count and a checksum of every row of each table.

    Left out: import times, and what the roads importer renews on every run (road node
    ids, which stations point at, the graph version) or finds in a different state on a
    re-run (stations to link: none yet on the first run, as they come after the roads).
    """
    row = (
        "((to_jsonb(x) - 'imported_at' - 'road_node_id') || jsonb_build_object("
        "'details', (to_jsonb(x)->'details') - 'graph_version' - 'stations_linked'))::text"
    )
    with engine.connect() as conn:
        return {
            t: tuple(
                conn.execute(
                    text(
                        f"SELECT count(*), md5(coalesce(string_agg({row}, '|' ORDER BY x.id), '')) "
                        f"FROM {t} x"
                    )
                ).one()
            )
            for t in tables
        }


def settings_for(
    engine: Engine, data_dir: Path, *, geo_data_dir: Path | None = None, online: bool = False
) -> Settings:
    return load_settings().with_overrides(
        database_url=engine.url.render_as_string(hide_password=False),
        data_dir=data_dir,
        geo_data_dir=geo_data_dir or project_root() / "geo_data",
        online=online,
    )


@pytest.fixture
def geo_data(tmp_path: Path) -> Path:
    """A geo_data folder with the real catalogue and an empty regions folder."""
    root = tmp_path / "geo_data"
    shutil.copytree(project_root() / "geo_data" / "catalogue", root / "catalogue")
    (root / "regions").mkdir()
    return root


def manifest(geo_data: Path, body: str, code: str = "testland") -> None:
    (geo_data / "regions" / f"{code}.toml").write_text(
        f'[region]\ncode = "{code}"\nname_en = "Test land"\nname_ar = "أرض الاختبار"\n'
        f'incident_prefix = "TST"\n\n{body}',
        encoding="utf-8",
    )


def test_riyadh_region_is_imported_whole(riyadh_engine: Engine) -> None:
    with riyadh_engine.connect() as conn:
        region = conn.execute(
            text(
                "SELECT name_en, name_ar, timezone, incident_prefix, ST_IsValid(geom) "
                "FROM region WHERE code = 'riyadh'"
            )
        ).one()
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in LAYERS}
        kinds = dict(conn.execute(text("SELECT kind, count(*) FROM place GROUP BY 1")).all())
        per_agency = dict(
            conn.execute(
                text(
                    "SELECT a.code, count(*) FROM jurisdiction j JOIN agency a ON a.id = j.agency_id "
                    "GROUP BY 1"
                )
            ).all()
        )
        roads = conn.execute(text("SELECT count(*) FROM road_edge")).scalar()
        unlinked = conn.execute(
            text("SELECT count(*) FROM station WHERE road_node_id IS NULL")
        ).scalar()
        layers = set(conn.execute(text("SELECT layer FROM layer_import")).scalars())
    assert tuple(region) == ("Riyadh Region", "منطقة الرياض", "Asia/Riyadh", "RYD", True)
    assert counts == {"governorate": 20, "place": 232 + 549, "jurisdiction": 100, "station": 155}
    assert kinds == {"neighbourhood": 232, "locality": 549}
    assert per_agency == {
        "police": 20,
        "traffic": 20,
        "road_security": 20,
        "civil_defence": 20,
        "red_crescent": 20,
    }
    assert roads > 1000
    assert unlinked == 0
    assert {
        "governorates",
        "neighbourhoods",
        "localities",
        "stations",
        "jurisdictions:police",
    } <= layers


def test_region_reimport_is_idempotent(riyadh_engine: Engine, data_dir: Path) -> None:
    before = snapshot(riyadh_engine)
    reports = list(import_region(riyadh_engine, settings_for(riyadh_engine, data_dir), "riyadh"))
    assert snapshot(riyadh_engine) == before
    assert [r.layer for r in reports][:5] == [
        "region",
        "catalogue",
        "agencies",
        "governorates",
        "neighbourhoods",
    ]


def test_status_prints_the_counts(riyadh_engine: Engine) -> None:
    url = riyadh_engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(main, ["status"], env={"DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines()]
    assert ["governorates", "20"] in lines
    assert ["stations", "155"] in lines
    assert ["jurisdictions", "100"] in lines
    assert ["neighbourhood", "232"] in lines
    assert "region riyadh: Riyadh Region / منطقة الرياض" in result.output


def test_missing_manifest_is_named(engine: Engine, data_dir: Path, geo_data: Path) -> None:
    with pytest.raises(ImportFailed, match=r"no manifest for region atlantis: .*atlantis\.toml"):
        next(
            import_region(engine, settings_for(engine, data_dir, geo_data_dir=geo_data), "atlantis")
        )


def test_missing_file_offline_fails_before_anything_is_written(
    engine: Engine, data_dir: Path, geo_data: Path
) -> None:
    manifest(
        geo_data,
        """
[[layers]]
layer = "governorates"
file = "boundaries/wof_riyadh_region_governorates.geojson"

[[layers]]
layer = "stations"
file = "facilities/not_there.geojson"
url = "https://example.invalid/not_there.geojson"
""",
    )
    before = snapshot(engine)
    settings = settings_for(engine, data_dir, geo_data_dir=geo_data)
    with pytest.raises(
        ImportFailed,
        match=r"stations file not found: .*not_there\.geojson "
        r"\(offline",
    ):
        list(import_region(engine, settings, "testland"))
    assert snapshot(engine) == before


def test_online_source_is_used_only_when_the_file_is_missing(
    engine: Engine, data_dir: Path, geo_data: Path
) -> None:
    source = data_dir / "boundaries" / "wof_riyadh_region_governorates.geojson"
    manifest(
        geo_data,
        f"""
[[layers]]
layer = "governorates"
file = "boundaries/governorates_elsewhere.geojson"
url = "{source.as_uri()}"

[[layers]]
layer = "jurisdictions"
derive_from = "governorates"
agencies = ["police"]
""",
    )
    settings = settings_for(engine, data_dir, geo_data_dir=geo_data, online=True)
    reports = {r.layer: r for r in import_region(engine, settings, "testland")}
    cached = geo_data / "cache" / "testland" / "governorates_elsewhere.geojson"
    assert cached.read_bytes() == source.read_bytes()
    assert reports["governorates"].imported == 20
    assert reports["jurisdictions:police"].imported == 20
    assert reports["governorates"].source == str(cached)
    with engine.connect() as conn:
        prefix = conn.execute(
            text("SELECT incident_prefix FROM region WHERE code = 'testland'")
        ).scalar()
    assert prefix == "TST"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[layers]]\nlayer = "volcanoes"\nfile = "x.geojson"\n', "'volcanoes' is not one of"),
        ('[[layers]]\nlayer = "stations"\n', "needs a file"),
        (
            '[[layers]]\nlayer = "stations"\nfile = "x"\nonline = { place = "X" }\n',
            "'online' is for roads",
        ),
        (
            '[[layers]]\nlayer = "governorates"\nderive_from = "governorates"\n',
            "only jurisdictions can be derived",
        ),
        ("", r"lists no \[\[layers\]\]"),
    ],
)
def test_bad_manifest_is_refused(
    engine: Engine, data_dir: Path, geo_data: Path, body: str, message: str
) -> None:
    manifest(geo_data, body)
    with pytest.raises(ImportFailed, match=message):
        next(
            import_region(engine, settings_for(engine, data_dir, geo_data_dir=geo_data), "testland")
        )


def test_a_layer_failing_midway_leaves_every_layer_as_it_was(
    engine: Engine, data_dir: Path, geo_data: Path, tmp_path: Path
) -> None:
    """The region import is one transaction: a corrupt later layer undoes the earlier ones."""
    corrupt = tmp_path / "data" / "facilities" / "broken.geojson"
    corrupt.parent.mkdir(parents=True)
    corrupt.write_text('{"type": "FeatureCollection", "features": [ {"type": "Feat')
    (tmp_path / "data" / "boundaries").symlink_to(data_dir / "boundaries")
    manifest(
        geo_data,
        """
[[layers]]
layer = "governorates"
file = "boundaries/wof_riyadh_region_governorates.geojson"

[[layers]]
layer = "stations"
file = "facilities/broken.geojson"
""",
    )
    before = snapshot(engine)
    settings = settings_for(engine, tmp_path / "data", geo_data_dir=geo_data)
    reports = []
    with pytest.raises(ImportFailed):
        for report in import_region(engine, settings, "testland"):
            reports.append(report.layer)
    assert "governorates" in reports  # it was written inside the transaction ...
    assert snapshot(engine) == before  # ... and rolled back with the failing layer
