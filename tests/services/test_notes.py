"""NotesService: the note is checked, translated, and enqueued with its audit event atomically."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ehealth_hub.audit.events import AuditRecord
from ehealth_hub.audit.log import AuditLog, ChainHead
from ehealth_hub.core.errors import ConsentDenied, InvalidInput, NotFound, StorageError
from ehealth_hub.core.ports import Actor
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import consultation_note
from ehealth_hub.services.notes import NoteDelivery, NotesService
from ehealth_hub.store.db import create_engine, upgrade
from ehealth_hub.store.tables import audit_events, outbox
from tests.fakes.addressbook import SandboxAddressBook
from tests.fakes.gate import SandboxFactsGate
from tests.fakes.mailbox import MemoryMailbox

SARAH = sandbox.practitioner("sarah")
ACTOR = Actor(SARAH.nihii, SARAH.quality)
AN = sandbox.patient("an")
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class BrokenAudit(AuditLog):
    async def record(self, conn: AsyncConnection, record: AuditRecord) -> ChainHead:
        raise StorageError("audit write failed", system="database")


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    await upgrade(url)
    built = create_engine(url)
    yield built
    await built.dispose()


async def _count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_a_note_is_enqueued_with_its_audit_event(engine: AsyncEngine) -> None:
    service = NotesService(SandboxFactsGate(), SandboxAddressBook(), engine)
    accepted = await service.accept(
        consultation_note(AN, SARAH, "Hello", now=NOW), ACTOR, client_id="app"
    )
    assert accepted.item.destination == "ehbox"
    assert accepted.item.task.owner == {
        "identifier": {
            "system": "https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/nihdi",
            "value": sandbox.practitioner(AN.gp).nihii,
        }
    }
    assert await _count(engine, outbox) == 1
    assert await _count(engine, audit_events) == 1


async def test_when_the_audit_write_fails_nothing_is_enqueued(engine: AsyncEngine) -> None:
    service = NotesService(SandboxFactsGate(), SandboxAddressBook(), engine, audit=BrokenAudit())
    with pytest.raises(StorageError):
        await service.accept(consultation_note(AN, SARAH, "Hello", now=NOW), ACTOR, client_id="app")
    assert await _count(engine, outbox) == 0


async def test_a_refused_note_never_reaches_the_addressbook(engine: AsyncEngine) -> None:
    book = SandboxAddressBook()
    service = NotesService(SandboxFactsGate(), book, engine)
    with pytest.raises(ConsentDenied):
        await service.accept(
            consultation_note(sandbox.patient("sofie"), SARAH, "x", now=NOW), ACTOR, client_id="app"
        )
    assert book.lookups == []
    assert await _count(engine, outbox) == 0


async def test_an_unknown_gp_is_not_found(engine: AsyncEngine) -> None:
    note = consultation_note(AN, SARAH, "x", now=NOW)
    note["contained"][2]["identifier"][0]["value"] = "10000106003"  # valid, unknown
    service = NotesService(SandboxFactsGate(), SandboxAddressBook(), engine)
    with pytest.raises(NotFound):
        await service.accept(note, ACTOR, client_id="app")


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("subject",), {"reference": "#nobody"}, "DocumentReference.subject"),
        (("author",), [], "DocumentReference.author"),
        (("contained", 0, "identifier", 0, "value"), "85031212363", "Patient.identifier"),
        (("contained", 0, "generalPractitioner"), [], "Patient.generalPractitioner"),
    ],
)
async def test_a_note_missing_its_parties_is_refused_naming_the_field(
    engine: AsyncEngine, path: tuple[Any, ...], value: Any, field: str
) -> None:
    note = consultation_note(AN, SARAH, "x", now=NOW)
    target: Any = note
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    service = NotesService(SandboxFactsGate(), SandboxAddressBook(), engine)
    with pytest.raises(InvalidInput) as caught:
        await service.accept(note, ACTOR, client_id="app")
    assert caught.value.field == field


async def test_delivery_asks_the_gate_again_and_sends_the_kmehr(engine: AsyncEngine) -> None:
    gate, mailbox = SandboxFactsGate(), MemoryMailbox()
    accepted = await NotesService(gate, SandboxAddressBook(), engine).accept(
        consultation_note(AN, SARAH, "Fever", now=NOW), ACTOR, client_id="app"
    )
    answer = await NoteDelivery(gate, mailbox)(accepted.item.payload, accepted.item.message_id)
    assert answer["message_id"] == accepted.item.message_id
    assert [r.action for r in gate.requests] == ["write-note", "write-note"]
    sent = mailbox.boxes[sandbox.practitioner(AN.gp).nihii][0]
    assert b"Fever" in sent.document
