"""``consents.date_start`` and ``.date_end``: the range ``Consent.dateTime`` covers, for
``GET /fhir/Consent?date=`` filtered in SQL.

``Consent.dateTime`` (when the consent was given) may be a date or a partial date as well as an
instant; a search compares ranges (FHIR R4 search.html#date), so the columns hold the first and
the last instant its precision covers (``2026-12-06`` is that whole day, UTC when no offset is
given). Both stay empty for a Consent without ``dateTime``; such a Consent matches no ``date``
search. Existing rows are filled from their resource.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

from ehealth_hub.core.search import date_range

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None
_INSTANT = timedelta(microseconds=1)
"""The last instant of ``[start, end)`` is ``end - 1 µs`` (the finest a dateTime can say)."""


def upgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.add_column(sa.Column("date_start", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("date_end", sa.DateTime(timezone=True), nullable=True))
    consents = sa.table(
        "consents",
        sa.column("id", sa.String),
        sa.column("resource", sa.Text),
        sa.column("date_start", sa.DateTime(timezone=True)),
        sa.column("date_end", sa.DateTime(timezone=True)),
    )
    bind = op.get_bind()
    for row_id, resource in bind.execute(sa.select(consents.c.id, consents.c.resource)).all():
        given = json.loads(resource).get("dateTime")
        if not given:
            continue
        start, end = date_range(given)  # validated as a FHIR dateTime when it was stored
        bind.execute(
            consents.update()
            .where(consents.c.id == row_id)
            .values(date_start=start, date_end=end - _INSTANT)
        )


def downgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.drop_column("date_end")
        batch.drop_column("date_start")
