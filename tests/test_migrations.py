"""The migrations build the schema the models describe, with spatial indexes."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from najda.db.migrate import current_revision, downgrade, upgrade
from najda.db.models import Base

FOUNDATION = {
    "region",
    "governorate",
    "place",
    "agency",
    "jurisdiction",
    "station",
    "unit_type",
    "unit",
    "road_node",
    "road_edge",
    "graph_version",
    "incident_type",
    "layer_import",
}


def test_schema_has_foundation_tables_with_gist_indexes(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert tables >= FOUNDATION
    with engine.connect() as conn:
        gist = {
            r[0]
            for r in conn.execute(
                text("SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%USING gist%'")
            )
        }
    assert {
        "governorate",
        "jurisdiction",
        "station",
        "road_node",
        "road_edge",
        "place",
        "unit",
    } <= gist


def test_models_match_migrations(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # indexes are declared in the migrations only (GiST); tables and columns must agree
    relevant = [
        d
        for d in diff
        if not (isinstance(d, tuple) and d[0] in {"add_index", "remove_index"})
        and not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "spatial_ref_sys")
    ]
    assert relevant == []


def test_downgrade_and_upgrade_again(engine: Engine) -> None:
    head = current_revision(engine)
    downgrade(engine, "base")
    assert "road_edge" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert current_revision(engine) == head


def test_boundary_parts_follow_their_polygons(riyadh_engine: Engine) -> None:
    """Governorates and jurisdictions are kept cut into small parts (migration 0007):
    the parts cover exactly the polygon, after an import and after any change."""
    check = """
        SELECT count(*) FROM {t} x
        WHERE ST_Area(ST_SymDifference(x.geom,
                (SELECT ST_Union(p.geom) FROM {t}_part p WHERE p.{t}_id = x.id))) > 1e-12
           OR (SELECT max(ST_NPoints(p.geom)) FROM {t}_part p WHERE p.{t}_id = x.id) > 128
    """
    with riyadh_engine.begin() as conn:
        for table in ("governorate", "jurisdiction"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}_part")).scalar_one() > 0
            assert conn.execute(text(check.format(t=table))).scalar_one() == 0, table
        conn.execute(
            text("""UPDATE jurisdiction SET geom = ST_Multi(ST_Buffer(ST_Centroid(geom), 0.01))
                    WHERE id = (SELECT min(id) FROM jurisdiction)""")
        )
        assert conn.execute(text(check.format(t="jurisdiction"))).scalar_one() == 0
        conn.execute(text("DELETE FROM jurisdiction WHERE id = (SELECT min(id) FROM jurisdiction)"))
        orphans = conn.execute(
            text("""SELECT count(*) FROM jurisdiction_part p
                    LEFT JOIN jurisdiction j ON j.id = p.jurisdiction_id WHERE j.id IS NULL""")
        ).scalar_one()
        assert orphans == 0
