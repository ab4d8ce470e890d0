"""Notes queued while a consent source is down: retried with the backoff, delivered once it is back.

The real consent gate over in-memory consent services, the real ``ehbox`` destination
(:class:`NoteDelivery`) and the worker, on both backends with a hand-moved clock. An unreachable
source is an outage (retried, dead-lettered only after the policy's limit); a denial that a source
actually decided ends the delivery as refused, without retry.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.consent.gate import ConsentGate
from ehealth_hub.consent.store import ConsentStore
from ehealth_hub.core.errors import DownstreamUnavailable
from ehealth_hub.core.ports import Actor
from ehealth_hub.delivery import store
from ehealth_hub.delivery.engine import DeliveryEngine
from ehealth_hub.delivery.outbox import Status
from ehealth_hub.delivery.task import task_resource
from ehealth_hub.delivery.worker import Worker
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import consultation_note
from ehealth_hub.services.notes import NoteDelivery, NotesService
from ehealth_hub.settings import ConsentSettings
from tests.consent._support import consent_resource
from tests.delivery.conftest import POLICY, Clock
from tests.fakes.addressbook import SandboxAddressBook
from tests.fakes.consent import FakeTherapeuticLinkService, sandbox_services
from tests.fakes.mailbox import MemoryMailbox

SARAH = sandbox.practitioner("sarah")
ACTOR = Actor(SARAH.nihii, SARAH.quality)
PATIENTS = (sandbox.patient("an"), sandbox.patient("luc"))


@pytest.fixture
def clock() -> Clock:
    """Starts now: the in-memory mailbox checks the permit against the wall clock."""
    return Clock(datetime.now(UTC))


class Hub:
    """The gate, the notes service and the ``ehbox`` destination over one database and clock."""

    def __init__(self, db: AsyncEngine, clock: Clock, delivery: DeliveryEngine) -> None:
        consent, self.links, exclusions = sandbox_services()
        self.gate = ConsentGate(
            consent=consent,
            links=self.links,
            exclusions=exclusions,
            engine=db,
            config=ConsentSettings(),
            store=ConsentStore(),
            clock=clock,
        )
        self.db, self.clock, self.mailbox = db, clock, MemoryMailbox()
        self.notes = NotesService(self.gate, SandboxAddressBook(), db, clock=clock)
        delivery.register("ehbox", NoteDelivery(self.gate, self.mailbox))

    async def consultation_consent(self, ssin: str, gp_nihii: str) -> None:
        resource = consent_resource(
            ssin, SARAH.nihii, start=self.clock.now - timedelta(minutes=5), minutes=600, gp=gp_nihii
        )
        async with self.db.begin() as conn:
            await ConsentStore().create(conn, resource, self.clock.now)

    async def queue_notes(self, per_patient: int) -> list[str]:
        ids = []
        for p in PATIENTS:
            await self.consultation_consent(p.ssin, sandbox.practitioner(p.gp).nihii)
            for n in range(per_patient):
                note = consultation_note(p, SARAH, f"note {n} for {p.key}", now=self.clock.now)
                ids.append((await self.notes.accept(note, ACTOR, client_id="app")).item.id)
        # delivered later than the gate may reuse the permits it gave when accepting them
        self.clock.advance(ConsentSettings().cache_staleness_seconds + 1)
        return ids

    async def items(self, ids: list[str]) -> list[store.OutboxItem]:
        async with self.db.connect() as conn:
            found = [await store.get(conn, i) for i in ids]
        assert all(item is not None for item in found)
        return [item for item in found if item is not None]

    def sent(self) -> int:
        return sum(len(box) for box in self.mailbox.boxes.values())


def links_down(links: FakeTherapeuticLinkService) -> None:
    links.fail_with = DownstreamUnavailable("connection refused", system="therlink")


async def run_until_idle(worker: Worker, clock: Clock, rounds: int = 40) -> None:
    """Run the worker, moving the clock past each backoff and open circuit, until nothing is due."""
    for _ in range(rounds):
        while await worker.run_once():
            pass
        clock.advance(POLICY.max_delay_seconds)


async def test_notes_queued_during_a_consent_source_outage_are_retried_then_delivered(
    db: AsyncEngine, clock: Clock, delivery: DeliveryEngine
) -> None:
    hub = Hub(db, clock, delivery)
    ids = await hub.queue_notes(per_patient=3)
    links_down(hub.links)
    worker = Worker(delivery)
    assert await worker.run_once() == len(PATIENTS)  # the first note of each patient
    items = await hub.items(ids)
    tried = [i for i in items if i.attempts == 1]
    assert len(tried) == len(PATIENTS)
    for item in tried:
        assert item.status is Status.PENDING, item.last_error
        assert item.last_error is not None
        assert item.last_error["error"] == "ConsentUnavailable"
        assert item.last_error["retryable"] is True
        assert task_resource(item)["businessStatus"]["text"] == "retry-scheduled"
    assert not any(i.status in (Status.FAILED, Status.DEAD) for i in items)
    assert hub.sent() == 0

    hub.links.fail_with = None  # the source is back
    await run_until_idle(worker, clock)
    items = await hub.items(ids)
    assert [i.status for i in items] == [Status.COMPLETED] * len(ids)
    assert hub.sent() == len(ids)


async def test_an_outage_longer_than_the_policy_allows_ends_as_a_dead_letter(
    db: AsyncEngine, clock: Clock, delivery: DeliveryEngine
) -> None:
    hub = Hub(db, clock, delivery)
    [first, *_] = await hub.queue_notes(per_patient=1)
    links_down(hub.links)
    await run_until_idle(Worker(delivery), clock)
    [item] = await hub.items([first])
    assert item.status is Status.DEAD
    assert item.attempts == POLICY.max_attempts
    assert item.last_error is not None
    assert item.last_error["error"] == "ConsentUnavailable"


async def test_a_consent_refusal_at_delivery_ends_the_note_as_refused_without_retry(
    db: AsyncEngine, clock: Clock, delivery: DeliveryEngine
) -> None:
    hub = Hub(db, clock, delivery)
    [first, *_] = await hub.queue_notes(per_patient=1)
    ended = (PATIENTS[0].ssin, SARAH.nihii)  # the therapeutic link with the first patient ended
    hub.links.links = [x for x in hub.links.links if (x.patient_ssin, x.hcparty_nihii) != ended]
    worker = Worker(delivery)
    await worker.run_once()
    [item] = await hub.items([first])
    assert item.status is Status.FAILED
    assert item.attempts == 1
    assert item.last_error is not None
    assert item.last_error["error"] == "ConsentDenied"
    assert item.last_error["retryable"] is False
    assert task_resource(item)["businessStatus"]["text"] == "rejected"
    await run_until_idle(worker, clock, rounds=3)
    [again] = await hub.items([first])
    assert again.attempts == 1
    assert hub.sent() == len(PATIENTS) - 1


async def test_an_outage_does_not_hide_a_refusal_from_a_source_that_answered(
    db: AsyncEngine, clock: Clock, delivery: DeliveryEngine
) -> None:
    hub = Hub(db, clock, delivery)
    [first, *_] = await hub.queue_notes(per_patient=1)
    async with db.begin() as conn:  # the patient withdrew the consultation consent
        for stored in await ConsentStore().search(conn, PATIENTS[0].ssin):
            await ConsentStore().set_status(conn, stored.consent.consent_id, "inactive", clock.now)
    links_down(hub.links)
    await Worker(delivery).run_once()
    [item] = await hub.items([first])
    assert item.status is Status.FAILED
    assert item.last_error is not None
    assert item.last_error["error"] == "ConsentDenied"
