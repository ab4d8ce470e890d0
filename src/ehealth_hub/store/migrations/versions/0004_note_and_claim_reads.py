"""Notes and claims readable after the outbox forgets them (FHIR reads, issue 20).

``notes``: each consultation note the hub accepted, as the DocumentReference the client sent and
the KMEHR message the hub delivers to the GP (``GET /fhir/DocumentReference``, ``GET
/fhir/Binary``); the outbox row that carried it is purged by delivery retention, the note is not.
``mycarenet_claims.claim`` and ``.patient_ssin``: the Claim the app submitted and its patient
(``GET /fhir/Claim``, ``Claim?patient=``); rows written before this revision keep them empty and
are not served as Claims (their ClaimResponse still is, found by id, not by patient).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notes",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("outbox_id", sa.String(64), nullable=False),
        sa.Column("patient_ssin", sa.String(11), nullable=False),
        sa.Column("actor_nihii", sa.String(11), nullable=False),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("recipient_nihii", sa.String(11), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("kmehr", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_notes")),
        sa.UniqueConstraint("id", name=op.f("uq_notes_id")),
        comment="Consultation notes accepted for a GP (services/notes_store.py): the "
        "DocumentReference as sent and the KMEHR the hub delivers; they outlive the outbox row "
        "retention purges.",
    )
    op.create_index(op.f("ix_notes_patient_ssin"), "notes", ["patient_ssin"])
    with op.batch_alter_table("mycarenet_claims") as batch:
        batch.add_column(sa.Column("patient_ssin", sa.String(11), nullable=True))
        batch.add_column(sa.Column("claim", sa.Text(), nullable=True))
        batch.create_index(op.f("ix_mycarenet_claims_patient_ssin"), ["patient_ssin"])


def downgrade() -> None:
    with op.batch_alter_table("mycarenet_claims") as batch:
        batch.drop_index(op.f("ix_mycarenet_claims_patient_ssin"))
        batch.drop_column("claim")
        batch.drop_column("patient_ssin")
    op.drop_index(op.f("ix_notes_patient_ssin"), table_name="notes")
    op.drop_table("notes")
