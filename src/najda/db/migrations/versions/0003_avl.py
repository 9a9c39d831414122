"""AVL: the append-only track of every field unit's GPS fixes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

``position`` holds one row per fix. Its primary key ``(unit_id, fix_time)`` is the
uniqueness rule of the feed: a fix re-sent by a device (retry after a lost answer,
Traccar Client flushing its buffer twice) is stored once (``INSERT .. ON CONFLICT DO
NOTHING``). Rows are never updated (a trigger refuses it); deleting old rows (retention)
and the cascade from a deleted unit stay possible.

Indexes: the primary key serves "one unit's track in a window"; a BRIN index on
``fix_time`` serves "every unit in a window" (playback) at a few pages of size, because
fixes arrive roughly in time order; GiST on ``geom`` serves "who passed near here".

Partitioning by time (when the table grows to hundreds of millions of rows): make
``position`` a ``PARTITION BY RANGE (fix_time)`` table with one partition per month
(``position_2026_11 FOR VALUES FROM ('2026-11-01') TO ('2026-12-01')``), created ahead of
time by a scheduled job (or pg_partman), plus a DEFAULT partition for stray fixes. The
key already contains ``fix_time``, as PostgreSQL requires of a unique key on a
partitioned table, and no query or insert changes; retention becomes ``DETACH`` and
``DROP`` of a month instead of a bulk ``DELETE``.
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "position",
        sa.Column(
            "unit_id", sa.Integer, sa.ForeignKey("unit.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("fix_time", sa.DateTime(timezone=True), primary_key=True),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("speed", sa.Float, nullable=True),
        sa.Column("heading", sa.Float, nullable=True),
        sa.Column("accuracy", sa.Float, nullable=True),
        sa.Column("altitude", sa.Float, nullable=True),
        sa.Column("battery", sa.Float, nullable=True),
        sa.CheckConstraint(
            "ST_X(geom) BETWEEN -180 AND 180 AND ST_Y(geom) BETWEEN -90 AND 90",
            name="position_coordinates_range",
        ),
        sa.CheckConstraint("speed IS NULL OR speed >= 0", name="position_speed_range"),
        sa.CheckConstraint(
            "heading IS NULL OR (heading >= 0 AND heading <= 360)", name="position_heading_range"
        ),
        sa.CheckConstraint(
            "battery IS NULL OR (battery >= 0 AND battery <= 100)", name="position_battery_range"
        ),
    )
    op.create_index("ix_position_fix_time_brin", "position", ["fix_time"], postgresql_using="brin")
    op.create_index("ix_position_geom_gist", "position", ["geom"], postgresql_using="gist")
    # the JSON API finds a unit by its bearer token's digest
    op.create_index("ux_unit_token_hash", "unit", ["token_hash"], unique=True)
    op.execute("""
        CREATE FUNCTION position_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'position is append-only' USING ERRCODE = 'restrict_violation';
        END $$
    """)
    op.execute("""
        CREATE TRIGGER position_append_only BEFORE UPDATE ON position
        FOR EACH ROW EXECUTE FUNCTION position_append_only()
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS position_append_only ON position")
    op.execute("DROP FUNCTION IF EXISTS position_append_only()")
    op.drop_index("ux_unit_token_hash", table_name="unit")
    op.drop_table("position")
