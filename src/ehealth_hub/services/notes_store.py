"""Storage of the consultation notes the hub accepted (table ``notes``), beside their delivery.

A note is written in the same transaction as its outbox row and AuditEvent
(:meth:`ehealth_hub.services.notes.NotesService.accept`): the DocumentReference as the client
sent it and the KMEHR message the ``ehbox`` destination seals for the GP. The outbox row is the
delivery (and its Task); delivery retention purges it once finished, the note stays. Reads join
the two: the delivery status is the outbox row's while it exists. SQLAlchemy errors leave as
StorageError through :func:`ehealth_hub.delivery.store.guard`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson
from sqlalchemy import Select, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ehealth_hub.core.search import Page, PageRequest, mapped
from ehealth_hub.delivery.outbox import Status, utc
from ehealth_hub.delivery.store import guard
from ehealth_hub.store.search import fetch_page
from ehealth_hub.store.tables import notes, outbox

SYSTEM: Final = "notes"


@dataclass(frozen=True, slots=True)
class NoteRow:
    """One accepted note, with its delivery's status (None once retention purged the row)."""

    id: str
    outbox_id: str
    patient_ssin: str
    actor_nihii: str
    client_id: str
    recipient_nihii: str
    resource: dict[str, Any]
    kmehr: bytes
    created_at: datetime
    delivery: Status | None = None
    delivery_updated: datetime | None = None
    delivery_version: int | None = None
    """The delivery's version (its Task's ``versionId``; None once purged)."""


@dataclass(frozen=True, slots=True)
class NoteFilter:
    """Which notes a search (or a read) may return: the caller's compartment and the criteria."""

    senders: frozenset[str] | None = None
    """The practitioners whose notes these are (None: any)."""
    recipients: frozenset[str] | None = None
    """The GPs they are addressed to (None: any)."""
    patient: str | None = None
    statuses: Sequence[str] = ()
    """DocumentReference.status codes (``current``, ``superseded``, ``entered-in-error``)."""
    deliveries: Sequence[Status] = ()
    """The statuses of their deliveries (outbox)."""


async def insert_note(conn: AsyncConnection, row: NoteRow) -> None:
    """Store ``row`` in the caller's transaction (a note accepted twice is stored once)."""
    async with guard("insert-note", system=SYSTEM):
        if await conn.scalar(select(notes.c.seq).where(notes.c.id == row.id)) is not None:
            return
        await conn.execute(
            insert(notes).values(
                id=row.id,
                outbox_id=row.outbox_id,
                patient_ssin=row.patient_ssin,
                actor_nihii=row.actor_nihii,
                client_id=row.client_id,
                recipient_nihii=row.recipient_nihii,
                status=str(row.resource.get("status", "current"))[:16],
                resource=orjson.dumps(row.resource).decode(),
                kmehr=row.kmehr,
                created_at=row.created_at,
            )
        )


def _query() -> Select[Any]:
    return select(
        notes,
        outbox.c.status.label("delivery"),
        outbox.c.updated_at.label("delivery_updated"),
        outbox.c.version.label("delivery_version"),
    ).outerjoin(outbox, outbox.c.id == notes.c.outbox_id)


def _row(raw: Mapping[Any, Any]) -> NoteRow:
    updated = raw["delivery_updated"]
    return NoteRow(
        id=raw["id"],
        outbox_id=raw["outbox_id"],
        patient_ssin=raw["patient_ssin"],
        actor_nihii=raw["actor_nihii"],
        client_id=raw["client_id"],
        recipient_nihii=raw["recipient_nihii"],
        resource=orjson.loads(raw["resource"]),
        kmehr=bytes(raw["kmehr"]),
        created_at=utc(raw["created_at"]),
        delivery=Status(raw["delivery"]) if raw["delivery"] else None,
        delivery_updated=utc(updated) if updated is not None else None,
        delivery_version=raw["delivery_version"],
    )


def _where(stmt: Select[Any], seen: NoteFilter) -> Select[Any]:
    if seen.senders is not None:
        stmt = stmt.where(notes.c.actor_nihii.in_(sorted(seen.senders)))
    if seen.recipients is not None:
        stmt = stmt.where(notes.c.recipient_nihii.in_(sorted(seen.recipients)))
    if seen.patient is not None:
        stmt = stmt.where(notes.c.patient_ssin == seen.patient)
    if seen.statuses:
        stmt = stmt.where(notes.c.status.in_(list(seen.statuses)))
    if seen.deliveries:
        stmt = stmt.where(outbox.c.status.in_([s.value for s in seen.deliveries]))
    return stmt


async def get_note(engine: AsyncEngine, note_id: str, seen: NoteFilter) -> NoteRow | None:
    """The note ``note_id`` if ``seen`` holds it, else None (missing or not the caller's)."""
    stmt = _where(_query().where(notes.c.id == note_id), seen)
    async with guard("get-note", system=SYSTEM), engine.connect() as conn:
        raw = (await conn.execute(stmt)).mappings().first()
    return _row(raw) if raw else None


async def search_notes(engine: AsyncEngine, seen: NoteFilter, page: PageRequest) -> Page[NoteRow]:
    """One page of the notes ``seen`` holds, newest first, keyset-paged in SQL."""
    stmt = _where(_query(), seen)
    async with guard("search-notes", system=SYSTEM), engine.connect() as conn:
        found = await fetch_page(
            conn, stmt, key=notes.c.seq, tiebreak=notes.c.seq, page=page, operation="notes.search"
        )
    return mapped(found, [_row(r) for r in found.items])
