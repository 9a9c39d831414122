"""Boundaries cut into small parts for fast point-in-polygon lookups.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-04

Which governorate and which agency jurisdictions cover a point (an incident, a unit's
station) is asked on every incident and every recommendation. Governorate and
jurisdiction polygons of a whole city or region carry thousands of vertices, so
``ST_Covers`` against them costs ~0.1 ms a point. ``governorate_part`` and
``jurisdiction_part`` hold the same polygons cut with ``ST_Subdivide`` into pieces of at
most 128 vertices, each with a GiST index and the whole polygon's area (the smallest
covering area wins ties, as before): the lookup becomes an index probe and a test
against one small piece. Triggers keep the parts equal to their polygons on every
insert and change (deletes cascade), whatever writes them.
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

VERTICES = 128
PARTS = {"governorate": [], "jurisdiction": ["agency_id"]}


def _columns(table: str, extra: list[str]) -> list[sa.Column]:
    columns = [
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            f"{table}_id",
            sa.Integer,
            sa.ForeignKey(f"{table}.id", ondelete="CASCADE"),
            nullable=False,
        ),
    ]
    columns += [sa.Column(name, sa.Integer, nullable=False) for name in extra]
    columns += [
        sa.Column("area", sa.Float, nullable=False),
        sa.Column("geom", Geometry("GEOMETRY", srid=4326, spatial_index=False), nullable=False),
    ]
    return columns


def upgrade() -> None:
    for table, extra in PARTS.items():
        part = f"{table}_part"
        op.create_table(part, *_columns(table, extra))
        op.execute(f"CREATE INDEX ix_{part}_geom ON {part} USING gist (geom)")
        op.create_index(f"ix_{part}_{table}_id", part, [f"{table}_id"])
        keys = "".join(f", {c}" for c in extra)
        new_keys = "".join(f", NEW.{c}" for c in extra)
        op.execute(f"""
            CREATE FUNCTION {part}_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                DELETE FROM {part} WHERE {table}_id = NEW.id;
                INSERT INTO {part} ({table}_id{keys}, area, geom)
                SELECT NEW.id{new_keys}, ST_Area(NEW.geom), d
                FROM ST_Subdivide(NEW.geom, {VERTICES}) AS d;
                RETURN NULL;
            END $$""")
        op.execute(f"""
            CREATE TRIGGER {part}_refresh AFTER INSERT OR UPDATE OF geom{keys} ON {table}
            FOR EACH ROW EXECUTE FUNCTION {part}_refresh()""")
        op.execute(f"""
            INSERT INTO {part} ({table}_id{keys}, area, geom)
            SELECT t.id{"".join(f", t.{c}" for c in extra)}, ST_Area(t.geom), d
            FROM {table} t, ST_Subdivide(t.geom, {VERTICES}) AS d""")


def downgrade() -> None:
    for table in PARTS:
        part = f"{table}_part"
        op.execute(f"DROP TRIGGER IF EXISTS {part}_refresh ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {part}_refresh()")
        op.drop_table(part)
