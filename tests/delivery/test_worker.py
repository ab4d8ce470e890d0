"""The outbox and the worker on both backends, with fake destinations, a hand-moved clock and
a fixed random source: enqueue in the caller's transaction, retries, dead letters, replay."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
from fhir.resources.R4B.task import Task
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.core.errors import BusinessRejection, DownstreamUnavailable
from ehealth_hub.delivery import requeue, store
from ehealth_hub.delivery.engine import DeliveryEngine
from ehealth_hub.delivery.outbox import Status, TaskInfo, enqueue, message_id_for
from ehealth_hub.delivery.requeue import ReplayFilter
from ehealth_hub.delivery.task import task_resource
from ehealth_hub.delivery.worker import Worker
from ehealth_hub.store.tables import outbox
from tests.delivery.conftest import Clock


class Downstream:
    """A fake destination: records calls, fails as scripted (a list of errors, then success)."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, payload: Mapping[str, Any], message_id: str) -> Mapping[str, Any]:
        self.calls.append((message_id, dict(payload)))
        if self.errors:
            raise self.errors.pop(0)
        return {"receipt": f"r-{len(self.calls)}", "messageId": message_id}


async def _item(delivery: DeliveryEngine, item_id: str) -> store.OutboxItem:
    async with delivery.engine.connect() as conn:
        item = await store.get(conn, item_id)
    assert item is not None
    return item


async def _enqueue(
    db: AsyncEngine, clock: Clock, key: str = "patient-1", n: int = 0, destination: str = "gp"
) -> str:
    async with db.begin() as conn:
        item = await enqueue(
            conn,
            kind="note",
            destination=destination,
            ordering_key=key,
            payload={"n": n},
            now=clock(),
            task=TaskInfo(focus=f"DocumentReference/{n}"),
        )
    return item.id


async def test_nothing_is_queued_when_the_callers_transaction_rolls_back(db: AsyncEngine) -> None:
    async with db.connect() as conn:
        async with conn.begin() as tx:
            await enqueue(conn, kind="note", destination="gp", ordering_key="k", payload={})
            await tx.rollback()
        assert (await conn.execute(select(func.count()).select_from(outbox))).scalar_one() == 0


async def test_the_message_id_is_deterministic_and_a_dedup_key_enqueues_once(
    db: AsyncEngine,
) -> None:
    async with db.begin() as conn:
        first = await enqueue(
            conn,
            kind="note",
            destination="gp",
            ordering_key="k",
            payload={"a": 1},
            dedup_key="note-42",
        )
        again = await enqueue(
            conn,
            kind="note",
            destination="gp",
            ordering_key="k",
            payload={"a": 1},
            dedup_key="note-42",
        )
    assert again.id == first.id
    assert first.message_id == message_id_for("gp", "note", "note-42")


async def test_a_delivered_item_completes_with_the_downstream_answer_as_task_output(
    delivery: DeliveryEngine, db: AsyncEngine, clock: Clock
) -> None:
    downstream = Downstream()
    delivery.register("gp", downstream)
    item_id = await _enqueue(db, clock)
    assert await Worker(delivery).run_once() == 1
    item = await _item(delivery, item_id)
    assert item.status is Status.COMPLETED
    assert item.result == {"receipt": "r-1", "messageId": item.message_id}
    assert downstream.calls == [(item.message_id, {"n": 0})]
    task = task_resource(item)
    assert task["status"] == "completed"
    outputs = {o["type"]["text"]: o.get("valueString") for o in task["output"]}
    assert outputs["receipt"] == "r-1"
    Task.model_validate(task)  # a valid FHIR R4 Task
    assert task["focus"] == {"reference": "DocumentReference/0"}


async def test_a_retryable_failure_waits_the_backoff_then_succeeds_with_the_same_message_id(
    delivery: DeliveryEngine, db: AsyncEngine, clock: Clock
) -> None:
    downstream = Downstream(DownstreamUnavailable("down"), DownstreamUnavailable("down"))
    delivery.register("gp", downstream)
    item_id = await _enqueue(db, clock)
    worker = Worker(delivery)
    await worker.run_once()
    item = await _item(delivery, item_id)
    assert item.status is Status.PENDING
    assert item.next_attempt_at == clock() + timedelta(seconds=7.5)  # 10 * (1 - 0.5 * 0.5)
    assert await worker.run_once() == 0, "not due before its backoff"
    clock.advance(7.5)
    await worker.run_once()
    assert (await _item(delivery, item_id)).next_attempt_at == clock() + timedelta(seconds=15)
    clock.advance(15)
    await worker.run_once()
    item = await _item(delivery, item_id)
    assert (item.status, item.attempts) == (Status.COMPLETED, 3)
    assert len({mid for mid, _ in downstream.calls}) == 1


