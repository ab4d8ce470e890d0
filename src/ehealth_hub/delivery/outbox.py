"""Enqueue deliveries in the caller's transaction (transactional outbox, Richardson's pattern).

The business record, its outbox row and its AuditEvent are written on ONE connection inside ONE
transaction; the API answers ``202 Accepted`` with the Task only after that commit, so nothing
accepted is ever lost and nothing is sent for a record that was rolled back.

The outbound message id is deterministic: ``uuid5(MESSAGE_NAMESPACE, destination | kind | key)``
where ``key`` is the caller's ``dedup_key`` (e.g. the note id) or else the item id. It is the same
on every attempt and every replay, so receivers de-duplicate on it (eHealthBox ``messageId``,
MyCareNet ``Request-Id``, the webhook ``Idempotency-Key`` header). Enqueuing twice with the same
``dedup_key`` returns the first item instead of creating a second delivery.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

import orjson
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from ehealth_hub.core.errors import Conflict, InvalidInput, StorageError
from ehealth_hub.store.tables import outbox

MESSAGE_NAMESPACE: Final = uuid.UUID("6f1d2c3e-8a4b-5e6f-9a0b-1c2d3e4f5a6b")
"""Namespace of the hub's outbound message ids (UUID v5, RFC 9562)."""


class Status(StrEnum):
    """Where a delivery stands (rendered as FHIR Task.status by :mod:`.task`)."""

    WAITING = "waiting"
    """Behind an unfinished earlier item of the same ordering key; promoted when it finishes."""
    PENDING = "pending"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    FAILED = "failed"
    """The downstream refused it (business rejection) or it can never succeed; not retried."""
    DEAD = "dead"
    """Retries exhausted (max attempts or max age): a dead letter, replayable."""


UNFINISHED: Final = (Status.WAITING.value, Status.PENDING.value, Status.IN_PROGRESS.value)


@dataclass(frozen=True, slots=True)
class TaskInfo:
    """What the FHIR Task following a delivery says about it (all optional)."""

    focus: str | None = None
    """Reference of the business record, e.g. ``DocumentReference/123`` or ``Claim/456``."""
    focus_identifier: dict[str, Any] | None = None
    """Task.focus.identifier: another name of the record (JSON Identifier), e.g. the app's own
    id of a claim the hub serves under its own."""
    for_: dict[str, Any] | None = None
    """Task.for: a Reference (JSON) to the patient."""
    requester: dict[str, Any] | None = None
    """Task.requester: a Reference (JSON); give ``identifier.value`` = the practitioner's NIHII."""
    owner: dict[str, Any] | None = None
    """Task.owner: a Reference (JSON) to the receiving organisation or GP."""
    description: str | None = None
    """Human-readable summary (no personal data)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else the Task should carry (rendered as Task.input, name -> value)."""

    def patient_token(self) -> str | None:
        """``system|value`` of ``Task.for``'s identifier (searched as ``Task?patient=``)."""
        return identifier_token(self.for_)

    def owner_token(self) -> str | None:
        """``system|value`` of ``Task.owner``'s identifier (``Task?owner=``, compartments)."""
        return identifier_token(self.owner)

    def requester_id(self) -> str | None:
        """The requester's identifier value (used to scope ``user/Task.r`` searches)."""
        ident = (self.requester or {}).get("identifier") or {}
        value = ident.get("value") if isinstance(ident, dict) else None
        return str(value) if value else None


