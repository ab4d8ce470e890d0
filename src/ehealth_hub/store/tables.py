"""The hub's tables (SQLAlchemy Core). Migrations in ``store/migrations/versions`` create them.

Each table belongs to one package: consents and audit_events to consent/ and audit/, outbox,
tasks and idempotency_keys to delivery/, and so on. Resources are stored as FHIR JSON text next to
the columns needed to find them. Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

hub_info = Table(
    "hub_info",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    comment="Facts about this installation (instance id, first start).",
)

consents = Table(
    "consents",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("patient_ssin", String(11), nullable=False, index=True),
    Column("actor_nihii", String(11), nullable=False),
    Column("status", String(16), nullable=False),
    Column("identifier", String(300), nullable=True, unique=True),
    Column("period_start", DateTime(timezone=True), nullable=False),
    Column("period_end", DateTime(timezone=True), nullable=False),
    Column("resource", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("date_start", DateTime(timezone=True), nullable=True),
    Column("date_end", DateTime(timezone=True), nullable=True),
    comment="Per-consultation FHIR Consents (be-Consent) recorded by client apps (consent/).",
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("recorded", DateTime(timezone=True), nullable=False),
    Column("patient_ssin", String(11), nullable=True, index=True),
    Column("actor_nihii", String(11), nullable=True),
    Column("client_id", String(128), nullable=True),
    Column("action", String(32), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("decision_id", String(64), nullable=True),
    Column("body", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("mac", String(64), nullable=True),
    comment="Hash-chained audit trail (audit/): body is the canonical JSON the hash covers.",
)

audit_chain = Table(
    "audit_chain",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("database_id", String(32), nullable=True),
    Column("keyed_from", BigInteger().with_variant(Integer, "sqlite"), nullable=True),
    comment="The chain head (one row): serialises audit writers across processes.",
)

auth_assertion_ids = Table(
    "auth_assertion_ids",
    metadata,
    Column("client_id", String(128), primary_key=True),
    Column("jti", String(255), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    comment="Client-assertion ids already used (auth/): a jti is never accepted twice.",
)

outbox = Table(
    "outbox",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("message_id", String(64), nullable=False, unique=True),
    Column("kind", String(64), nullable=False),
    Column("destination", String(64), nullable=False),
    Column("ordering_key", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("queued_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("focus", String(200), nullable=True),
    Column("requester", String(64), nullable=True),
    Column("patient", String(300), nullable=True, index=True),
    Column("owner", String(300), nullable=True),
    Column("task", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("result", Text, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_outbox_status_seq", "status", "seq"),
    Index("ix_outbox_ordering_key_seq", "ordering_key", "seq"),
    Index("ix_outbox_destination_status", "destination", "status"),
    Index("ix_outbox_status_updated_at", "status", "updated_at"),
    Index("ix_outbox_kind_owner_seq", "kind", "owner", "seq"),
    comment="Transactional outbox (delivery/): one row per delivery, also rendered as a FHIR Task.",
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(128), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("headers", Text, nullable=True),
    Column("body", LargeBinary, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    comment="API Idempotency-Key per client (api/idempotency.py): the stored answer to replay.",
)

delivery_breakers = Table(
    "delivery_breakers",
    metadata,
    Column("destination", String(64), primary_key=True),
    Column("open_until", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    comment="Circuit breakers shared by the workers on PostgreSQL (delivery/breakers.py).",
)

mycarenet_claims = Table(
    "mycarenet_claims",
    metadata,
    Column("message_id", String(64), primary_key=True),
    Column("claim_key", String(128), nullable=False, unique=True),
    Column("digest", String(64), nullable=False),
    Column("route", String(16), nullable=False),
    Column("federation", String(3), nullable=False),
    Column("practitioner_nihii", String(11), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("outbox_id", String(64), nullable=True),
    Column("attestation_id", String(64), nullable=True),
    Column("claim_response", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("patient_ssin", String(11), nullable=True, index=True),
    Column("claim", Text, nullable=True),
    comment="Teleconsultation claims (services/claims.py): one per practitioner + claim id.",
)

mycarenet_insurability = Table(
    "mycarenet_insurability",
    metadata,
    Column("ssin", String(11), primary_key=True),
    Column("reference_date", String(10), primary_key=True),
    Column("facts", Text, nullable=False),
    Column("fetched_at", DateTime(timezone=True), nullable=False),
    comment="MemberData answers cached per patient and date (services/claims.py).",
)

notes = Table(
    "notes",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("outbox_id", String(64), nullable=False),
    Column("patient_ssin", String(11), nullable=False, index=True),
    Column("actor_nihii", String(11), nullable=False),
    Column("client_id", String(128), nullable=False),
    Column("recipient_nihii", String(11), nullable=False),
    Column("status", String(16), nullable=False),
    Column("resource", Text, nullable=False),
    Column("kmehr", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    comment="Consultation notes accepted for a GP (services/notes_store.py): the DocumentReference "
    "as sent and the KMEHR the hub delivers; they outlive the outbox row retention purges.",
)

# -- tables above this line (add yours here and in a numbered migration, migrations/versions/) --

__all__ = [
    "audit_chain",
    "audit_events",
    "auth_assertion_ids",
    "consents",
    "hub_info",
    "idempotency_keys",
    "metadata",
    "mycarenet_claims",
    "mycarenet_insurability",
    "notes",
    "outbox",
]
