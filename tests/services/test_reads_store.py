"""The stores behind the reads of issue 20 on SQLite and PostgreSQL: notes with their delivery's
status (outer join on the outbox), claims and answers, each filtered by compartment and
criteria and keyset-paged in SQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.core.search import PageRequest
from ehealth_hub.delivery.outbox import Status, enqueue
from ehealth_hub.services.claims_store import (
    ClaimFilter,
    ClaimRow,
    find_claims,
    insert_claim,
    set_status,
)
from ehealth_hub.services.note_input import as_document
from ehealth_hub.services.note_reads import document
from ehealth_hub.services.notes_store import (
    NoteFilter,
    NoteRow,
    get_note,
    insert_note,
    search_notes,
)
from ehealth_hub.store.db import create_engine, upgrade
from ehealth_hub.store.tables import mycarenet_claims, outbox

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
AN, LUC = "85031212362", "90010112345"
SARAH, KOEN, JAN, PIET = "11530231003", "12345678901", "10987654321", "19876543210"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await upgrade(database_url)
    built = create_engine(database_url)
    yield built
    await built.dispose()


async def _note(engine: AsyncEngine, n: int, sender: str, gp: str, ssin: str) -> str:
    at = T0 + timedelta(minutes=n)
    async with engine.begin() as conn:
        item = await enqueue(
            conn,
            kind="consultation-note",
            destination="ehbox",
            ordering_key=ssin,
            payload={},
            now=at,
        )
        await insert_note(
            conn,
            NoteRow(
                f"note-{n}",
                item.id,
                ssin,
                sender,
                "consult-app",
                gp,
                {"resourceType": "DocumentReference", "status": "current"},
                b"<k/>",
                at,
            ),
        )
    return item.id


async def test_notes_are_found_by_compartment_patient_and_delivery_and_paged(
    engine: AsyncEngine,
) -> None:
    tasks = [
        await _note(engine, 1, SARAH, JAN, AN),
        await _note(engine, 2, SARAH, PIET, LUC),
        await _note(engine, 3, KOEN, JAN, AN),
        await _note(engine, 4, SARAH, JAN, AN),
    ]
    async with engine.begin() as conn:
        await conn.execute(
            update(outbox).where(outbox.c.id == tasks[0]).values(status=Status.COMPLETED.value)
        )
        await conn.execute(delete(outbox).where(outbox.c.id == tasks[3]))  # retention purged it

    async def ids(seen: NoteFilter, count: int = 10) -> list[str]:
        return [r.id for r in (await search_notes(engine, seen, PageRequest(count))).items]

    sarah = frozenset({SARAH})
    assert await ids(NoteFilter(senders=sarah)) == ["note-4", "note-2", "note-1"]
    assert await ids(NoteFilter(senders=sarah, patient=AN)) == ["note-4", "note-1"]
    assert await ids(NoteFilter(recipients=frozenset({JAN}))) == ["note-4", "note-3", "note-1"]
    done = NoteFilter(deliveries=(Status.COMPLETED,))
    assert await ids(done) == ["note-1"]
    assert await ids(NoteFilter(statuses=("superseded",))) == []
    assert await ids(NoteFilter(senders=frozenset(), recipients=frozenset())) == []

    first = await search_notes(engine, NoteFilter(), PageRequest(3))
    assert (first.total, first.more_after) == (4, True)
    rest = await search_notes(engine, NoteFilter(), PageRequest(3, after=first.last))
    assert [r.id for r in rest.items] == ["note-1"]

    purged = await get_note(engine, "note-4", NoteFilter(senders=sarah))
    assert purged is not None
    assert purged.delivery is None
    assert purged.kmehr == b"<k/>"
    assert await get_note(engine, "note-4", NoteFilter(senders=frozenset({KOEN}))) is None


async def test_a_notes_version_is_its_deliverys_until_retention_purges_it(
    engine: AsyncEngine,
) -> None:
    delivered, purged = (
        await _note(engine, 1, SARAH, JAN, AN),
        await _note(engine, 2, SARAH, JAN, AN),
    )
    async with engine.begin() as conn:
        await conn.execute(
            update(outbox)
            .where(outbox.c.id == delivered)
            .values(status=Status.COMPLETED.value, version=outbox.c.version + 1)
        )
        await conn.execute(delete(outbox).where(outbox.c.id == purged))
    sent = await get_note(engine, "note-1", NoteFilter())
    assert sent is not None
    meta = document(sent, sender=True)["meta"]
    assert meta["versionId"] == "2"  # the Task's: the delivery moved once
    gone = await get_note(engine, "note-2", NoteFilter())
    assert gone is not None
    # changed once more, at a moment nobody recorded: no lastUpdated to answer 304 from
    assert document(gone, sender=True)["meta"] == {"versionId": "purged"}


async def _claim(engine: AsyncEngine, n: int, who: str, federation: str, answered: bool) -> None:
    at = T0 + timedelta(minutes=n)
    row = ClaimRow(
        f"m-{n}",
        f"{who}|c-{n}",
        "d",
        "efact",
        federation,
        who,
        "queued",
        0,
        None,
        None,
        None,
        at,
        at,
        AN,
        {"resourceType": "Claim", "id": f"c-{n}"},
    )
    async with engine.begin() as conn:
        await insert_claim(conn, row)
    if answered:
        await set_status(
            engine,
            row.message_id,
            "accepted",
            now=at,
            claim_response={"resourceType": "ClaimResponse", "id": row.message_id},
        )


async def test_claims_are_found_by_practitioner_federation_and_answer(engine: AsyncEngine) -> None:
    await _claim(engine, 1, SARAH, "100", True)
    await _claim(engine, 2, SARAH, "300", False)
    await _claim(engine, 3, KOEN, "100", False)

    async def ids(seen: ClaimFilter) -> list[str]:
        return [r.message_id for r in (await find_claims(engine, seen, PageRequest(10))).items]

    assert await ids(ClaimFilter(practitioners=frozenset({SARAH}))) == ["m-2", "m-1"]
    assert await ids(ClaimFilter(federations=frozenset({"100"}))) == ["m-3", "m-1"]
    assert await ids(ClaimFilter(federations=frozenset({"100"}), answered=True)) == ["m-1"]
    assert await ids(ClaimFilter(message_id="m-2", federations=frozenset({"100"}))) == []
    assert await ids(ClaimFilter(patient=LUC)) == []
    async with engine.begin() as conn:  # stored before migration 0004: no Claim, no patient
        await conn.execute(
            update(mycarenet_claims)
            .where(mycarenet_claims.c.message_id == "m-1")
            .values(claim=None, patient_ssin=None)
        )
    assert await ids(ClaimFilter(submitted=True)) == ["m-3", "m-2"]
    assert await ids(ClaimFilter(answered=True)) == ["m-1"]  # its answer is still served
    found = (await find_claims(engine, ClaimFilter(message_id="m-1"), PageRequest(1))).items[0]
    assert found.claim is None
    assert found.claim_response == {"resourceType": "ClaimResponse", "id": "m-1"}


def test_a_bundle_note_stands_alone_with_its_entries_contained() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:p1", "resource": {"resourceType": "Patient", "id": "p1"}},
            {
                "resource": {
                    "resourceType": "DocumentReference",
                    "subject": {"reference": "urn:uuid:p1"},
                    "author": [{"reference": "Practitioner/a1"}],
                }
            },
            {"resource": {"resourceType": "Practitioner", "id": "a1"}},
        ],
    }
    doc = as_document(bundle)
    assert doc["subject"] == {"reference": "#p1"}
    assert doc["author"] == [{"reference": "#a1"}]
    assert [c["id"] for c in doc["contained"]] == ["p1", "a1"]
