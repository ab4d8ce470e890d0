"""The outbox lifecycle queries: claim under a lease, record outcomes, renew and reap leases, get.

Per-key order without scanning blocked rows: an item enqueued behind an unfinished item of its
ordering key is stored ``waiting``; only ``pending`` items are ever claimed. When a batch's outcomes
are recorded, the first waiting item of each finished key is promoted to ``pending`` in the same
transaction (:func:`promote`); a periodic sweep repairs the one race (an item enqueued while its
predecessor's outcome was being committed). Claiming is then ONE cheap statement per batch::

    WITH candidates AS MATERIALIZED (
        SELECT seq FROM outbox
        WHERE status = 'pending' AND next_attempt_at <= :now AND destination IN (:open)
        ORDER BY status, seq LIMIT :batch
        FOR UPDATE SKIP LOCKED)                        -- PostgreSQL; SQLite has one writer
    UPDATE outbox SET status = 'in-progress', lease_owner = :me, lease_expires_at = :now + lease,
                      attempts = attempts + 1, version = version + 1
    WHERE seq = ANY(ARRAY(SELECT seq FROM candidates)) RETURNING *

so competing workers never wait for each other. Outcomes of a batch are written in one
transaction (executemany), each fenced by ``lease_owner`` and ``attempts``: a worker whose lease
was taken over cannot overwrite the new owner's outcome. Expired leases (a crashed or stalled
worker) are put back to ``pending`` by :func:`reap_expired`; a worker keeps the lease of the items
it is delivering by renewing it (:func:`renew`, fenced the same way), so a slow downstream does not
make a live worker look crashed.

Replaying finished items is :mod:`.requeue`; searching and queue statistics are :mod:`.queries`.

The one place SQLAlchemy errors of the delivery layer become :class:`StorageError`: :func:`guard`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import orjson
from sqlalchemy import Select, bindparam, exists, func, select, tuple_, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from ehealth_hub.core.errors import StorageError
from ehealth_hub.delivery.outbox import OutboxItem, Status
from ehealth_hub.store.tables import outbox

TERMINAL: Final = (Status.COMPLETED, Status.FAILED, Status.DEAD)


@asynccontextmanager
async def guard(operation: str, *, system: str = "delivery") -> AsyncIterator[None]:
    """Translate SQLAlchemy errors raised inside into StorageError (retryable)."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise StorageError(
            f"{system} {operation} failed: {type(exc).__name__}",
            system=system,
            operation=operation,
        ) from exc


async def claim(
    conn: AsyncConnection,
    *,
    owner: str,
    destinations: Sequence[str],
    now: datetime,
    lease: timedelta,
    limit: int,
) -> list[OutboxItem]:
    """Take up to ``limit`` due items of ``destinations`` for ``owner`` until ``now + lease``."""
    if not destinations or limit <= 0:
        return []
    candidates = (
        select(outbox.c.seq)
        .where(
            outbox.c.status == Status.PENDING.value,
            outbox.c.next_attempt_at <= now,
            outbox.c.destination.in_(list(destinations)),
        )
        .order_by(outbox.c.status, outbox.c.seq)
        .limit(limit)
        .with_for_update(skip_locked=True, of=outbox)
        .cte("candidates")
        .prefix_with("MATERIALIZED")
    )
    stmt = (
        update(outbox)
        .where(_seq_in(conn, select(candidates.c.seq)))
        .values(
            status=Status.IN_PROGRESS.value,
            lease_owner=owner,
            lease_expires_at=now + lease,
            attempts=outbox.c.attempts + 1,
            version=outbox.c.version + 1,
            updated_at=now,
        )
        .returning(*outbox.c)
    )
    rows = (await conn.execute(stmt)).mappings().all()
    return sorted((OutboxItem.from_row(r) for r in rows), key=lambda i: i.seq)


def _seq_in(conn: AsyncConnection, chosen: Select[tuple[int]]) -> ColumnElement[bool]:
    # PostgreSQL: = ANY(ARRAY(...)) keeps the update on the primary key whatever the table size
    # (IN (...) may be planned as a hash join over the whole table, history included).
    if conn.dialect.name == "postgresql":
        return outbox.c.seq == func.any(func.array(chosen.scalar_subquery()))
    return outbox.c.seq.in_(chosen)


