"""Columns for searching delivery Tasks in SQL: ``outbox.patient`` and ``outbox.owner``.

``system|value`` of the identifiers of ``Task.for`` (``GET /fhir/Task?patient=``) and
``Task.owner`` (``Task?owner=``, and the compartments of mutualities and GP software), so that
filters and keyset pages are answered by the database, not by reading every Task document.
Existing rows are filled from their Task document.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _token(reference: Any) -> str | None:
    ident = reference.get("identifier") if isinstance(reference, dict) else None
    if not isinstance(ident, dict) or not ident.get("value"):
        return None
    return f"{ident.get('system') or ''}|{ident['value']}"


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("patient", sa.String(300), nullable=True))
        batch.add_column(sa.Column("owner", sa.String(300), nullable=True))
        batch.create_index("ix_outbox_patient", ["patient"])
        batch.create_index("ix_outbox_kind_owner_seq", ["kind", "owner", "seq"])
    outbox = sa.table(
        "outbox",
        sa.column("id", sa.String),
        sa.column("task", sa.Text),
        sa.column("patient", sa.String),
        sa.column("owner", sa.String),
    )
    bind = op.get_bind()
    for row_id, task in bind.execute(sa.select(outbox.c.id, outbox.c.task)).all():
        info = json.loads(task)
        bind.execute(
            outbox.update()
            .where(outbox.c.id == row_id)
            .values(patient=_token(info.get("for_")), owner=_token(info.get("owner")))
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_kind_owner_seq")
        batch.drop_index("ix_outbox_patient")
        batch.drop_column("owner")
        batch.drop_column("patient")
