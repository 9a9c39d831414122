"""Dispatch: incidents, assignments, the audit timeline, people and API tokens.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

The database itself guarantees what dispatch must never get wrong:

* a unit holds at most one active assignment (a partial unique index on
  ``assignment(unit_id) WHERE released_at IS NULL``), so two dispatchers racing for one
  unit cannot both win;
* incident numbers come from a per-region, per-year counter row updated with
  ``INSERT .. ON CONFLICT DO UPDATE .. RETURNING`` (row-locked, so concurrent calls get
  consecutive, distinct numbers);
* the timeline ``incident_event`` is append-only (a trigger refuses UPDATE and DELETE).
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ROLES = "('dispatcher','supervisor','planner','admin')"
INCIDENT_STATUSES = "('received','dispatched','en_route','on_scene','cleared','closed','cancelled')"


def geom(kind: str) -> Geometry:
    return Geometry(kind, srid=4326, spatial_index=False)


def ts(name: str, *, nullable: bool = True, now: bool = False) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.func.now() if now else None,
    )


def gist(table: str, column: str = "geom") -> None:
    op.create_index(f"ix_{table}_{column}_gist", table, [column], postgresql_using="gist")


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.Text, nullable=False, unique=True),
        sa.Column("display_name", sa.Text, nullable=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column(
            "agency_id", sa.Integer, sa.ForeignKey("agency.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("password_hash", sa.Text, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False, server_default="true"),
        ts("created_at", nullable=False, now=True),
        sa.CheckConstraint(f"role IN {ROLES}", name="app_user_role_known"),
    )

    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("token_hash", sa.Text, nullable=False, unique=True),
        ts("created_at", nullable=False, now=True),
        ts("last_used_at"),
        ts("revoked_at"),
    )
    op.create_index("ix_api_token_user_id", "api_token", ["user_id"])

    op.create_table(
        "incident_sequence",
        sa.Column(
            "region_id",
            sa.Integer,
            sa.ForeignKey("region.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("last_value", sa.Integer, nullable=False),
    )

    op.create_table(
        "incident",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("number", sa.Text, nullable=False, unique=True),
        sa.Column(
            "region_id", sa.Integer, sa.ForeignKey("region.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column(
            "incident_type_id",
            sa.Integer,
            sa.ForeignKey("incident_type.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("priority_reason", sa.Text, nullable=True),
        sa.Column("status", sa.Text, nullable=False, server_default="received"),
        sa.Column("geom", geom("POINT"), nullable=False),
        sa.Column("address", sa.Text, nullable=True),
        sa.Column("caller_number", sa.Text, nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column(
            "governorate_id",
            sa.Integer,
            sa.ForeignKey("governorate.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "created_by",
            sa.Integer,
            sa.ForeignKey("app_user.id", ondelete="SET NULL"),
            nullable=True,
        ),
        ts("received_at", nullable=False, now=True),
        ts("dispatched_at"),
        ts("en_route_at"),
        ts("on_scene_at"),
        ts("cleared_at"),
        ts("closed_at"),
        ts("cancelled_at"),
        ts("updated_at", nullable=False, now=True),
        sa.CheckConstraint(f"status IN {INCIDENT_STATUSES}", name="incident_status_known"),
        sa.CheckConstraint("priority BETWEEN 1 AND 5", name="incident_priority_range"),
    )
    gist("incident")
    op.create_index("ix_incident_status", "incident", ["status"])
    op.create_index("ix_incident_received_at", "incident", ["received_at"])

    op.create_table(
        "incident_jurisdiction",
        sa.Column(
            "incident_id",
            sa.Integer,
            sa.ForeignKey("incident.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "agency_id",
            sa.Integer,
            sa.ForeignKey("agency.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "jurisdiction_id",
            sa.Integer,
            sa.ForeignKey("jurisdiction.id", ondelete="CASCADE"),
            nullable=False,
        ),
    )

    op.create_table(
        "assignment",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "incident_id",
            sa.Integer,
            sa.ForeignKey("incident.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "unit_id", sa.Integer, sa.ForeignKey("unit.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("capability", sa.Text, nullable=True),
        sa.Column("eta_s", sa.Float, nullable=True),
        sa.Column("distance_m", sa.Float, nullable=True),
        sa.Column("route", geom("LINESTRING"), nullable=True),
        sa.Column(
            "assigned_by",
            sa.Integer,
            sa.ForeignKey("app_user.id", ondelete="SET NULL"),
            nullable=True,
        ),
        ts("assigned_at", nullable=False, now=True),
        ts("released_at"),
        sa.Column("release_reason", sa.Text, nullable=True),
    )
    op.create_index("ix_assignment_incident_id", "assignment", ["incident_id"])
    op.create_index(
        "ux_assignment_active_unit",
        "assignment",
        ["unit_id"],
        unique=True,
        postgresql_where=sa.text("released_at IS NULL"),
    )
    gist("assignment", "route")

    op.create_table(
        "incident_event",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "incident_id",
            sa.Integer,
            sa.ForeignKey("incident.id", ondelete="CASCADE"),
            nullable=False,
        ),
        ts("at", nullable=False, now=True),
        sa.Column(
            "actor_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("actor", sa.Text, nullable=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("from_status", sa.Text, nullable=True),
        sa.Column("to_status", sa.Text, nullable=True),
        sa.Column("details", JSONB, nullable=False, server_default="{}"),
    )
    op.create_index("ix_incident_event_incident_id", "incident_event", ["incident_id", "id"])
    op.execute("""
        CREATE FUNCTION incident_event_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'incident_event is append-only' USING ERRCODE = 'restrict_violation';
        END $$
    """)
    op.execute("""
        CREATE TRIGGER incident_event_append_only
        BEFORE UPDATE OR DELETE ON incident_event
        FOR EACH ROW EXECUTE FUNCTION incident_event_append_only()
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS incident_event_append_only ON incident_event")
    op.execute("DROP FUNCTION IF EXISTS incident_event_append_only()")
    for table in (
        "incident_event",
        "assignment",
        "incident_jurisdiction",
        "incident",
        "incident_sequence",
        "api_token",
        "app_user",
    ):
        op.drop_table(table)
