"""Searching the outbox the way an operator does: by destination, status, patient, date, message id.

Read-only, for the operations console (through ``services.operations``). The patient is found
without storing the SSIN in clear: the ordering key of every delivery the hub makes for a patient
is ``sha256(destination | SSIN)`` (:func:`.outbox.ordering_key_for`), so a patient search is an
indexed ``ordering_key IN (...)`` over the known destinations. Rows are listed newest first with
keyset paging on ``seq`` (``before``), never ``OFFSET``, so a page costs the same at any depth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from ehealth_hub.delivery.outbox import Status, ordering_key_for, utc
from ehealth_hub.store.tables import outbox

LIST_COLUMNS = (
    outbox.c.seq,
    outbox.c.id,
    outbox.c.message_id,
    outbox.c.kind,
    outbox.c.destination,
    outbox.c.status,
    outbox.c.attempts,
    outbox.c.created_at,
    outbox.c.updated_at,
    outbox.c.next_attempt_at,
    outbox.c.focus,
    outbox.c.task,
    outbox.c.last_error,
)


@dataclass(frozen=True, slots=True)
class DeliveryQuery:
    """What to look for; every field optional (None/empty = any)."""

    destination: str | None = None
    statuses: tuple[Status, ...] = ()
    patient_ssin: str | None = None
    since: datetime | None = None
    """Created at or after."""
    until: datetime | None = None
    """Created before."""
    message_id: str | None = None
    """The outbound message id, or the delivery (Task) id."""


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One delivery as listed (no payload, no answer)."""

    seq: int
    id: str
    message_id: str
    kind: str
    destination: str
    status: Status
    attempts: int
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime
    focus: str | None
    patient_ssin: str | None
    error: str | None


async def destinations(conn: AsyncConnection) -> list[str]:
    """Every destination the outbox holds items for."""
    rows = await conn.execute(select(outbox.c.destination).distinct())
    return sorted(str(r[0]) for r in rows)


def _conditions(query: DeliveryQuery, known: Sequence[str]) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if query.destination:
        conds.append(outbox.c.destination == query.destination)
    if query.statuses:
        conds.append(outbox.c.status.in_([s.value for s in query.statuses]))
    if query.patient_ssin:
        targets = [query.destination] if query.destination else list(known)
        keys = [ordering_key_for(d, query.patient_ssin) for d in targets]
        conds.append(outbox.c.ordering_key.in_(keys))
    if query.since:
        conds.append(outbox.c.created_at >= query.since)
    if query.until:
        conds.append(outbox.c.created_at < query.until)
    if query.message_id:
        conds.append((outbox.c.message_id == query.message_id) | (outbox.c.id == query.message_id))
    return conds


async def _where(conn: AsyncConnection, query: DeliveryQuery) -> list[ColumnElement[bool]]:
    known = await destinations(conn) if query.patient_ssin and not query.destination else []
    return _conditions(query, known)


async def find(
    conn: AsyncConnection, query: DeliveryQuery, *, limit: int = 100, before: int | None = None
) -> list[DeliveryRow]:
    """The matching deliveries, newest first; ``before``: only those with a smaller ``seq``."""
    conds = await _where(conn, query)
    if before is not None:
        conds.append(outbox.c.seq < before)
    stmt: Select[Any] = select(*LIST_COLUMNS).order_by(outbox.c.seq.desc()).limit(limit)
    if conds:
        stmt = stmt.where(and_(*conds))
    return [_row(r) for r in (await conn.execute(stmt)).mappings()]


async def count(conn: AsyncConnection, query: DeliveryQuery) -> int:
    """How many deliveries match."""
    conds = await _where(conn, query)
    stmt = select(func.count()).select_from(outbox)
    if conds:
        stmt = stmt.where(and_(*conds))
    return int((await conn.execute(stmt)).scalar_one())


async def status_counts(conn: AsyncConnection) -> dict[str, int]:
    """Deliveries per status, over the whole outbox."""
    rows = await conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))
    return {str(status): int(n) for status, n in rows.all()}


def _row(row: Any) -> DeliveryRow:
    task = orjson.loads(row["task"])
    ident = (task.get("for_") or {}).get("identifier") or {}
    error = orjson.loads(row["last_error"]) if row["last_error"] else None
    return DeliveryRow(
        seq=int(row["seq"]),
        id=row["id"],
        message_id=row["message_id"],
        kind=row["kind"],
        destination=row["destination"],
        status=Status(row["status"]),
        attempts=int(row["attempts"]),
        created_at=utc(row["created_at"]),
        updated_at=utc(row["updated_at"]),
        next_attempt_at=utc(row["next_attempt_at"]),
        focus=row["focus"],
        patient_ssin=str(ident["value"]) if isinstance(ident, dict) and "value" in ident else None,
        error=str(error.get("detail", ""))[:300] if isinstance(error, dict) else None,
    )
