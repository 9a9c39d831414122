"""Dispatch: how each assignment's predicted ETA was made.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

``eta_method`` is ``road`` (the routing engine), ``straight_line`` (great-circle distance
at a stated speed and detour, when the roads cannot answer) or ``none`` (no position);
``eta_reason`` says why not by road (``off_network``, ``unit_off_network``,
``unreachable``, ``no_road_graph``, ``no_position``). Assignments made before this
revision take the method their ``unit_assigned`` timeline event recorded, else NULL.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

METHODS = ("road", "straight_line", "none")


def upgrade() -> None:
    op.add_column("assignment", sa.Column("eta_method", sa.Text, nullable=True))
    op.add_column("assignment", sa.Column("eta_reason", sa.Text, nullable=True))
    op.create_check_constraint(
        "ck_assignment_eta_method",
        "assignment",
        "eta_method IS NULL OR eta_method IN ('road', 'straight_line', 'none')",
    )
    op.execute("""
        UPDATE assignment s SET eta_method = e.details ->> 'eta_method',
                                eta_reason = e.details ->> 'eta_reason'
        FROM incident_event e
        WHERE e.incident_id = s.incident_id AND e.kind = 'unit_assigned'
          AND e.details ->> 'assignment_id' = s.id::text
          AND e.details ->> 'eta_method' IN ('road', 'straight_line', 'none')""")


def downgrade() -> None:
    op.drop_constraint("ck_assignment_eta_method", "assignment")
    op.drop_column("assignment", "eta_reason")
    op.drop_column("assignment", "eta_method")
