"""Lease renewal and replay order on both backends: a handler slower than the lease is neither
cut off nor sent twice; a worker that lost its lease can neither renew nor record; a replayed
item goes behind the unfinished later items of its key. On PostgreSQL, circuit breakers are
shared by the workers."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.core.errors import BusinessRejection, DownstreamUnavailable
from ehealth_hub.delivery import requeue, store
from ehealth_hub.delivery.engine import DeliveryEngine
from ehealth_hub.delivery.metrics import DeliveryMetrics
from ehealth_hub.delivery.outbox import Status, enqueue
from ehealth_hub.delivery.requeue import ReplayFilter
from ehealth_hub.delivery.task import task_resource
from ehealth_hub.delivery.worker import Worker
from ehealth_hub.settings import DeliverySettings
from ehealth_hub.store.db import create_engine, upgrade
from tests.delivery.conftest import POLICY, Clock
from tests.delivery.test_worker import Downstream, _enqueue, _item

LEASE = timedelta(seconds=30)


class SlowReceiver:
    """A downstream that takes ``seconds`` to answer and applies each message id once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.requests: list[str] = []
        self.effects: set[str] = set()

    async def __call__(self, payload: Mapping[str, Any], message_id: str) -> Mapping[str, Any]:
        self.requests.append(message_id)
        self.effects.add(message_id)
        await asyncio.sleep(self.seconds)
        return {"receipt": message_id}


def _real_time_engine(db: AsyncEngine, receiver: SlowReceiver) -> DeliveryEngine:
    settings = DeliverySettings(
        lease_seconds=1.5, handler_timeout_seconds=30, poll_interval_seconds=0.05
    )
    engine = DeliveryEngine(settings, db, DeliveryMetrics(CollectorRegistry()))
    engine.register("gp", receiver)
    return engine


async def test_a_handler_slower_than_the_lease_completes_once_with_one_effect(
    db: AsyncEngine,
) -> None:
    receiver = SlowReceiver(seconds=3.0)  # twice the lease
    slow, rival = _real_time_engine(db, receiver), _real_time_engine(db, receiver)
    async with db.begin() as conn:
        item = await enqueue(conn, kind="note", destination="gp", ordering_key="k", payload={})
    delivering = asyncio.create_task(Worker(slow, owner="slow").run_once())
    while not receiver.requests:  # noqa: ASYNC110 - the slow worker has claimed and is sending
        await asyncio.sleep(0.01)
    rival_worker = Worker(rival, owner="rival")  # reaps expired leases every lease / 4
    while not delivering.done():
        assert await rival_worker.run_once() == 0, "the rival took over a live worker's item"
        await asyncio.sleep(0.1)
    assert await delivering == 1
    async with db.connect() as conn:
        stored = await store.get(conn, item.id)
    assert stored is not None
    assert (stored.status, stored.attempts) == (Status.COMPLETED, 1)
    assert receiver.requests == [item.message_id], "sent once"
    assert receiver.effects == {item.message_id}


async def test_a_worker_that_lost_its_lease_can_neither_renew_nor_record(
    delivery: DeliveryEngine, db: AsyncEngine, clock: Clock
) -> None:
    item_id = await _enqueue(db, clock)
    async with db.begin() as conn:
        [stale] = await store.claim(
            conn, owner="stalled", destinations=["gp"], now=clock(), lease=LEASE, limit=1
        )
    clock.advance(31)
    async with db.begin() as conn:
        assert await store.reap_expired(conn, now=clock()) == 1
        [taken] = await store.claim(
            conn, owner="new", destinations=["gp"], now=clock(), lease=LEASE, limit=1
        )
        assert await store.renew(conn, [stale], owner="stalled", now=clock(), lease=LEASE) == set()
        assert await store.renew(conn, [stale], owner="new", now=clock(), lease=LEASE) == set(), (
            "fenced by attempt too"
        )
        assert await store.renew(conn, [taken], owner="new", now=clock(), lease=LEASE) == {
            taken.seq
        }
        await store.record(
            conn,
            [store.Outcome(stale, Status.COMPLETED, result={"late": True})],
            owner="stalled",
            now=clock(),
        )
    item = await _item(delivery, item_id)
    assert (item.status, item.lease_owner, item.result) == (Status.IN_PROGRESS, "new", None)


