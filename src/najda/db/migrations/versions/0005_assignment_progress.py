"""Dispatch: each unit's own progress on its assignment (en route, on scene).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

The incident's ``en_route_at`` / ``on_scene_at`` say when its *first* unit got there;
turnout and travel time per unit need each unit's own times. One row per assignment
(``assignment.assigned_at`` is the unit's dispatch time): ``en_route_at`` when the unit
set off, ``on_scene_at`` when it arrived, each written once (the first report counts).
Existing assignments are given the incident's times when they held the unit then (until
now every unit followed its incident).
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assignment_progress",
        sa.Column(
            "assignment_id",
            sa.Integer,
            sa.ForeignKey("assignment.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("en_route_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("on_scene_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.execute("""
        INSERT INTO assignment_progress (assignment_id, en_route_at, on_scene_at)
        SELECT a.id,
               CASE WHEN i.en_route_at >= a.assigned_at
                     AND i.en_route_at <= coalesce(a.released_at, 'infinity')
                    THEN i.en_route_at END,
               CASE WHEN i.on_scene_at >= a.assigned_at
                     AND i.on_scene_at <= coalesce(a.released_at, 'infinity')
                    THEN i.on_scene_at END
        FROM assignment a JOIN incident i ON i.id = a.incident_id
        WHERE i.en_route_at IS NOT NULL OR i.on_scene_at IS NOT NULL""")


def downgrade() -> None:
    op.drop_table("assignment_progress")