async def test_retries_exhausted_make_a_dead_letter_that_replay_delivers(
    delivery: DeliveryEngine, db: AsyncEngine, clock: Clock
) -> None:
    downstream = Downstream(*[DownstreamUnavailable("down")] * 4)
    delivery.register("gp", downstream)
    item_id = await _enqueue(db, clock)
    worker = Worker(delivery)
    for _ in range(4):
        await worker.run_once()
        clock.advance(100)
    item = await _item(delivery, item_id)
    assert (item.status, item.attempts) == (Status.DEAD, 4)
    assert task_resource(item)["businessStatus"]["text"] == "dead-letter"
    async with db.begin() as conn:
        listed = await requeue.replay(
            conn, ReplayFilter(destination="gp"), now=clock(), dry_run=True
        )
        assert (await store.get(conn, item_id)).status is Status.DEAD  # type: ignore[union-attr]
        assert listed == [item_id]
        await requeue.replay(conn, ReplayFilter(ids=(item_id,)), now=clock())
    await worker.run_once()
    item = await _item(delivery, item_id)
    assert item.status is Status.COMPLETED
    assert {mid for mid, _ in downstream.calls} == {item.message_id}


async def test_a_business_rejection_is_parked_as_failed_with_its_reason_and_not_retried(
    delivery: DeliveryEngine, db: AsyncEngine, clock: Clock
) -> None:
    downstream = Downstream(BusinessRejection("GP unknown", code="E-404"))
    delivery.register("gp", downstream)
    item_id = await _enqueue(db, clock)
    worker = Worker(delivery)
    await worker.run_once()
    clock.advance(86400)
    await worker.run_once()
    item = await _item(delivery, item_id)
    assert item.status is Status.FAILED
    assert item.last_error is not None
    assert (item.last_error["code"], item.last_error["detail"]) == ("E-404", "GP unknown")
    assert len(downstream.calls) == 1
    assert task_resource(item)["statusReason"] == {"text": "GP unknown"}


async def test_an_item_waits_while_an_earlier_item_of_its_key_is_unfinished(
    delivery: DeliveryEngine, db: AsyncEngine, clock: Clock
) -> None:
    downstream = Downstream(DownstreamUnavailable("down"))
    delivery.register("gp", downstream)
    await _enqueue(db, clock, key="p1", n=1)
    await _enqueue(db, clock, key="p1", n=2)
    await _enqueue(db, clock, key="p2", n=3)
    worker = Worker(delivery)
    await worker.run_once()
    assert sorted(p["n"] for _, p in downstream.calls) == [1, 3], "p1's second waits for its first"
    await worker.run_once()
    assert len(downstream.calls) == 2, "n=1 is backing off, n=2 still waits behind it"
    clock.advance(60)
    await worker.run_once()
    await worker.run_once()
    assert [p["n"] for _, p in downstream.calls] == [1, 3, 1, 2]


async def test_an_expired_lease_returns_the_item_and_the_stale_owner_cannot_record(
    delivery: DeliveryEngine, db: AsyncEngine, clock: Clock
) -> None:
    delivery.register("gp", Downstream())
    item_id = await _enqueue(db, clock)
    async with db.begin() as conn:
        [claimed] = await store.claim(
            conn,
            owner="crashed",
            destinations=["gp"],
            now=clock(),
            lease=timedelta(seconds=30),
            limit=10,
        )
    clock.advance(31)
    await Worker(delivery).run_once()
    async with db.begin() as conn:
        await store.record(
            conn,
            [store.Outcome(claimed, Status.FAILED, error={"x": 1})],
            owner="crashed",
            now=clock(),
        )
    item = await _item(delivery, item_id)
    assert (item.status, item.attempts) == (Status.COMPLETED, 2)


