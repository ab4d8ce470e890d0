"""Circuit breakers shared by every worker process on PostgreSQL (table ``delivery_breakers``).

Each process still counts consecutive failures in its own :class:`.policy.CircuitBreaker`; what is
shared is the verdict: one row per destination whose circuit was opened, with ``open_until``.

* a process whose breaker opens writes ``open_until = now + breaker_reset`` in the transaction
  that records the batch; a process whose trial succeeds writes ``open_until = NULL`` (closed);
* before every claim each process reads the rows (a handful) and adopts them: ``open_until`` in
  the future = open (nothing of that destination is claimed), in the past = half-open, none =
  closed. A destination that fails for one worker is thus held back by all of them;
* half-open, ONE trial goes out across all processes: the trial is taken with a conditional
  ``INSERT ... ON CONFLICT DO UPDATE ... WHERE open_until <= now`` that pushes ``open_until`` one
  reset period on; the others' attempt matches no row and they keep holding back.

On SQLite there is one worker per database and breakers stay in the process.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from ehealth_hub.store.tables import delivery_breakers as table
from ehealth_hub.transport.resilience import CircuitBreaker


async def adopt(conn: AsyncConnection, breakers: Mapping[str, CircuitBreaker]) -> None:
    """Make the local breakers show the shared state."""
    rows = dict((await conn.execute(select(table.c.destination, table.c.open_until))).all())
    for name, breaker in breakers.items():
        until = rows.get(name)
        breaker.adopt(until.timestamp() if until is not None else None)


async def publish(
    conn: AsyncConnection, changes: Mapping[str, datetime | None], *, now: datetime
) -> None:
    """Write the circuits this process opened (``open_until``) or closed (None)."""
    for name, until in changes.items():
        if until is None:
            await conn.execute(
                update(table)
                .where(table.c.destination == name)
                .values(open_until=None, updated_at=now)
            )
            continue
        stmt = insert(table).values(destination=name, open_until=until, updated_at=now)
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[table.c.destination],
                set_={"open_until": until, "updated_at": now},
            )
        )


async def take_trial(
    conn: AsyncConnection, name: str, *, now: datetime, hold_until: datetime
) -> bool:
    """True when this process may send the one trial of a half-open circuit."""
    stmt = insert(table).values(destination=name, open_until=hold_until, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.destination],
        set_={"open_until": hold_until, "updated_at": now},
        where=(table.c.open_until.is_(None)) | (table.c.open_until <= now),
    )
    granted = (await conn.execute(stmt.returning(table.c.destination))).first()
    return granted is not None


async def give_back_trial(conn: AsyncConnection, name: str, *, now: datetime) -> None:
    """The granted trial found nothing to send: half-open again for whoever claims next."""
    await conn.execute(
        update(table).where(table.c.destination == name).values(open_until=now, updated_at=now)
    )
