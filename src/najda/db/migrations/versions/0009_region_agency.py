"""Regions name their own agencies: which catalogue agencies answer a region's calls and
what they are called there.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

Agency codes, unit types, incident types and response plans stay shared by every region;
a region lists its agencies (from its manifest's ``[[agency]]`` tables) with the local
names, in Arabic and English, and the prefix of their units' call signs. A null name
or prefix means the catalogue's own. A region without rows has every catalogue agency,
under the catalogue's names (what every region had before this revision).
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "region_agency",
        sa.Column(
            "region_id",
            sa.Integer,
            sa.ForeignKey("region.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "agency_id",
            sa.Integer,
            sa.ForeignKey("agency.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name_en", sa.Text, nullable=True),
        sa.Column("name_ar", sa.Text, nullable=True),
        sa.Column("call_prefix", sa.Text, nullable=True),
        sa.CheckConstraint("(name_en IS NULL) = (name_ar IS NULL)", name="region_agency_names"),
        sa.CheckConstraint("call_prefix ~ '^[A-Z]{1,3}$'", name="region_agency_call_prefix"),
    )


def downgrade() -> None:
    op.drop_table("region_agency")