async def test_an_open_circuit_holds_items_back_without_spending_their_attempts(
    delivery: DeliveryEngine, db: AsyncEngine, clock: Clock
) -> None:
    downstream = Downstream(*[DownstreamUnavailable("down")] * 5)
    delivery.register("gp", downstream)
    ids = [await _enqueue(db, clock, key=f"p{n}", n=n) for n in range(5)]
    worker = Worker(delivery)
    await worker.run_once()  # 5 failures: the breaker opens at the third (threshold 3)
    assert delivery.breakers["gp"].state == "open"
    clock.advance(20)
    assert await worker.run_once() == 0, "due after their backoff, but the circuit is open"
    clock.advance(10)
    assert await worker.run_once() == 1, "half-open: one trial"
    assert delivery.breakers["gp"].state == "closed"
    assert await worker.run_once() == 4
    items = [await _item(delivery, i) for i in ids]
    assert all(i.status is Status.COMPLETED for i in items)
    assert [i.attempts for i in items] == [2] * 5


async def test_metrics_count_outcomes_and_show_queue_depth_and_oldest_age(
    delivery: DeliveryEngine, db: AsyncEngine, clock: Clock
) -> None:
    delivery.register("gp", Downstream(BusinessRejection("no")))
    await _enqueue(db, clock, key="a")
    await _enqueue(db, clock, key="b")
    await Worker(delivery).run_once()
    await _enqueue(db, clock, key="c")
    clock.advance(42)
    await delivery.refresh_metrics()
    m = delivery.metrics
    assert m.attempts.labels("gp", "delivered")._value.get() == 1
    assert m.attempts.labels("gp", "failed")._value.get() == 1
    assert m.depth.labels("gp", "pending")._value.get() == 1
    assert m.oldest.labels("gp")._value.get() == pytest.approx(42)


@pytest.mark.postgres
async def test_the_claim_skips_rows_other_transactions_hold_locked(
    pg_db: AsyncEngine, clock: Clock
) -> None:
    db = pg_db
    first = await _enqueue(db, clock, key="a")
    await _enqueue(db, clock, key="b")
    async with db.connect() as locker, locker.begin():
        await locker.execute(text("SELECT 1 FROM outbox WHERE id = :id FOR UPDATE"), {"id": first})
        async with db.begin() as conn:
            got = await store.claim(
                conn,
                owner="w",
                destinations=["gp"],
                now=clock(),
                lease=timedelta(seconds=30),
                limit=10,
            )
    assert len(got) == 1
    assert got[0].id != first, "the locked row is skipped, not waited for"


async def test_a_waiting_item_left_without_predecessor_is_promoted_by_the_sweep(
    delivery: DeliveryEngine, db: AsyncEngine, clock: Clock
) -> None:
    downstream = Downstream()
    delivery.register("gp", downstream)
    await _enqueue(db, clock, key="p1", n=1)
    worker = Worker(delivery)
    await worker.run_once()
    second = await _enqueue(db, clock, key="p1", n=2)
    async with db.begin() as conn:  # the race: enqueued as waiting while n=1 was being recorded
        await conn.execute(
            outbox.update().where(outbox.c.id == second).values(status=Status.WAITING.value)
        )
    assert await worker.run_once() == 0, "maintenance not yet due"
    worker._last_reap = 0.0  # the next pass is due (every min(lease / 4, 5 s))
    assert await worker.run_once() == 1
    assert (await _item(delivery, second)).status is Status.COMPLETED
    assert [p["n"] for _, p in downstream.calls] == [1, 2]


async def test_an_item_enqueued_behind_an_unfinished_one_waits_and_follows_it(
    delivery: DeliveryEngine, db: AsyncEngine, clock: Clock
) -> None:
    delivery.register("gp", Downstream())
    first = await _enqueue(db, clock, key="p1", n=1)
    second = await _enqueue(db, clock, key="p1", n=2)
    assert (await _item(delivery, second)).status is Status.WAITING
    assert task_resource(await _item(delivery, second))["businessStatus"]["text"] == "waiting"
    await Worker(delivery).run_once()
    assert (await _item(delivery, first)).status is Status.COMPLETED
    assert (await _item(delivery, second)).status is Status.PENDING
