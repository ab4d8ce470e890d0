"""Read-only outbox queries for the Task API, the CLI and ``/metrics``: search and queue stats.

Reading one item by id (:func:`ehealth_hub.delivery.store.get`) stays with the lifecycle queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ehealth_hub.delivery.outbox import UNFINISHED, OutboxItem, Status
from ehealth_hub.store.tables import outbox


async def search(
    conn: AsyncConnection,
    *,
    statuses: Sequence[Status] = (),
    requester: str | None = None,
    focus: str | None = None,
    limit: int = 50,
) -> list[OutboxItem]:
    """Items by status / requester / focus, newest first."""
    stmt = select(outbox).order_by(outbox.c.seq.desc()).limit(limit)
    if statuses:
        stmt = stmt.where(outbox.c.status.in_([s.value for s in statuses]))
    if requester is not None:
        stmt = stmt.where(outbox.c.requester == requester)
    if focus is not None:
        stmt = stmt.where(outbox.c.focus == focus)
    return [OutboxItem.from_row(r) for r in (await conn.execute(stmt)).mappings()]


@dataclass(frozen=True, slots=True)
class QueueStat:
    """Unfinished items of one destination and status, with the oldest creation time."""

    destination: str
    status: str
    count: int
    oldest: datetime | None


async def queue_stats(conn: AsyncConnection) -> list[QueueStat]:
    """Queue depth and oldest item per destination and unfinished status."""
    stmt = (
        select(outbox.c.destination, outbox.c.status, func.count(), func.min(outbox.c.queued_at))
        .where(outbox.c.status.in_([*UNFINISHED, Status.DEAD.value]))
        .group_by(outbox.c.destination, outbox.c.status)
    )
    return [QueueStat(d, s, int(n), o) for d, s, n, o in (await conn.execute(stmt)).all()]
