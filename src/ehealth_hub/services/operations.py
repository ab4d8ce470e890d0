"""What the operations console does with deliveries: search, timeline, bodies, replay, export.

The console (``ehealth_hub.console``) reaches the outbox and the audit trail only through this
service. Every action a console user takes on data is audited in the same transaction as the
action (client id ``console:<username>``): a replay (one or many, with the ids and the filter: the
replay's own tracked entry), a view of a message body (auditors only, with their reason), an export.
A dry run changes nothing and is not audited.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit import search as audit_search
from ehealth_hub.audit.events import AuditRecord
from ehealth_hub.audit.log import AuditLog
from ehealth_hub.audit.search import AuditEntry
from ehealth_hub.audit.search import AuditQuery as AuditQuery  # the console's audit query
from ehealth_hub.core.errors import AuthorizationError, InvalidInput, NotFound
from ehealth_hub.core.identifiers import mask_ssin
from ehealth_hub.delivery import requeue, search, store
from ehealth_hub.delivery.engine import DeliveryEngine
from ehealth_hub.delivery.outbox import OutboxItem
from ehealth_hub.delivery.outbox import Status as Status  # the console's status filter
from ehealth_hub.delivery.requeue import ReplayFilter
from ehealth_hub.delivery.search import DeliveryQuery as DeliveryQuery  # the console's query
from ehealth_hub.delivery.search import DeliveryRow
from ehealth_hub.services.operations_users import ConsoleUser

REPLAY_LIMIT: Final = 1000
"""Most deliveries one bulk replay re-queues (narrow the filter for more)."""
REASON_MIN: Final = 10
"""Shortest accepted reason for reading a message body."""
REPLAYABLE: Final = (Status.DEAD, Status.FAILED)
CSV_COLUMNS: Final = (
    *("id", "message_id", "kind", "destination", "status", "attempts"),
    *("created", "updated", "patient", "error"),
)


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    """One page of a delivery search."""

    rows: list[DeliveryRow]
    total: int
    status_counts: dict[str, int]
    destinations: list[str]
    next_before: int | None


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One moment in a delivery's life."""

    at: datetime
    what: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryDetail:
    """One delivery, without its bodies, and what happened to it."""

    item: OutboxItem
    patient_masked: str | None
    timeline: list[TimelineEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """A replay (or its dry run): the deliveries it re-queued (or would)."""

    replay_id: str | None
    ids: list[str]
    dry_run: bool


class OperationsService:
    """Deliveries for the console, each action audited."""

    def __init__(
        self, engine: AsyncEngine, audit: AuditLog, delivery: DeliveryEngine | None
    ) -> None:
        self.engine = engine
        self.audit = audit
        self.delivery = delivery

    async def search(
        self, query: DeliveryQuery, *, limit: int = 100, before: int | None = None
    ) -> DeliveryPage:
        """A page of matching deliveries, with the total and the outbox's status counts."""
        async with store.guard("search"), self.engine.connect() as conn:
            rows = await search.find(conn, query, limit=limit, before=before)
            total = await search.count(conn, query)
            counts = await search.status_counts(conn)
            known = await search.destinations(conn)
        more = len(rows) == limit and total > limit
        return DeliveryPage(rows, total, counts, known, rows[-1].seq if more and rows else None)

    async def detail(self, delivery_id: str) -> DeliveryDetail:
        """A delivery and its timeline (creation, attempts, errors, replays, body views)."""
        async with store.guard("read"), self.engine.connect() as conn:
            item = await store.get(conn, delivery_id)
            if item is None:
                raise NotFound(f"no delivery {delivery_id}", system="console", code="not-found")
            entries = await audit_search.find(conn, AuditQuery(mentions=delivery_id), limit=50)
        ident = (item.task.for_ or {}).get("identifier") or {}
        ssin = ident.get("value") if isinstance(ident, dict) else None
        return DeliveryDetail(
            item, mask_ssin(str(ssin)) if ssin else None, _timeline(item, entries)
        )

    async def bodies(self, user: ConsoleUser, delivery_id: str, reason: str) -> dict[str, Any]:
        """The request (payload) and the answer of a delivery: auditors only, reason audited."""
        if not user.is_auditor:
            raise AuthorizationError(
                "message bodies are shown to auditors only", system="console", code="forbidden"
            )
        reason = " ".join(reason.split())
        if len(reason) < REASON_MIN:
            raise InvalidInput(
                f"say why you need this message body (at least {REASON_MIN} characters)",
                field="reason",
                rule="min-length",
            )
        async with self.audit.appending(self.engine) as conn:
            item = await store.get(conn, delivery_id)
            if item is None:
                raise NotFound(f"no delivery {delivery_id}", system="console", code="not-found")
            detail = {"delivery": delivery_id, "reason": reason[:500]}
            await self.audit.record(conn, _record(user, "console-body-view", detail, item))
        return {"request": item.payload, "answer": item.result, "error": item.last_error}

    async def replay(
        self,
        user: ConsoleUser,
        *,
        ids: tuple[str, ...] = (),
        query: DeliveryQuery | None = None,
        dry_run: bool = False,
    ) -> ReplayResult:
        """Re-queue failed or dead deliveries, by id or by filter (at most :data:`REPLAY_LIMIT`).

        The replay is audited as its own entry: who, when, the filter and every id re-queued.
        """
        if not ids and query is None:
            raise InvalidInput("name deliveries or a filter", field="ids", rule="required")
        if not ids and query is not None:
            ids = await self._replayable(query)
        selection = ReplayFilter(ids=ids, statuses=REPLAYABLE)
        now = datetime.now(UTC)
        if dry_run or not ids:
            async with store.guard("replay"), self.engine.connect() as conn:
                found = await requeue.replay(conn, selection, now=now, dry_run=True)
            return ReplayResult(None, found, True)
        replay_id = uuid.uuid4().hex
        async with store.guard("replay"), self.audit.appending(self.engine) as conn:
            done = await requeue.replay(conn, selection, now=now)
            detail = {"replay": replay_id, "count": str(len(done)), "deliveries": " ".join(done)}
            if query is not None:
                detail["filter"] = describe(query)
            await self.audit.record(conn, _record(user, "console-replay", detail))
        if done and self.delivery is not None:
            self.delivery.wake()
        return ReplayResult(replay_id, done, False)

    async def _replayable(self, query: DeliveryQuery) -> tuple[str, ...]:
        statuses = tuple(s for s in query.statuses if s in REPLAYABLE) or REPLAYABLE
        narrowed = DeliveryQuery(**{**_fields(query), "statuses": statuses})
        async with store.guard("search"), self.engine.connect() as conn:
            rows = await search.find(conn, narrowed, limit=REPLAY_LIMIT)
        return tuple(r.id for r in rows)

    async def replays(self, limit: int = 50) -> list[AuditEntry]:
        """The replays made from the console, newest first."""
        async with self.engine.connect() as conn:
            return await audit_search.find(conn, AuditQuery(action="console-replay"), limit=limit)

    async def export_csv(self, user: ConsoleUser, query: DeliveryQuery, limit: int = 10000) -> str:
        """The matching deliveries as CSV (patients masked); the export is audited."""
        async with store.guard("search"), self.engine.connect() as conn:
            rows = await search.find(conn, query, limit=limit)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for r in rows:
            patient = mask_ssin(r.patient_ssin) if r.patient_ssin else ""
            writer.writerow(
                [
                    *(r.id, r.message_id, r.kind, r.destination, r.status.value, r.attempts),
                    *(r.created_at.isoformat(), r.updated_at.isoformat(), patient, r.error or ""),
                ]
            )
        detail = {"filter": describe(query), "count": str(len(rows))}
        await self.audit.append(self.engine, _record(user, "console-export", detail))
        return out.getvalue()


def _fields(query: DeliveryQuery) -> dict[str, Any]:
    return {name: getattr(query, name) for name in DeliveryQuery.__slots__}


def describe(query: DeliveryQuery) -> str:
    """The filter in words, the patient masked (stored in the audit detail)."""
    parts = []
    for name, value in _fields(query).items():
        if name == "patient_ssin" and value:
            value = mask_ssin(value)
        elif name == "statuses":
            value = ",".join(s.value for s in value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        if value:
            parts.append(f"{name}={value}")
    return " ".join(parts) or "all"


def _record(
    user: ConsoleUser, action: str, detail: dict[str, str], item: OutboxItem | None = None
) -> AuditRecord:
    ident = ((item.task.for_ or {}).get("identifier") or {}) if item is not None else {}
    ssin = ident.get("value") if isinstance(ident, dict) else None
    return AuditRecord(
        id=str(uuid.uuid4()),
        recorded=datetime.now(UTC),
        action=action,
        outcome="success",
        patient_ssin=str(ssin) if ssin else None,
        client_id=user.client_id,
        detail={"user": user.username, "role": user.role, **detail},
    )


def _timeline(item: OutboxItem, entries: list[AuditEntry]) -> list[TimelineEvent]:
    events = [TimelineEvent(item.created_at, "accepted", f"{item.kind} for {item.destination}")]
    for entry in entries:
        details = entry.details()
        who = details.get("user", entry.client_id or "")
        if entry.action == "console-replay":
            events.append(TimelineEvent(entry.recorded, "replayed", f"by {who}"))
        elif entry.action == "console-body-view":
            events.append(TimelineEvent(entry.recorded, "body viewed", f"by {who}"))
    if item.queued_at != item.created_at:
        events.append(TimelineEvent(item.queued_at, "queued again", "attempts start over"))
    if item.last_error:
        text = str(item.last_error.get("detail", ""))[:300]
        events.append(TimelineEvent(item.updated_at, f"attempt {item.attempts} failed", text))
    if item.status is Status.PENDING and item.last_error:
        events.append(TimelineEvent(item.next_attempt_at, "next attempt", "scheduled"))
    final = {
        Status.COMPLETED: "delivered",
        Status.DEAD: "dead letter",
        Status.FAILED: "rejected",
        Status.IN_PROGRESS: "being delivered",
    }
    if item.status in final:
        events.append(
            TimelineEvent(item.updated_at, final[item.status], f"{item.attempts} attempt(s)")
        )
    return sorted(events, key=lambda e: e.at)
