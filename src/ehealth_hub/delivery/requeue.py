"""Replay: re-queue dead or failed outbox items (same message id) for delivery again.

Replay re-queues a finished item at the TAIL of its ordering key (:func:`replay`): it gets a fresh
``seq`` and starts ``waiting`` when later items of its key are unfinished, so the receiver still
sees each key's deliveries one at a time, in the order they were (re-)queued.
The lease and per-key ordering rules this relies on are described in :mod:`.store`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from ehealth_hub.delivery.outbox import UNFINISHED, Status
from ehealth_hub.store.tables import outbox


@dataclass(frozen=True, slots=True)
class ReplayFilter:
    """Which finished items to deliver again (ids, or destination/status/since)."""

    ids: tuple[str, ...] = ()
    destination: str | None = None
    statuses: tuple[Status, ...] = (Status.DEAD,)
    since: datetime | None = None

    def where(self) -> Any:
        """The SQL condition (only failed and dead items are ever replayed)."""
        replayable = [s.value for s in self.statuses if s in (Status.DEAD, Status.FAILED)]
        conds: list[ColumnElement[bool]] = [outbox.c.status.in_(replayable)]
        if self.ids:
            conds.append(outbox.c.id.in_(self.ids))
        if self.destination:
            conds.append(outbox.c.destination == self.destination)
        if self.since:
            conds.append(outbox.c.updated_at >= self.since)
        return and_(*conds)


async def replay(
    conn: AsyncConnection, selection: ReplayFilter, *, now: datetime, dry_run: bool = False
) -> list[str]:
    """Re-queue the selected dead or failed items (same message id); returns their ids.

    Each goes to the tail of its ordering key (oldest first when several of a key are replayed):
    a fresh ``seq``, ``waiting`` while an item of its key is unfinished, else ``pending``.
    """
    rows = (
        await conn.execute(
            select(outbox.c.seq, outbox.c.id, outbox.c.ordering_key)
            .where(selection.where())
            .order_by(outbox.c.seq)
        )
    ).all()
    if not dry_run:
        for seq, _id, key in rows:
            await _requeue(conn, seq, key, selection, now)
    return [item_id for _seq, item_id, _key in rows]


async def _requeue(
    conn: AsyncConnection, seq: int, key: str, selection: ReplayFilter, now: datetime
) -> None:
    busy = await conn.scalar(
        select(outbox.c.seq)
        .where(outbox.c.ordering_key == key, outbox.c.status.in_(UNFINISHED))
        .limit(1)
    )
    status = Status.WAITING if busy is not None else Status.PENDING
    await conn.execute(
        update(outbox)
        .where(outbox.c.seq == seq, selection.where())
        .values(
            seq=_next_seq(conn),
            status=status.value,
            attempts=0,
            next_attempt_at=now,
            queued_at=now,
            version=outbox.c.version + 1,
            updated_at=now,
        )
    )


def _next_seq(conn: AsyncConnection) -> Any:
    """A seq after every existing one: the table's sequence, or SQLite's max(rowid) + 1 rule."""
    if conn.dialect.name == "postgresql":
        return func.nextval(func.pg_get_serial_sequence(outbox.name, outbox.c.seq.name))
    return select(func.max(outbox.c.seq) + 1).scalar_subquery()
