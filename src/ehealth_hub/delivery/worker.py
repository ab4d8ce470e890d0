"""A delivery worker: claim a batch under a lease, deliver it concurrently, record the outcomes.

One batch costs two database round trips whatever its size (one claiming UPDATE, one executemany
of outcomes in one transaction). On PostgreSQL any number of worker processes compete with
``FOR UPDATE SKIP LOCKED``, each running two claiming loops so that one batch is delivered while
the next is claimed; on SQLite a single loop runs (one writer; run one worker per database).
Every ``min(lease / 4, 5 s)`` a loop also returns expired leases to the queue (crashed workers)
and promotes waiting items left without an unfinished predecessor.

While a batch is out, a heartbeat renews its leases every ``lease / 3`` (fenced by owner and
attempt, :func:`.store.renew`) until its outcomes are recorded, so a handler may run for up to
``handler_timeout_seconds`` (MyCareNet answers can take tens of seconds) without another worker
taking its items over and sending them a second time. A worker that cannot renew (database
unreachable, or stalled longer than the lease) loses the items: they are delivered again by
another worker under the same message id, and this worker's late outcome is not recorded.
A separate task purges finished items every ``retention.interval_seconds`` (:mod:`.retention`).
On PostgreSQL each claim first adopts the circuit-breaker verdicts shared by all workers, and a
batch that opened or closed a circuit publishes it with its outcomes (:mod:`.breakers`).
An empty claim sleeps ``poll_interval`` (a claim that finds every key blocked scans the unfinished
rows, so idle loops must not spin); recording a batch wakes the process's loops at once, since it
may have unblocked the next item of each of its keys.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from ehealth_hub.core.errors import DownstreamUnavailable, HubError, StorageError
from ehealth_hub.delivery import breakers, retention, store
from ehealth_hub.delivery.engine import DeliveryEngine, Destination, worker_name
from ehealth_hub.delivery.outbox import OutboxItem, Status
from ehealth_hub.delivery.store import Outcome
from ehealth_hub.transport.resilience import CircuitBreaker

log = structlog.get_logger(__name__)

MAINTENANCE_SECONDS = 5.0
"""Longest interval between two maintenance passes (expired leases, stuck waiting items)."""

PURGE_BACKLOG_PAUSE = 1.0
"""Pause between two bounded purge passes while a retention backlog remains."""


class Worker:
    """Delivers outbox items of the engine's registered destinations until stopped."""

    def __init__(self, engine: DeliveryEngine, *, owner: str | None = None) -> None:
        self.engine = engine
        self.owner = owner or worker_name()
        self.settings = engine.settings
        self.lease = timedelta(seconds=self.settings.lease_seconds)
        self.timeout = self.settings.handler_timeout_seconds
        self.heartbeat_every = self.settings.lease_seconds / 3
        self._semaphore = asyncio.Semaphore(self.settings.concurrency)
        self.shared_breakers = not engine.single_writer
        """PostgreSQL: breaker verdicts are shared with the other workers (:mod:`.breakers`)."""
        self._breaker_changes: dict[str, datetime | None] = {}
        self._last_reap = 0.0

    async def run(self) -> None:
        """Claim and deliver until the engine stops; storage outages are waited out."""
        loops = 1 if self.engine.single_writer else 2
        log.info(
            "worker_started",
            owner=self.owner,
            loops=loops,
            destinations=sorted(self.engine.destinations),
        )
        await asyncio.gather(*(self._loop() for _ in range(loops)), self._purge_loop())
        log.info("worker_stopped", owner=self.owner)

    async def _purge_loop(self) -> None:
        every = self.settings.retention.interval_seconds
        while not self.engine.stopping:
            more = False
            try:
                more = (await self.purge_once()).more
            except StorageError as exc:
                log.warning("outbox_purge_failed", **exc.as_dict())
            await self.engine.sleep(min(every, PURGE_BACKLOG_PAUSE) if more else every)

    async def purge_once(self) -> retention.PurgeReport:
        """One bounded purge pass (``retention.max_batches`` batches per table at most)."""
        policy = self.settings.retention
        report = await retention.purge(
            self.engine.engine, policy, now=self.engine.clock(), max_batches=policy.max_batches
        )
        if report.total:
            log.info("outbox_purged", **report.outbox, idempotency_keys=report.idempotency_keys)
        return report

    async def _loop(self) -> None:
        poll = self.settings.poll_interval_seconds
        while not self.engine.stopping:
            try:
                done = await self.run_once()
            except StorageError as exc:
                log.warning("worker_storage_unavailable", **exc.as_dict())
                done = 0
            if done == 0:
                await self.engine.wait_for_work(poll)

    async def run_once(self) -> int:
        """One round: reap expired leases when due, claim a batch, deliver it, record it."""
        await self._reap_if_due()
        items = await self._claim()
        if not items:
            return 0
        async with self._heartbeat(items):
            outcomes = await asyncio.gather(*(self._deliver(item) for item in items))
            changes, self._breaker_changes = self._breaker_changes, {}
            async with store.guard("record"), self.engine.engine.begin() as conn:
                now = self.engine.clock()
                await store.record(conn, outcomes, owner=self.owner, now=now)
                if self.shared_breakers and changes:
                    await breakers.publish(conn, changes, now=now)
        for outcome in outcomes:
            self.engine.metrics.attempts.labels(outcome.item.destination, _label(outcome)).inc()
        self.engine.wake()  # the successors of this batch's keys are claimable now
        return len(items)

    @asynccontextmanager
    async def _heartbeat(self, items: Sequence[OutboxItem]) -> AsyncIterator[None]:
        """Renew the batch's leases in the background until its outcomes are recorded."""
        beat = asyncio.create_task(self._renew_forever(list(items)), name="delivery-heartbeat")
        try:
            yield
        finally:
            beat.cancel()
            [ended] = await asyncio.gather(beat, return_exceptions=True)
            if isinstance(ended, Exception):  # a bug in the heartbeat: leases may have expired
                log.error("delivery_heartbeat_crashed", error=repr(ended))

    async def _renew_forever(self, items: list[OutboxItem]) -> None:
        while items:
            await asyncio.sleep(self.heartbeat_every)
            try:
                async with store.guard("renew"), self.engine.engine.begin() as conn:
                    held = await store.renew(
                        conn, items, owner=self.owner, now=self.engine.clock(), lease=self.lease
                    )
            except StorageError as exc:
                log.warning("delivery_lease_not_renewed", **exc.as_dict())
                continue
            lost = [i for i in items if i.seq not in held]
            for item in lost:
                log.warning("delivery_lease_lost", item=item.id, destination=item.destination)
            items = [i for i in items if i.seq in held]

    async def _reap_if_due(self) -> None:
        every = min(self.settings.lease_seconds / 4, MAINTENANCE_SECONDS)
        if time.monotonic() - self._last_reap < every:
            return
        self._last_reap = time.monotonic()
        now = self.engine.clock()
        async with store.guard("maintenance"), self.engine.engine.begin() as conn:
            reaped = await store.reap_expired(conn, now=now)
            promoted = await store.promote(conn, now=now)
        if reaped or promoted:
            log.warning("outbox_repaired", expired_leases=reaped, promoted=promoted)

    async def _claim(self) -> list[OutboxItem]:
        now = self.engine.clock()
        items: list[OutboxItem] = []
        async with store.guard("claim"), self.engine.engine.begin() as conn:
            if self.shared_breakers:
                await breakers.adopt(conn, self.engine.breakers)
            open_: list[str] = []
            trials: list[str] = []
            for name, breaker in self.engine.breakers.items():
                allowed = breaker.allows()
                (open_ if allowed < 0 else trials if allowed == 1 else []).append(name)
            items += await self._claim_from(conn, open_, now, self.settings.batch_size)
            for name in trials:
                items += await self._trial(conn, name, now)
        return items

    async def _trial(self, conn: AsyncConnection, name: str, now: datetime) -> list[OutboxItem]:
        """The one item a half-open circuit lets through (one across all workers when shared)."""
        breaker = self.engine.breakers[name]
        if self.shared_breakers:
            hold = now + timedelta(seconds=self.engine.destinations[name].breaker.reset_after)
            if not await breakers.take_trial(conn, name, now=now, hold_until=hold):
                breaker.cancel_trial()  # another worker sends it
                return []
        got = await self._claim_from(conn, [name], now, 1)
        if not got:
            breaker.cancel_trial()
            if self.shared_breakers:
                await breakers.give_back_trial(conn, name, now=now)
        return got

    async def _claim_from(
        self, conn: AsyncConnection, names: list[str], now: datetime, limit: int
    ) -> list[OutboxItem]:
        return await store.claim(
            conn, owner=self.owner, destinations=names, now=now, lease=self.lease, limit=limit
        )

    async def _deliver(self, item: OutboxItem) -> Outcome:
        destination = self.engine.destinations[item.destination]
        started = time.perf_counter()
        async with self._semaphore:
            try:
                async with asyncio.timeout(self.timeout):
                    answer = await destination.handler(item.payload, item.message_id)
            except TimeoutError:
                error: HubError = DownstreamUnavailable(
                    f"no answer within {self.timeout:.0f}s",
                    system=item.destination,
                    operation="deliver",
                    code="timeout",
                )
            except HubError as exc:
                error = exc
            except Exception as exc:  # a handler bug must not kill the worker: retried, then dead
                log.exception(
                    "delivery_handler_crashed", destination=item.destination, item=item.id
                )
                error = HubError(
                    f"handler raised {type(exc).__name__}",
                    system=item.destination,
                    operation="deliver",
                    retryable=True,
                )
            else:
                if destination_breaker(self.engine, item).record_success():
                    self._breaker_changes[item.destination] = None
                self._observe(item, started)
                return Outcome(item, Status.COMPLETED, result=dict(answer))
        self._observe(item, started)
        return self._failure(destination, item, error)

    def _observe(self, item: OutboxItem, started: float) -> None:
        self.engine.metrics.duration.labels(item.destination).observe(time.perf_counter() - started)

    def _failure(self, destination: Destination, item: OutboxItem, error: HubError) -> Outcome:
        breaker = destination_breaker(self.engine, item)
        reason = {**error.as_dict(), "attempt": item.attempts}
        if not error.retryable:
            if breaker.record_success():  # the downstream answered; it refused the request
                self._breaker_changes[item.destination] = None
            log.info(
                "delivery_refused",
                item=item.id,
                destination=item.destination,
                error=type(error).__name__,
                code=error.code,
            )
            return Outcome(item, Status.FAILED, error=reason)
        now = self.engine.clock()
        policy = destination.policy
        if breaker.record_failure():
            reset = destination.breaker.reset_after
            self._breaker_changes[item.destination] = now + timedelta(seconds=reset)
        age = (now - item.queued_at).total_seconds()
        if policy.verdict(item.attempts, age) == "dead":
            log.warning(
                "delivery_dead_letter",
                item=item.id,
                destination=item.destination,
                attempts=item.attempts,
                error=type(error).__name__,
            )
            return Outcome(item, Status.DEAD, error=reason)
        delay = policy.delay(item.attempts, self.engine.random_unit())
        return Outcome(
            item, Status.PENDING, error=reason, next_attempt_at=now + timedelta(seconds=delay)
        )


def destination_breaker(engine: DeliveryEngine, item: OutboxItem) -> CircuitBreaker:
    """The breaker of the item's destination."""
    return engine.breakers[item.destination]


def _label(outcome: Outcome) -> str:
    return {Status.COMPLETED: "delivered", Status.PENDING: "retry"}.get(
        outcome.status, outcome.status.value
    )
