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
    op.create_table(
        "consents",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("patient_ssin", sa.String(11), nullable=False),
        sa.Column("actor_nihii", sa.String(11), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("identifier", sa.String(300), nullable=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
        sa.UniqueConstraint("identifier", name=op.f("uq_consents_identifier")),
        comment="Per-consultation FHIR Consents (be-Consent) recorded by client apps (consent/).",
    )
    op.create_index(op.f("ix_consents_patient_ssin"), "consents", ["patient_ssin"])
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("recorded", sa.DateTime(timezone=True), nullable=False),
        sa.Column("patient_ssin", sa.String(11), nullable=True),
        sa.Column("actor_nihii", sa.String(11), nullable=True),
        sa.Column("client_id", sa.String(128), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("decision_id", sa.String(64), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("id", name=op.f("uq_audit_events_id")),
        comment="Hash-chained audit trail (audit/): body is the canonical JSON the hash covers.",
    )
    op.create_index(op.f("ix_audit_events_patient_ssin"), "audit_events", ["patient_ssin"])
    chain = op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain")),
        comment="The chain head (one row): serialises audit writers across processes.",
    )
    # The genesis head: every audit writer locks this one row, so it must exist before the first.
    op.bulk_insert(chain, [{"id": 1, "seq": 0, "head_hash": "0" * 64}])
    op.create_table(
        "auth_assertion_ids",
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("jti", sa.String(255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "jti", name=op.f("pk_auth_assertion_ids")),
        comment="Client-assertion ids already used (auth/): a jti is never accepted twice.",
    )
    op.create_index(op.f("ix_auth_assertion_ids_expires_at"), "auth_assertion_ids", ["expires_at"])
    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("ordering_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("focus", sa.String(200), nullable=True),
        sa.Column("requester", sa.String(64), nullable=True),
        sa.Column("task", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
        sa.UniqueConstraint("id", name=op.f("uq_outbox_id")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_message_id")),
        comment=(
            "Transactional outbox (delivery/): one row per delivery, also rendered as a FHIR Task."
        ),
    )
    op.create_index("ix_outbox_status_seq", "outbox", ["status", "seq"])
    op.create_index("ix_outbox_ordering_key_seq", "outbox", ["ordering_key", "seq"])
    op.create_index("ix_outbox_destination_status", "outbox", ["destination", "status"])
    op.create_index("ix_outbox_status_updated_at", "outbox", ["status", "updated_at"])
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(128), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("headers", sa.Text(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
        comment="API Idempotency-Key per client (api/idempotency.py): the stored answer to replay.",
    )
    op.create_index(op.f("ix_idempotency_keys_expires_at"), "idempotency_keys", ["expires_at"])
    op.create_table(
        "delivery_breakers",
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("open_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("destination", name=op.f("pk_delivery_breakers")),
        comment="Circuit breakers shared by the workers on PostgreSQL (delivery/breakers.py).",
    )
    op.create_table(
        "mycarenet_claims",
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("claim_key", sa.String(128), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("route", sa.String(16), nullable=False),
        sa.Column("federation", sa.String(3), nullable=False),
        sa.Column("practitioner_nihii", sa.String(11), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.String(64), nullable=True),
        sa.Column("attestation_id", sa.String(64), nullable=True),
        sa.Column("claim_response", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_mycarenet_claims")),
        sa.UniqueConstraint("claim_key", name=op.f("uq_mycarenet_claims_claim_key")),
        comment="Teleconsultation claims (services/claims.py): one per practitioner + claim id.",
    )
    op.create_table(
        "mycarenet_insurability",
        sa.Column("ssin", sa.String(11), nullable=False),
        sa.Column("reference_date", sa.String(10), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ssin", "reference_date", name=op.f("pk_mycarenet_insurability")),
        comment="MemberData answers cached per patient and date (services/claims.py).",
    )
    # -- tables above this line (keep in step with store/tables.py) --


def downgrade() -> None:
    # -- drops below this line, newest first --
    op.drop_table("mycarenet_insurability")
    op.drop_table("mycarenet_claims")
    op.drop_table("delivery_breakers")
    op.drop_index(op.f("ix_idempotency_keys_expires_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_outbox_status_updated_at", table_name="outbox")
    op.drop_index("ix_outbox_destination_status", table_name="outbox")
    op.drop_index("ix_outbox_ordering_key_seq", table_name="outbox")
    op.drop_index("ix_outbox_status_seq", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_auth_assertion_ids_expires_at"), table_name="auth_assertion_ids")
    op.drop_table("auth_assertion_ids")
    op.drop_table("audit_chain")
    op.drop_index(op.f("ix_audit_events_patient_ssin"), table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_index(op.f("ix_consents_patient_ssin"), table_name="consents")
    op.drop_table("consents")
    op.drop_table("hub_info")