async def test_a_replayed_item_goes_behind_the_unfinished_later_items_of_its_key(
    delivery: DeliveryEngine, db: AsyncEngine, clock: Clock
) -> None:
    downstream = Downstream(*[DownstreamUnavailable("down")] * 5)
    delivery.register("gp", downstream)
    first = await _enqueue(db, clock, key="p1", n=1)
    await _enqueue(db, clock, key="p1", n=2)
    await _enqueue(db, clock, key="p1", n=3)
    worker = Worker(delivery)
    for _ in range(4):  # n=1 uses its 4 attempts and dies; n=2 is promoted
        await worker.run_once()
        clock.advance(100)
    await worker.run_once()  # n=2 fails once: retry scheduled; n=3 still waits
    assert (await _item(delivery, first)).status is Status.DEAD
    async with db.begin() as conn:
        assert await requeue.replay(conn, ReplayFilter(ids=(first,)), now=clock()) == [first]
    replayed = await _item(delivery, first)
    assert (replayed.status, replayed.attempts) == (Status.WAITING, 0)
    assert task_resource(replayed)["businessStatus"]["text"] == "waiting"
    for _ in range(4):
        clock.advance(100)
        await worker.run_once()
    assert [p["n"] for _, p in downstream.calls] == [1, 1, 1, 1, 2, 2, 3, 1]
    assert (await _item(delivery, first)).status is Status.COMPLETED


async def test_replaying_several_items_of_a_key_keeps_their_order(
    delivery: DeliveryEngine, db: AsyncEngine, clock: Clock
) -> None:
    downstream = Downstream(BusinessRejection("no"), BusinessRejection("no"))
    delivery.register("gp", downstream)
    first = await _enqueue(db, clock, key="p1", n=1)
    second = await _enqueue(db, clock, key="p1", n=2)
    worker = Worker(delivery)
    await worker.run_once()
    await worker.run_once()
    selection = ReplayFilter(destination="gp", statuses=(Status.FAILED,))
    async with db.begin() as conn:
        assert await requeue.replay(conn, selection, now=clock()) == [first, second]
    assert (await _item(delivery, first)).status is Status.PENDING
    assert (await _item(delivery, second)).status is Status.WAITING
    assert await worker.run_once() == 1
    assert await worker.run_once() == 1
    assert [p["n"] for _, p in downstream.calls] == [1, 2, 1, 2]
    assert (await _item(delivery, second)).status is Status.COMPLETED


class Gate:
    """A downstream that answers once the test opens the gate."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.calls: list[str] = []

    async def __call__(self, payload: Mapping[str, Any], message_id: str) -> Mapping[str, Any]:
        self.calls.append(message_id)
        await self.open.wait()
        return {"receipt": message_id}


@pytest.mark.postgres
async def test_on_postgresql_a_circuit_opened_by_one_worker_holds_back_all_with_one_trial(
    postgres_url: str, clock: Clock
) -> None:
    await upgrade(postgres_url)
    db = create_engine(postgres_url)
    settings = DeliverySettings(default_policy=POLICY, lease_seconds=30, batch_size=10)

    def engine(handler: Any) -> DeliveryEngine:
        made = DeliveryEngine(
            settings, db, DeliveryMetrics(CollectorRegistry()), clock=clock, random_unit=lambda: 0.5
        )
        made.register("gp", handler)
        return made

    failing, gate = Downstream(*[DownstreamUnavailable("down")] * 5), Gate()
    a, b = Worker(engine(failing), owner="a"), Worker(engine(gate), owner="b")
    try:
        for n in range(5):
            await _enqueue(db, clock, key=f"p{n}", n=n)
        assert await a.run_once() == 5, "five failures: a's breaker opens (threshold 3)"
        clock.advance(20)  # every item due again, the circuit still open
        held = await asyncio.wait_for(b.run_once(), 10)  # a claim would hang at the gate
        assert held == 0, "b never failed, yet holds back: the circuit is shared"
        assert b.engine.breakers["gp"].state == "open"
        clock.advance(10)  # half-open for both
        trial = asyncio.create_task(b.run_once())
        while not gate.calls:  # noqa: ASYNC110 - b's trial is out
            await asyncio.sleep(0.01)
        assert await asyncio.wait_for(a.run_once(), 10) == 0, "one trial across all workers"
        gate.open.set()
        assert await trial == 1
        assert await a.run_once() == 4, "b's successful trial closed the circuit for a too"
        assert len(failing.calls) == 5 + 4
        assert len(gate.calls) == 1
    finally:
        await db.dispose()