def identifier_token(reference: dict[str, Any] | None) -> str | None:
    """``system|value`` of a Reference's identifier, None without one."""
    ident = (reference or {}).get("identifier") or {}
    if not isinstance(ident, dict) or not ident.get("value"):
        return None
    return f"{ident.get('system') or ''}|{ident['value']}"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One delivery, as stored."""

    seq: int
    id: str
    message_id: str
    kind: str
    destination: str
    ordering_key: str
    status: Status
    attempts: int
    version: int
    created_at: datetime
    queued_at: datetime
    updated_at: datetime
    next_attempt_at: datetime
    payload: dict[str, Any]
    task: TaskInfo
    focus: str | None = None
    result: dict[str, Any] | None = None
    last_error: dict[str, Any] | None = None
    lease_owner: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> OutboxItem:
        """Build from a row of the ``outbox`` table."""
        task = orjson.loads(row["task"])
        return cls(
            seq=int(row["seq"]),
            id=row["id"],
            message_id=row["message_id"],
            kind=row["kind"],
            destination=row["destination"],
            ordering_key=row["ordering_key"],
            status=Status(row["status"]),
            attempts=int(row["attempts"]),
            version=int(row["version"]),
            created_at=utc(row["created_at"]),
            queued_at=utc(row["queued_at"]),
            updated_at=utc(row["updated_at"]),
            next_attempt_at=utc(row["next_attempt_at"]),
            payload=orjson.loads(row["payload"]),
            task=TaskInfo(**task),
            focus=row["focus"],
            result=orjson.loads(row["result"]) if row["result"] else None,
            last_error=orjson.loads(row["last_error"]) if row["last_error"] else None,
            lease_owner=row["lease_owner"],
        )


def utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything the hub stores is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def message_id_for(destination: str, kind: str, key: str) -> str:
    """The deterministic outbound message id of a delivery."""
    return str(uuid.uuid5(MESSAGE_NAMESPACE, f"{destination}\x1f{kind}\x1f{key}"))


def ordering_key_for(destination: str, key: str) -> str:
    """The stored ordering key: a digest, so patient identifiers are not spelled in the queue."""
    return hashlib.sha256(f"{destination}\x1f{key}".encode()).hexdigest()[:64]


async def enqueue(
    conn: AsyncConnection,
    *,
    kind: str,
    destination: str,
    ordering_key: str,
    payload: Mapping[str, Any],
    task: TaskInfo | None = None,
    dedup_key: str | None = None,
    item_id: str | None = None,
    now: datetime | None = None,
) -> OutboxItem:
    """Add a delivery to the outbox on the caller's connection (commit is the caller's).

    ``ordering_key`` groups items that must arrive in order (e.g. the patient's SSIN: notes for one
    patient reach one GP in the order they were accepted); items with different keys go in
    parallel. An item enqueued behind an unfinished one of its key starts ``waiting`` and is
    promoted to ``pending`` when its predecessor finishes (see :mod:`.store`). Returns the stored
    item (the existing one when ``dedup_key`` was enqueued before).
    """
    for name, value in (("kind", kind), ("destination", destination)):
        if not value or len(value) > 64:
            raise InvalidInput(f"{name} must be 1..64 characters", field=name, rule="length")
    item_id = item_id or uuid.uuid4().hex
    message_id = message_id_for(destination, kind, dedup_key or item_id)
    if dedup_key is not None:
        existing = await _by_message_id(conn, message_id)
        if existing is not None:
            return existing
    now = now or datetime.now(UTC)
    info = task or TaskInfo()
    key = ordering_key_for(destination, ordering_key)
    behind = await conn.scalar(
        select(outbox.c.seq)
        .where(outbox.c.ordering_key == key, outbox.c.status.in_(UNFINISHED))
        .limit(1)
    )
    row = {
        "id": item_id,
        "message_id": message_id,
        "kind": kind,
        "destination": destination,
        "ordering_key": key,
        "status": (Status.WAITING if behind is not None else Status.PENDING).value,
        "attempts": 0,
        "version": 1,
        "next_attempt_at": now,
        "created_at": now,
        "queued_at": now,
        "updated_at": now,
        "focus": info.focus,
        "requester": info.requester_id(),
        "patient": info.patient_token(),
        "owner": info.owner_token(),
        "task": orjson.dumps(asdict(info)).decode(),
        "payload": orjson.dumps(payload).decode(),
    }
    try:
        result = await conn.execute(insert(outbox).values(**row).returning(outbox.c.seq))
    except IntegrityError as exc:
        raise Conflict(
            f"an outbox item with id {item_id} or the same message id exists",
            system="delivery",
            operation="enqueue",
        ) from exc
    except SQLAlchemyError as exc:
        raise StorageError(
            f"outbox insert failed: {type(exc).__name__}", system="delivery", operation="enqueue"
        ) from exc
    return OutboxItem.from_row(
        {**row, "seq": result.scalar_one(), "result": None, "last_error": None, "lease_owner": None}
    )


async def _by_message_id(conn: AsyncConnection, message_id: str) -> OutboxItem | None:
    row = (
        (await conn.execute(select(outbox).where(outbox.c.message_id == message_id)))
        .mappings()
        .first()
    )
    return OutboxItem.from_row(row) if row else None
