"""Writing and reading the audit trail (FHIR R4 AuditEvent bodies in a SHA-256 hash chain).

:meth:`AuditLog.record` takes the caller's connection so that the record commits or rolls back
with the business change it describes. Writers serialise on the single ``audit_chain`` row: the
first statement is an ``UPDATE ... RETURNING`` on it, which takes the row lock on PostgreSQL and
the write lock on SQLite before the previous head is read, so two processes never chain onto
the same head. Record the audit event last in a transaction, to hold that lock briefly.

Within one process, :meth:`AuditLog.append` (and :meth:`AuditLog.appending` for a transaction that
ends with an audit record) queue writers on an ``asyncio.Lock`` before they open their transaction:
on SQLite, concurrent writers otherwise wait in SQLite's busy handler (sleep and retry, unfair: a
15 s tail under 50 concurrent reads) and hold pooled connections while they wait; on PostgreSQL
they would queue on the chain row lock instead. Across processes, the row lock (PostgreSQL) or the
database write lock (SQLite) still serialises the chain; the in-process lock only makes the queue
fair and short.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ehealth_hub.audit.chain import canonical, link_hash
from ehealth_hub.audit.events import AuditRecord, to_fhir
from ehealth_hub.errors import StorageError
from ehealth_hub.store.errors import storage_errors
from ehealth_hub.store.tables import audit_chain, audit_events

INDEX_FIELDS = ("patient_ssin", "actor_nihii", "client_id", "action", "outcome", "decision_id")
"""Columns copied from the hashed body so that they can be searched; verify compares them."""


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The newest link of the chain: its sequence number and hash."""

    seq: int
    hash: str


def body_of(record: AuditRecord) -> dict[str, Any]:
    """The hashed body: the FHIR AuditEvent plus the searchable index it must agree with."""
    index: dict[str, Any] = {name: getattr(record, name) for name in INDEX_FIELDS}
    index["recorded"] = as_utc(record.recorded).isoformat()
    return {"event": to_fhir(record), "index": index}


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes: the hub writes only UTC, so naive means UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class AuditLog:
    """The hub's audit trail; stateless apart from the database it writes through and the
    in-process queue of writers (share one instance per process: the container's)."""

    def __init__(self) -> None:
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    def _writers(self) -> asyncio.Lock:
        """The lock of the running event loop (an asyncio.Lock belongs to one loop)."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    @asynccontextmanager
    async def appending(self, engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
        """A transaction on ``engine`` entered after this process's earlier audit writers have
        committed; end it with :meth:`record`. Commits on success, rolls back on error."""
        async with self._writers():
            with storage_errors("audit.append"):  # the commit too
                async with engine.begin() as conn:
                    yield conn

    async def append(self, engine: AsyncEngine, record: AuditRecord) -> ChainHead:
        """Append ``record`` in its own transaction, queued behind this process's writers."""
        async with self.appending(engine) as conn:
            return await self.record(conn, record)

    async def record(self, conn: AsyncConnection, record: AuditRecord) -> ChainHead:
        """Append ``record`` to the chain inside the caller's transaction; return the new head."""
        body = canonical(body_of(record))
        with storage_errors("audit.record"):
            locked = await conn.execute(
                update(audit_chain)
                .where(audit_chain.c.id == 1)
                .values(seq=audit_chain.c.seq + 1)
                .returning(audit_chain.c.seq, audit_chain.c.head_hash)
            )
            head = locked.one_or_none()
            if head is None:
                raise StorageError(
                    "the audit chain is not initialised; run `ehealth-hub db upgrade`",
                    system="database",
                    operation="audit.record",
                )
            seq, prev_hash = int(head[0]), str(head[1])
            digest = link_hash(prev_hash, body)
            await conn.execute(
                insert(audit_events).values(**self._row(record, seq, body, prev_hash, digest))
            )
            await conn.execute(
                update(audit_chain).where(audit_chain.c.id == 1).values(head_hash=digest)
            )
        return ChainHead(seq, digest)

    @staticmethod
    def _row(
        record: AuditRecord, seq: int, body: str, prev_hash: str, digest: str
    ) -> dict[str, Any]:
        return {
            "seq": seq,
            "id": record.id,
            "recorded": as_utc(record.recorded),
            **{name: getattr(record, name) for name in INDEX_FIELDS},
            "body": body,
            "prev_hash": prev_hash,
            "hash": digest,
        }

    async def search(
        self, conn: AsyncConnection, *, patient_ssin: str, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The patient's AuditEvents (FHIR JSON), newest first."""
        with storage_errors("audit.search"):
            rows = await conn.execute(
                select(audit_events.c.body)
                .where(audit_events.c.patient_ssin == patient_ssin)
                .order_by(audit_events.c.seq.desc())
                .limit(limit)
            )
            bodies = [str(row[0]) for row in rows]
        return [json.loads(body)["event"] for body in bodies]

    async def head(self, conn: AsyncConnection) -> ChainHead:
        """The committed head of the chain as the database states it."""
        with storage_errors("audit.head"):
            row = (await conn.execute(select(audit_chain.c.seq, audit_chain.c.head_hash))).one()
        return ChainHead(int(row[0]), str(row[1]))

    async def count(self, conn: AsyncConnection) -> int:
        """Number of records in the trail."""
        with storage_errors("audit.count"):
            return int(
                (await conn.execute(select(func.count()).select_from(audit_events))).scalar_one()
            )
