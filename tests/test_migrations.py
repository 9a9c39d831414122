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
