"""A keyed audit chain bound to this database.

``audit_events.mac``: HMAC-SHA256 of each record's link hash under a key held outside the database
(:mod:`ehealth_hub.audit.chain`). ``audit_chain.database_id``: a random identity drawn once, here,
that every MAC and every signed head includes, so records and heads cannot be moved between
databases. ``audit_chain.keyed_from``: the first sequence number written with a MAC; records of an
upgraded database before it keep no MAC (their integrity rests on the hash chain and the signed
heads, as before).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("mac", sa.String(64), nullable=True))
    with op.batch_alter_table("audit_chain") as batch:
        batch.add_column(sa.Column("database_id", sa.String(32), nullable=True))
        batch.add_column(
            sa.Column(
                "keyed_from", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
    chain = sa.table(
        "audit_chain",
        sa.column("id", sa.Integer),
        sa.column("seq", sa.BigInteger),
        sa.column("database_id", sa.String),
        sa.column("keyed_from", sa.BigInteger),
    )
    op.execute(
        chain.update()
        .where(chain.c.id == 1)
        .values(database_id=uuid.uuid4().hex, keyed_from=chain.c.seq + 1)
    )


def downgrade() -> None:
    with op.batch_alter_table("audit_chain") as batch:
        batch.drop_column("keyed_from")
        batch.drop_column("database_id")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("mac")
