"""The initial schema (one migration until the first release).

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_info",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_hub_info")),
        comment="Facts about this installation (instance id, first start).",
    )
    # -- tables above this line (keep in step with store/tables.py) --


def downgrade() -> None:
    # -- drops below this line, newest first --
    op.drop_table("hub_info")
