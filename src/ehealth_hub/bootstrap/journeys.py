"""Wiring of journeys 1 and 2 (records and notes), called by the composition root only, once the
ports and the gate exist."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit.log import AuditLog
from ehealth_hub.core.ports import (
    AddressBookPort,
    GlobalMedicalFilePort,
    MailboxPort,
    RecordSourcePort,
)
from ehealth_hub.delivery.engine import DeliveryEngine
from ehealth_hub.services.access_matrix import AccessMatrix
from ehealth_hub.services.content_cache import ContentCache
from ehealth_hub.services.gate import PermitGate
from ehealth_hub.services.notes import DESTINATION, NoteDelivery, NotesService
from ehealth_hub.services.records import RecordsService
from ehealth_hub.settings import RecordsSettings

SOURCE_NAMES: dict[str, str] = {
    "rsw": "Réseau Santé Wallon",
    "abrumet": "Abrumet / Brussels Health Network",
    "cozo": "CoZo - Collaboratief Zorgplatform",
    "vitalink": "Vitalink",
    "gp": "GP record system",
}
"""Display names of the record sources (Provenance and Composition sections); unknown keys show
as themselves."""


def build_records(
    gate: PermitGate, sources: Sequence[RecordSourcePort], records: RecordsSettings
) -> RecordsService:
    """Journey 1: the records service over the record sources (displays: :data:`SOURCE_NAMES`)."""
    return RecordsService(
        gate,
        sources,
        displays=SOURCE_NAMES,
        timeout_seconds=records.source_timeout_seconds,
        contents=ContentCache(
            ttl_seconds=records.content_cache_seconds,
            max_bytes=records.content_cache_megabytes * 1024 * 1024,
        ),
        matrix=AccessMatrix.load(),  # sections by provider type (data/access_matrix.csv)
    )


def build_notes(
    gate: PermitGate,
    engine: AsyncEngine,
    *,
    addressbook: AddressBookPort,
    mailbox: MailboxPort,
    gmd: GlobalMedicalFilePort,
    audit: AuditLog,
    delivery: DeliveryEngine,
) -> NotesService:
    """Journey 2: the notes service, its ``ehbox`` delivery destination registered."""
    if DESTINATION not in delivery.destinations:
        delivery.register(DESTINATION, NoteDelivery(gate, mailbox))
    return NotesService(gate, addressbook, engine, gmd=gmd, audit=audit)
