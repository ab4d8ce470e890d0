"""Retention: purge finished deliveries and expired Idempotency-Keys, in small batches.

What goes, and when (``delivery.retention``, :class:`~ehealth_hub.settings.RetentionSettings`):

* ``completed`` outbox items ``completed_seconds`` after their last change, ``failed`` ones after
  ``failed_seconds``, ``dead`` letters after ``dead_seconds``. The FHIR Task of a delivery IS its
  outbox row (:mod:`.task`), so ``GET /fhir/Task/{id}`` answers 404 from then on;
* ``idempotency_keys`` rows once ``expires_at`` passed (``delivery.idempotency_ttl_seconds``).

``waiting``, ``pending`` and ``in-progress`` items are never purged, whatever their age.
AuditEvents are NOT purged, here or anywhere: they are the legal record of who sent what to whom,
hash-chained by :mod:`ehealth_hub.audit`, and outlive the operational copy kept in the outbox.

Every batch is one short transaction deleting at most ``batch_size`` rows, chosen through the
``(status, updated_at)`` / ``expires_at`` indexes in a MATERIALIZED CTE (run once: a plain
``IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)`` may be re-run by PostgreSQL's planner and
delete more than ``n``). PostgreSQL chooses them with ``FOR UPDATE SKIP LOCKED``, so a purge
never waits for (nor blocks) a replay or another worker's purge, and several workers may purge
at once. Workers run one pass every ``interval_seconds`` (at most ``max_batches`` per table; a
pass that stops at that bound is followed by the next one after a second, so a backlog drains
without long transactions); ``ehealth-hub outbox purge`` runs until nothing is left.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ehealth_hub.delivery.outbox import Status
from ehealth_hub.delivery.store import guard
from ehealth_hub.settings import RetentionSettings
from ehealth_hub.store.tables import idempotency_keys as keys
from ehealth_hub.store.tables import outbox

_Batch = Callable[[AsyncConnection], Awaitable[tuple[int, bool]]]
"""Deletes one batch on the connection: (rows deleted, whether the batch was full)."""


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """Rows purged (or, in a dry run, purgeable) per outbox status, and expired keys."""

    outbox: dict[str, int] = field(default_factory=dict)
    idempotency_keys: int = 0
    dry_run: bool = False
    more: bool = False
    """The pass stopped at ``max_batches`` with rows left (the worker comes back sooner)."""

    @property
    def total(self) -> int:
        """Every row counted."""
        return sum(self.outbox.values()) + self.idempotency_keys


def cutoffs(retention: RetentionSettings, now: datetime) -> dict[Status, datetime]:
    """Items of each finished status last changed before this instant are purged."""
    kept = {
        Status.COMPLETED: retention.completed_seconds,
        Status.FAILED: retention.failed_seconds,
        Status.DEAD: retention.dead_seconds,
    }
    return {status: now - timedelta(seconds=seconds) for status, seconds in kept.items()}


async def purge(
    engine: AsyncEngine,
    retention: RetentionSettings,
    *,
    now: datetime,
    dry_run: bool = False,
    max_batches: int | None = None,
) -> PurgeReport:
    """One purge pass (``max_batches`` per table; None = until nothing is left)."""
    if dry_run:
        return await _count(engine, retention, now)
    counts: dict[str, int] = {}
    more = False
    for status, cutoff in cutoffs(retention, now).items():
        batch = partial(_outbox_batch, status=status, cutoff=cutoff, retention=retention)
        counts[status.value], left = await _batches(engine, max_batches, batch)
        more = more or left
    expired, left = await _batches(
        engine, max_batches, partial(_keys_batch, now=now, retention=retention)
    )
    return PurgeReport(counts, expired, more=more or left)


async def _batches(engine: AsyncEngine, max_batches: int | None, batch: _Batch) -> tuple[int, bool]:
    """Rows deleted, and whether the bound stopped it with rows left."""
    total = 0
    done = 0
    full = True
    while full and (max_batches is None or done < max_batches):
        async with guard("purge"), engine.begin() as conn:
            deleted, full = await batch(conn)
        total += deleted
        done += 1
    return total, full


async def _outbox_batch(
    conn: AsyncConnection, *, status: Status, cutoff: datetime, retention: RetentionSettings
) -> tuple[int, bool]:
    expired = (outbox.c.status == status.value, outbox.c.updated_at < cutoff)
    chosen = (
        select(outbox.c.seq)
        .where(*expired)
        .order_by(outbox.c.updated_at)
        .limit(retention.batch_size)
        .with_for_update(skip_locked=True)
        .cte("chosen")
        .prefix_with("MATERIALIZED")  # run once: a re-run subquery would skip to other rows
    )
    stmt = delete(outbox).where(outbox.c.seq.in_(select(chosen.c.seq)), *expired)
    # RETURNING counts: Python 3.11's sqlite3 reports rowcount -1 for a statement opening WITH.
    deleted = len((await conn.execute(stmt.returning(outbox.c.seq))).all())
    return deleted, deleted >= retention.batch_size


async def _keys_batch(
    conn: AsyncConnection, *, now: datetime, retention: RetentionSettings
) -> tuple[int, bool]:
    chosen = (
        select(keys.c.scope, keys.c.key)
        .where(keys.c.expires_at < now)
        .limit(retention.batch_size)
        .with_for_update(skip_locked=True)
        .cte("chosen")
        .prefix_with("MATERIALIZED")
    )
    stmt = delete(keys).where(
        tuple_(keys.c.scope, keys.c.key).in_(select(chosen.c.scope, chosen.c.key)),
        keys.c.expires_at < now,
    )
    deleted = len((await conn.execute(stmt.returning(keys.c.key))).all())
    return deleted, deleted >= retention.batch_size


async def _count(engine: AsyncEngine, retention: RetentionSettings, now: datetime) -> PurgeReport:
    counts: dict[str, int] = {}
    async with guard("purge"), engine.connect() as conn:
        for status, cutoff in cutoffs(retention, now).items():
            counts[status.value] = int(
                await conn.scalar(
                    select(func.count())
                    .select_from(outbox)
                    .where(outbox.c.status == status.value, outbox.c.updated_at < cutoff)
                )
                or 0
            )
        expired = await conn.scalar(
            select(func.count()).select_from(keys).where(keys.c.expires_at < now)
        )
    return PurgeReport(counts, int(expired or 0), dry_run=True)
