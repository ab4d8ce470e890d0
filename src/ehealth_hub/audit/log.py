"""Writing and reading the audit trail (FHIR R4 AuditEvent bodies in a SHA-256 hash chain).

Each record also carries its MAC under the hub's audit key (:func:`.chain.record_mac`), bound to
the database's identity (``audit_chain.database_id``): an AuditLog built without ``mac_key``
writes records that ``ehealth-hub audit verify`` reports as unkeyed, so the hub's one AuditLog
(the container's) is built with the key (:meth:`.heads.HeadSigner.mac_key`).

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

Group commit: :meth:`AuditLog.append` calls that arrive while a batch is being written wait
together and are then written as one transaction (one chain-row lock, one multi-row insert, one
commit), each caller still getting its own head only once its record is committed. Under 50
concurrent reads this turns 50 transactions into a handful. A batch that fails is written again
one record per transaction, so that only the record at fault fails (e.g. a duplicate id).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ehealth_hub.audit.chain import canonical, link_hash, record_mac
from ehealth_hub.audit.events import AuditRecord, to_fhir
from ehealth_hub.core.errors import StorageError
from ehealth_hub.store.errors import storage_errors
from ehealth_hub.store.tables import audit_chain, audit_events

INDEX_FIELDS = ("patient_ssin", "actor_nihii", "client_id", "action", "outcome", "decision_id")
"""Columns copied from the hashed body so that they can be searched; verify compares them."""


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The newest link of the chain: its sequence number and hash."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class ChainIdentity:
    """Which database the chain lives in, and from which record on it is keyed."""

    database_id: str
    """Random, drawn once by the migration that introduced the keyed chain."""
    keyed_from: int
    """The first sequence number written with a MAC (earlier ones predate the keyed chain)."""


def body_of(record: AuditRecord) -> dict[str, Any]:
    """The hashed body: the FHIR AuditEvent plus the searchable index it must agree with."""
    index: dict[str, Any] = {name: getattr(record, name) for name in INDEX_FIELDS}
    index["recorded"] = as_utc(record.recorded).isoformat()
    return {"event": to_fhir(record), "index": index}


def _settle(
    done: asyncio.Future[ChainHead],
    *,
    head: ChainHead | None = None,
    error: BaseException | None = None,
) -> None:
    if done.done():
        return
    if error is not None:
        done.set_exception(error)
    elif head is not None:
        done.set_result(head)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes: the hub writes only UTC, so naive means UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


Pending = list[tuple[AuditRecord, "asyncio.Future[ChainHead]"]]


@dataclass
class _Queue:
    """The writers of one event loop (asyncio objects belong to one loop)."""

    loop: asyncio.AbstractEventLoop
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending: dict[AsyncEngine, Pending] = field(default_factory=dict)
    flushers: dict[AsyncEngine, asyncio.Task[None]] = field(default_factory=dict)


class AuditLog:
    """The hub's audit trail; stateless apart from the database it writes through and the
    in-process queue of writers (share one instance per process: the container's)."""

    def __init__(self, *, max_batch: int = 256, mac_key: bytes | None = None) -> None:
        self.max_batch = max_batch
        """Most records one group commit writes."""
        self._mac_key = mac_key
        self._queue: _Queue | None = None

    def _current(self) -> _Queue:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._queue.loop is not loop:
            self._queue = _Queue(loop)
        return self._queue

    def _writers(self) -> asyncio.Lock:
        """The lock of the running event loop."""
        return self._current().lock

    @asynccontextmanager
    async def appending(self, engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
        """A transaction on ``engine`` entered after this process's earlier audit writers have
        committed; end it with :meth:`record`. Commits on success, rolls back on error."""
        async with self._writers():
            with storage_errors("audit.append"):  # the commit too
                async with engine.begin() as conn:
                    yield conn

    async def append(self, engine: AsyncEngine, record: AuditRecord) -> ChainHead:
        """Append ``record``, committed (with the others waiting then: group commit) before
        this returns its head."""
        queue = self._current()
        done: asyncio.Future[ChainHead] = queue.loop.create_future()
        queue.pending.setdefault(engine, []).append((record, done))
        if engine not in queue.flushers:
            queue.flushers[engine] = queue.loop.create_task(self._flush(queue, engine))
        return await asyncio.shield(done)  # a cancelled caller leaves its record to be written

    async def _flush(self, queue: _Queue, engine: AsyncEngine) -> None:
        batch: Pending = []
        try:
            while queue.pending.get(engine):
                waiting = queue.pending[engine]
                batch, queue.pending[engine] = waiting[: self.max_batch], waiting[self.max_batch :]
                await self._write(engine, batch)
                batch = []
        except BaseException:  # cancelled (shutdown): no caller may wait for ever
            stopped = StorageError("the audit writer stopped", operation="audit.append")
            for _, done in [*batch, *queue.pending.pop(engine, [])]:
                _settle(done, error=stopped)
            raise
        finally:
            del queue.flushers[engine]

    async def _write(self, engine: AsyncEngine, batch: Pending) -> None:
        try:
            async with self.appending(engine) as conn:
                heads = await self.record_many(conn, [r for r, _ in batch])
        except Exception as exc:
            if len(batch) > 1:
                for one in batch:  # only the record at fault fails
                    await self._write(engine, [one])
                return
            _settle(batch[0][1], error=exc)
            return
        for (_, done), head in zip(batch, heads, strict=True):
            _settle(done, head=head)

    async def record(self, conn: AsyncConnection, record: AuditRecord) -> ChainHead:
        """Append ``record`` to the chain inside the caller's transaction; return the new head."""
        return (await self.record_many(conn, [record]))[0]

    async def record_many(
        self, conn: AsyncConnection, records: list[AuditRecord]
    ) -> list[ChainHead]:
        """Append ``records`` in order inside the caller's transaction; their heads."""
        bodies = [canonical(body_of(r)) for r in records]
        with storage_errors("audit.record"):
            locked = await conn.execute(
                update(audit_chain)
                .where(audit_chain.c.id == 1)
                .values(seq=audit_chain.c.seq + len(records))
                .returning(audit_chain.c.seq, audit_chain.c.head_hash, audit_chain.c.database_id)
            )
            head = locked.one_or_none()
            if head is None or head[2] is None:
                raise StorageError(
                    "the audit chain is not initialised; run `ehealth-hub db upgrade`",
                    system="database",
                    operation="audit.record",
                )
            seq, digest = int(head[0]) - len(records), str(head[1])
            rows, heads = [], []
            for record, body in zip(records, bodies, strict=True):
                seq, prev_hash = seq + 1, digest
                digest = link_hash(prev_hash, body)
                row = self._row(record, seq, body, prev_hash, digest)
                if self._mac_key is not None:
                    row["mac"] = record_mac(self._mac_key, str(head[2]), seq, digest)
                rows.append(row)
                heads.append(ChainHead(seq, digest))
            await conn.execute(insert(audit_events), rows)
            await conn.execute(
                update(audit_chain).where(audit_chain.c.id == 1).values(head_hash=digest)
            )
        return heads

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
            "mac": None,
        }

    async def head(self, conn: AsyncConnection) -> ChainHead:
        """The committed head of the chain as the database states it."""
        with storage_errors("audit.head"):
            row = (await conn.execute(select(audit_chain.c.seq, audit_chain.c.head_hash))).one()
        return ChainHead(int(row[0]), str(row[1]))

    async def identity(self, conn: AsyncConnection) -> ChainIdentity:
        """The database identity the chain is bound to and where its keyed part starts."""
        with storage_errors("audit.identity"):
            row = (
                await conn.execute(select(audit_chain.c.database_id, audit_chain.c.keyed_from))
            ).one()
        if row[0] is None or row[1] is None:
            raise StorageError(
                "the audit chain has no database identity; run `ehealth-hub db upgrade`",
                system="database",
                operation="audit.identity",
            )
        return ChainIdentity(str(row[0]), int(row[1]))

    async def count(self, conn: AsyncConnection) -> int:
        """Number of records in the trail."""
        with storage_errors("audit.count"):
            return int(
                (await conn.execute(select(func.count()).select_from(audit_events))).scalar_one()
            )