async def promote(
    conn: AsyncConnection, *, now: datetime, keys: Sequence[str] | None = None
) -> int:
    """Make the first waiting item of each key pending once nothing of its key is unfinished.

    Called with the keys of a recorded batch (the usual path), and without keys by the periodic
    sweep, which also repairs the one race of the fast path: an item enqueued (as waiting) while
    its predecessor's outcome was being recorded in a concurrent transaction.
    """
    ahead = outbox.alias("ahead")
    busy = exists().where(
        ahead.c.ordering_key == outbox.c.ordering_key,
        ahead.c.status.in_([Status.PENDING.value, Status.IN_PROGRESS.value]),
    )
    heads = (
        select(func.min(outbox.c.seq))
        .where(outbox.c.status == Status.WAITING.value, ~busy)
        .group_by(outbox.c.ordering_key)
    )
    if keys is not None:
        if not keys:
            return 0
        heads = heads.where(outbox.c.ordering_key.in_(sorted(set(keys))))
    stmt = (
        update(outbox)
        .where(_seq_in(conn, heads), outbox.c.status == Status.WAITING.value)
        .values(
            status=Status.PENDING.value,
            next_attempt_at=now,
            version=outbox.c.version + 1,
            updated_at=now,
        )
    )
    return int((await conn.execute(stmt)).rowcount or 0)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one claimed item; written by :func:`record`."""

    item: OutboxItem
    status: Status
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    next_attempt_at: datetime | None = None


def _json(value: dict[str, Any] | None) -> str | None:
    return orjson.dumps(value).decode() if value is not None else None


async def record(
    conn: AsyncConnection, outcomes: Sequence[Outcome], *, owner: str, now: datetime
) -> None:
    """Write the outcomes of a batch (one executemany), fenced by owner and attempt."""
    params = [
        {
            "b_seq": o.item.seq,
            "b_attempts": o.item.attempts,
            "b_status": o.status.value,
            "b_result": _json(o.result),
            "b_error": _json(o.error),
            "b_next": o.next_attempt_at or o.item.next_attempt_at,
        }
        for o in outcomes
    ]
    if not params:
        return
    stmt = (
        update(outbox)
        .where(
            outbox.c.seq == bindparam("b_seq"),
            outbox.c.lease_owner == owner,
            outbox.c.attempts == bindparam("b_attempts"),
            outbox.c.status == Status.IN_PROGRESS.value,
        )
        .values(
            status=bindparam("b_status"),
            result=bindparam("b_result"),
            last_error=bindparam("b_error"),
            next_attempt_at=bindparam("b_next"),
            lease_owner=None,
            lease_expires_at=None,
            version=outbox.c.version + 1,
            updated_at=now,
        )
    )
    await conn.execute(stmt, params)
    finished = [o.item.ordering_key for o in outcomes if o.status in TERMINAL]
    await promote(conn, now=now, keys=finished)


async def renew(
    conn: AsyncConnection,
    items: Sequence[OutboxItem],
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
) -> set[int]:
    """Extend the lease of ``items`` still held by ``owner`` at their attempt; their seqs.

    An item missing from the answer was taken over (its lease expired and it was reaped): the
    caller must not count on recording its outcome (:func:`record` is fenced the same way).
    """
    if not items:
        return set()
    stmt = (
        update(outbox)
        .where(
            tuple_(outbox.c.seq, outbox.c.attempts).in_([(i.seq, i.attempts) for i in items]),
            outbox.c.lease_owner == owner,
            outbox.c.status == Status.IN_PROGRESS.value,
        )
        .values(lease_expires_at=now + lease)
        .returning(outbox.c.seq)
    )
    return set((await conn.execute(stmt)).scalars())


async def reap_expired(conn: AsyncConnection, *, now: datetime) -> int:
    """Put items whose lease expired (crashed or stalled worker) back in the queue."""
    stmt = (
        update(outbox)
        .where(outbox.c.status == Status.IN_PROGRESS.value, outbox.c.lease_expires_at < now)
        .values(
            status=Status.PENDING.value,
            lease_owner=None,
            lease_expires_at=None,
            next_attempt_at=now,
            version=outbox.c.version + 1,
            updated_at=now,
        )
    )
    result = await conn.execute(stmt)
    return int(result.rowcount or 0)


async def get(conn: AsyncConnection, item_id: str) -> OutboxItem | None:
    """One item by id."""
    row = (await conn.execute(select(outbox).where(outbox.c.id == item_id))).mappings().first()
    return OutboxItem.from_row(row) if row else None
