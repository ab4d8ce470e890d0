"""Delivery Tasks for the API: read, search and replay, each within the caller's compartment.

The use cases behind ``/fhir/Task`` (the route only speaks HTTP): a Task is one outbox item as
FHIR (:mod:`ehealth_hub.delivery.task`); which items a client may see is
:mod:`.task_access`'s compartment, and every Task shown is audited (``task-read``). A replay puts
a failed or dead item back in its queue (same message id) and wakes the delivery engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit.log import AuditLog
from ehealth_hub.auth.principal import Principal
from ehealth_hub.core.errors import Conflict, InvalidInput, NotFound
from ehealth_hub.core.search import Page, PageRequest, mapped
from ehealth_hub.delivery import requeue, store
from ehealth_hub.delivery.outbox import OutboxItem, Status
from ehealth_hub.delivery.requeue import ReplayFilter
from ehealth_hub.delivery.task import etag, fhir_statuses, task_resource
from ehealth_hub.services import claims_store, insurer_claims, task_access
from ehealth_hub.services.task_access import TaskFilter


@dataclass(frozen=True, slots=True)
class TaskView:
    """One Task as served: the FHIR resource and its ``ETag``."""

    resource: dict[str, Any]
    etag: str

    @classmethod
    def of(cls, item: OutboxItem) -> TaskView:
        """The Task of one outbox item (a note or claim accepted for delivery)."""
        return cls(task_resource(item), etag(item))


class TaskService:
    """Read, search and replay delivery Tasks (see the module docstring)."""

    def __init__(self, engine: AsyncEngine, audit: AuditLog, *, wake: Callable[[], None]) -> None:
        self.engine, self.audit, self.wake = engine, audit, wake

    async def read(self, task_id: str, principal: Principal) -> TaskView:
        """The Task, if in the caller's compartment (else NotFound, like a missing one)."""
        item = await self._load(task_id, principal)
        await self._audit(principal, [item], "read")
        # a claim's Task also shows its second payer (services/insurer_claims.py)
        resource = await insurer_claims.attach(self.engine, item, task_resource(item))
        return TaskView(resource, etag(item))

    async def search(
        self, principal: Principal, filters: TaskFilter, page: PageRequest
    ) -> Page[dict[str, Any]]:
        """One page of the caller's Tasks matching ``filters`` (FHIR JSON; each one audited)."""
        seen = task_access.compartment(principal)
        filters = replace(filters, focus=await self._claims_either_way(filters.focus))
        async with store.guard("search"), self.engine.connect() as conn:
            found = await task_access.search(conn, seen, filters, page)
        await self._audit(principal, list(found.items), "search")
        return mapped(found, [task_resource(i) for i in found.items])

    async def _claims_either_way(self, focus: Sequence[str]) -> tuple[str, ...]:
        """``focus`` with each ``Claim/<app id>`` also as ``Claim/<hub id>``: a claim's Task
        names the Claim as the hub serves it, the app's own id as ``focus.identifier``
        (:mod:`.claim_reads`), and clients search by either (Tasks written before also
        carry the app's id as their reference, so the value itself is kept)."""
        wanted = list(focus)
        for value in focus:
            kind, _, claim_id = value.rpartition("/")
            if kind.endswith("Claim") and claim_id:
                ids = await claims_store.message_ids_of_app_claim(self.engine, claim_id)
                wanted += [f"Claim/{m}" for m in ids]
        return tuple(dict.fromkeys(wanted))

    async def replay(self, task_id: str, principal: Principal) -> TaskView:
        """Re-queue one failed or dead-lettered delivery (same outbound message id)."""
        item = await self._load(task_id, principal)
        if item.status not in (Status.FAILED, Status.DEAD):
            raise Conflict(
                f"Task/{task_id} is {item.status.value}; only failed or dead deliveries are "
                "replayed",
                system="api",
                operation="replay",
                code="replay-failed-or-dead-only",
            )
        selection = ReplayFilter(ids=(task_id,), statuses=(Status.FAILED, Status.DEAD))
        async with store.guard("replay"), self.engine.begin() as conn:
            await requeue.replay(conn, selection, now=datetime.now(UTC))
            replayed = await store.get(conn, task_id)
        if replayed is None:
            raise NotFound(f"Task/{task_id} not found", system="delivery", code="not-found")
        self.wake()
        return TaskView.of(replayed)

    async def replay_matching(
        self, *, destination: str | None, status: str, since: datetime | None, dry_run: bool
    ) -> list[str]:
        """The ids of the failed/dead items matching the filter, re-queued unless ``dry_run``."""
        selection = ReplayFilter(
            destination=destination,
            since=since,
            statuses=tuple(Status(s) for s in status.split(",")),
        )
        async with store.guard("replay"), self.engine.begin() as conn:
            ids = await requeue.replay(conn, selection, now=datetime.now(UTC), dry_run=dry_run)
        if ids and not dry_run:
            self.wake()
        return ids

    async def _load(self, task_id: str, principal: Principal) -> OutboxItem:
        async with store.guard("read"), self.engine.connect() as conn:
            item = await store.get(conn, task_id)
        if item is None or not task_access.compartment(principal).holds(item):
            raise NotFound(f"Task/{task_id} not found", system="delivery", code="not-found")
        return item

    async def _audit(self, principal: Principal, items: list[OutboxItem], operation: str) -> None:
        records = [task_access.read_audit(principal, i, operation=operation) for i in items]
        if records:
            async with self.audit.appending(self.engine) as conn:
                await self.audit.record_many(conn, records)


def task_statuses(codes: Sequence[str]) -> list[Status]:
    """The outbox statuses shown as the Task.status ``codes``; 400 for an unknown code."""
    statuses: list[Status] = []
    for code in codes:
        found = fhir_statuses(code)
        if not found:
            raise InvalidInput(
                f"unknown Task status {code!r}: requested, in-progress, completed or failed",
                field="status",
                rule="task-status",
                system="api",
            )
        statuses += found
    return statuses
