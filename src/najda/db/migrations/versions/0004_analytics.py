"""Analytics: when each emergency call was answered, for the call-handling KPI.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

The incident record starts (``incident.received_at``) when the call-taker creates it,
already classified; the moment the call was *answered* comes from the telephony side
(CTI) and is what call handling is measured from (answered -> incident created). One
row per incident at most; ``source`` says where the time came from (``cti``,
``manual`` or ``simulated`` for the demo history).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_call",
        sa.Column(
            "incident_id",
            sa.Integer,
            sa.ForeignKey("incident.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text, nullable=False, server_default="cti"),
        sa.CheckConstraint(
            "source IN ('cti', 'manual', 'simulated')", name="incident_call_source_known"
        ),
    )


def downgrade() -> None:
    op.drop_table("incident_call")
