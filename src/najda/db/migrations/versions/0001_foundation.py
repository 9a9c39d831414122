"""Foundation: regions, boundaries, catalogue, stations, units and the road graph.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def geom(kind: str) -> Geometry:
    return Geometry(kind, srid=4326, spatial_index=False)


def pk() -> sa.Column:
    return sa.Column("id", sa.Integer, primary_key=True)


def region_fk() -> sa.Column:
    return sa.Column(
        "region_id", sa.Integer, sa.ForeignKey("region.id", ondelete="CASCADE"), nullable=False
    )


def now() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def gist(table: str, column: str = "geom") -> None:
    op.create_index(f"ix_{table}_{column}_gist", table, [column], postgresql_using="gist")


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    # pgRouting is a reference engine for tests and benchmarks; create it where available.
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_available_extensions "
        "WHERE name = 'pgrouting') THEN CREATE EXTENSION IF NOT EXISTS pgrouting; END IF; END $$"
    )

    op.create_table(
        "region",
        pk(),
        sa.Column("code", sa.Text, nullable=False, unique=True),
        sa.Column("name_en", sa.Text, nullable=False),
        sa.Column("name_ar", sa.Text, nullable=False),
        sa.Column("timezone", sa.Text, nullable=False, server_default="Asia/Riyadh"),
        sa.Column("incident_prefix", sa.Text, nullable=False, server_default="NJD"),
        sa.Column("geom", geom("MULTIPOLYGON"), nullable=True),
        now(),
    )
    gist("region")

    op.create_table(
        "governorate",
        pk(),
        region_fk(),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("name_en", sa.Text, nullable=False),
        sa.Column("name_ar", sa.Text, nullable=False),
        sa.Column("population", sa.BigInteger, nullable=True),
        sa.Column("geom", geom("MULTIPOLYGON"), nullable=False),
        sa.UniqueConstraint("region_id", "code"),
    )
    gist("governorate")

    op.create_table(
        "place",
        pk(),
        region_fk(),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("name_en", sa.Text, nullable=True),
        sa.Column("name_ar", sa.Text, nullable=True),
        sa.Column("population", sa.BigInteger, nullable=True),
        sa.Column("geom", geom("GEOMETRY"), nullable=False),
        sa.UniqueConstraint("region_id", "kind", "code"),
    )
    gist("place")

    op.create_table(
        "agency",
        pk(),
        sa.Column("code", sa.Text, nullable=False, unique=True),
        sa.Column("name_en", sa.Text, nullable=False),
        sa.Column("name_ar", sa.Text, nullable=False),
        sa.Column("color", sa.Text, nullable=False, server_default="#555555"),
    )

    op.create_table(
        "jurisdiction",
        pk(),
        region_fk(),
        sa.Column(
            "agency_id", sa.Integer, sa.ForeignKey("agency.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("name_en", sa.Text, nullable=False),
        sa.Column("name_ar", sa.Text, nullable=False),
        sa.Column("geom", geom("MULTIPOLYGON"), nullable=False),
        sa.UniqueConstraint("region_id", "agency_id", "code"),
    )
    gist("jurisdiction")

    op.create_table(
        "road_node",
        sa.Column("id", sa.BigInteger, primary_key=True),
        region_fk(),
        sa.Column("osm_id", sa.BigInteger, nullable=True),
        sa.Column("geom", geom("POINT"), nullable=False),
    )
    gist("road_node")
    op.create_index("ix_road_node_region_id", "road_node", ["region_id"])

    op.create_table(
        "road_edge",
        sa.Column("id", sa.BigInteger, primary_key=True),
        region_fk(),
        sa.Column(
            "u", sa.BigInteger, sa.ForeignKey("road_node.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "v", sa.BigInteger, sa.ForeignKey("road_node.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("osm_way_id", sa.BigInteger, nullable=True),
        sa.Column("highway", sa.Text, nullable=False),
        sa.Column("name_en", sa.Text, nullable=True),
        sa.Column("name_ar", sa.Text, nullable=True),
        sa.Column("oneway", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("length_m", sa.Float, nullable=False),
        sa.Column("speed_kph", sa.Float, nullable=False),
        sa.Column("travel_time_s", sa.Float, nullable=False),
        sa.Column("geom", geom("LINESTRING"), nullable=False),
        sa.CheckConstraint("travel_time_s > 0", name="road_edge_travel_time_positive"),
        sa.CheckConstraint("length_m > 0", name="road_edge_length_positive"),
        sa.CheckConstraint("speed_kph > 0", name="road_edge_speed_positive"),
    )
    gist("road_edge")
    op.create_index("ix_road_edge_region_id", "road_edge", ["region_id"])
    op.create_index("ix_road_edge_u", "road_edge", ["u"])
    op.create_index("ix_road_edge_v", "road_edge", ["v"])

    op.create_table(
        "graph_version",
        pk(),
        region_fk(),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("node_count", sa.Integer, nullable=False),
        sa.Column("edge_count", sa.Integer, nullable=False),
        sa.Column("component_count", sa.Integer, nullable=False),
        sa.Column("dropped_node_count", sa.Integer, nullable=False, server_default="0"),
        now(),
        sa.UniqueConstraint("region_id", "version"),
    )

    op.create_table(
        "station",
        pk(),
        region_fk(),
        sa.Column(
            "agency_id", sa.Integer, sa.ForeignKey("agency.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=True),
        sa.Column("name_en", sa.Text, nullable=True),
        sa.Column("name_ar", sa.Text, nullable=True),
        sa.Column("geom", geom("POINT"), nullable=False),
        sa.Column(
            "road_node_id",
            sa.BigInteger,
            sa.ForeignKey("road_node.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("snap_distance_m", sa.Float, nullable=True),
        sa.UniqueConstraint("region_id", "code"),
    )
    gist("station")
    # road re-imports delete nodes; without this each deleted node scans station
    op.create_index("ix_station_road_node_id", "station", ["road_node_id"])

    op.create_table(
        "unit_type",
        pk(),
        sa.Column("code", sa.Text, nullable=False, unique=True),
        sa.Column(
            "agency_id", sa.Integer, sa.ForeignKey("agency.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("name_en", sa.Text, nullable=False),
        sa.Column("name_ar", sa.Text, nullable=False),
        sa.Column("capabilities", ARRAY(sa.Text), nullable=False, server_default="{}"),
    )

    op.create_table(
        "unit",
        pk(),
        sa.Column("call_sign", sa.Text, nullable=False, unique=True),
        sa.Column(
            "unit_type_id",
            sa.Integer,
            sa.ForeignKey("unit_type.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "agency_id", sa.Integer, sa.ForeignKey("agency.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column(
            "station_id",
            sa.Integer,
            sa.ForeignKey("station.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("status", sa.Text, nullable=False, server_default="available"),
        sa.Column("device_id", sa.Text, nullable=True, unique=True),
        sa.Column("token_hash", sa.Text, nullable=True),
        sa.Column("last_position", geom("POINT"), nullable=True),
        sa.Column("last_fix_at", sa.DateTime(timezone=True), nullable=True),
        now(),
        sa.CheckConstraint(
            "status IN ('available','dispatched','en_route','on_scene','returning',"
            "'out_of_service')",
            name="unit_status_known",
        ),
    )
    gist("unit", "last_position")

    op.create_table(
        "incident_type",
        pk(),
        sa.Column("code", sa.Text, nullable=False, unique=True),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("name_en", sa.Text, nullable=False),
        sa.Column("name_ar", sa.Text, nullable=False),
        sa.Column("default_priority", sa.Integer, nullable=False),
        sa.Column("response_plan", JSONB, nullable=False, server_default="[]"),
    )

    op.create_table(
        "layer_import",
        pk(),
        region_fk(),
        sa.Column("layer", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("feature_count", sa.Integer, nullable=False),
        sa.Column("skipped_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("details", JSONB, nullable=False, server_default="{}"),
        sa.Column(
            "imported_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.UniqueConstraint("region_id", "layer"),
    )


def downgrade() -> None:
    for table in (
        "layer_import",
        "incident_type",
        "unit",
        "unit_type",
        "station",
        "graph_version",
        "road_edge",
        "road_node",
        "jurisdiction",
        "agency",
        "place",
        "governorate",
        "region",
    ):
        op.drop_table(table)
