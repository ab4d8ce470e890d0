"""The hub's tables (SQLAlchemy Core). One initial migration creates them until the first release.

Each table belongs to one package: consents and audit_events to consent/ and audit/, outbox,
tasks and idempotency_keys to delivery/, and so on. Resources are stored as FHIR JSON text next to
the columns needed to find them. Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, MetaData, String, Table, Text

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

# -- tables above this line (add yours here and in migrations/versions/0001_initial.py) --

__all__ = ["hub_info", "metadata"]
