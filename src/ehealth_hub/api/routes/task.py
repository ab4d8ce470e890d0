"""FHIR Task (R4 4.0.1): follow deliveries, and replay dead letters.

* ``GET /fhir/Task/{id}``: the Task of one delivery; ``ETag: W/"<versionId>"``, and
  ``If-None-Match`` answers 304 when unchanged;
* ``GET /fhir/Task?status=requested|in-progress|completed|failed[,...]&focus=...&_count=``: a
  searchset Bundle, newest first;
* ``POST /fhir/Task/{id}/$replay``: deliver a failed or dead item again (same message id), at
  the tail of its ordering key (``requested``/``waiting`` while later items of its key are
  unfinished);
* ``POST /fhir/Task/$replay?destination=&status=dead|failed&since=&_dryRun=true``: a filter.

Reading needs ``system/Task.r`` or ``user/Task.r``, and shows only the Tasks of the caller's
compartment (:mod:`ehealth_hub.services.task_access`: the acting practitioner's requests, the
claims addressed to a mutuality, the notes addressed to a GP software's GPs, every Task for an
operator or auditor); any other Task is answered 404 like a missing one. Every Task shown is
audited (``task-read``). Replay needs ``system/Task.u`` (operators).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query
from starlette.responses import Response

from ehealth_hub.api.auth import require_scope
from ehealth_hub.api.deps import ContainerDep
from ehealth_hub.api.door import FHIR_ID
from ehealth_hub.api.idempotency import IdempotentRoute
from ehealth_hub.api.responses import FhirResponse
from ehealth_hub.auth.principal import Principal
from ehealth_hub.auth.scopes import TASK_READ, TASK_READ_SYSTEM
from ehealth_hub.bootstrap import Container
from ehealth_hub.delivery import requeue, store
from ehealth_hub.delivery.outbox import OutboxItem, Status
from ehealth_hub.delivery.requeue import ReplayFilter
from ehealth_hub.delivery.task import etag, fhir_statuses, task_resource
from ehealth_hub.errors import ConfigurationError, InvalidInput, NotFound
from ehealth_hub.services import insurer_claims, task_access

TASK_REPLAY: Final = "system/Task.u"
"""Scope of the replay operations (operators)."""

router = APIRouter(tags=["delivery"], route_class=IdempotentRoute)
Reader = Annotated[Principal, Depends(require_scope(TASK_READ, TASK_READ_SYSTEM))]
Operator = Annotated[Principal, Depends(require_scope(TASK_REPLAY))]
TaskId = Annotated[str, Path(pattern=FHIR_ID.pattern, description="FHIR id")]


def _engine(container: Container) -> Container:
    if container.delivery is None:
        raise ConfigurationError("the delivery engine is not configured", system="delivery")
    return container


async def _load(container: Container, task_id: str, principal: Principal) -> OutboxItem:
    async with store.guard("read"), container.engine.connect() as conn:
        item = await store.get(conn, task_id)
    if item is None or not task_access.compartment(principal).holds(item):
        raise NotFound(f"Task/{task_id} not found", system="delivery", code="not-found")
    return item


async def _audit(
    container: Container, principal: Principal, items: list[OutboxItem], operation: str
) -> None:
    records = [task_access.read_audit(principal, i, operation=operation) for i in items]
    if records:
        async with container.audit_log.appending(container.engine) as conn:
            await container.audit_log.record_many(conn, records)


@router.get("/fhir/Task/{task_id}", response_class=FhirResponse, summary="One delivery's Task")
async def read_task(
    task_id: TaskId,
    container: ContainerDep,
    principal: Reader,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The Task, with its version as ETag."""
    item = await _load(container, task_id, principal)
    await _audit(container, principal, [item], "read")
    headers = {"ETag": etag(item)}
    if if_none_match is not None and if_none_match.strip() == etag(item):
        return Response(status_code=304, headers=headers)
    # a claim's Task also shows its second payer (services/insurer_claims.py)
    task = await insurer_claims.attach(container.engine, item, task_resource(item))
    return FhirResponse(task, headers=headers)


@router.get("/fhir/Task", response_class=FhirResponse, summary="Search Tasks")
async def search_tasks(
    container: ContainerDep,
    principal: Reader,
    status: Annotated[
        str | None, Query(description="requested, in-progress, completed, failed")
    ] = None,
    focus: Annotated[
        str | None, Query(description="e.g. DocumentReference/123", max_length=200)
    ] = None,
    count: Annotated[int, Query(alias="_count", ge=1, le=500)] = 50,
) -> FhirResponse:
    """A searchset Bundle of Tasks, newest first."""
    statuses: list[Status] = []
    for code in (status or "").split(","):
        if code.strip():
            found = fhir_statuses(code.strip())
            if not found:
                raise InvalidInput(
                    f"unknown Task status {code.strip()!r}",
                    field="status",
                    rule="task-status",
                    system="api",
                )
            statuses += found
    seen = task_access.compartment(principal)
    async with store.guard("search"), container.engine.connect() as conn:
        items = await task_access.search(conn, seen, statuses=statuses, focus=focus, limit=count)
    await _audit(container, principal, items, "search")
    base = f"{container.settings.api.public_base_url}/fhir/Task"
    return FhirResponse(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(items),
            "entry": [
                {
                    "fullUrl": f"{base}/{i.id}",
                    "resource": task_resource(i),
                    "search": {"mode": "match"},
                }
                for i in items
            ],
        }
    )


@router.post(
    "/fhir/Task/{task_id}/$replay",
    response_class=FhirResponse,
    summary="Deliver a failed or dead Task again",
)
async def replay_task(task_id: TaskId, container: ContainerDep, principal: Operator) -> Response:
    """Re-queue one failed or dead-lettered delivery (same outbound message id)."""
    item = await _load(_engine(container), task_id, principal)
    if item.status not in (Status.FAILED, Status.DEAD):
        raise InvalidInput(
            f"Task/{task_id} is {item.status.value}; only failed or dead deliveries are replayed",
            field="id",
            rule="replay-finished-only",
            system="api",
        )
    selection = ReplayFilter(ids=(task_id,), statuses=(Status.FAILED, Status.DEAD))
    async with store.guard("replay"), container.engine.begin() as conn:
        await requeue.replay(conn, selection, now=datetime.now(UTC))
        replayed = await store.get(conn, task_id)
    if replayed is None:
        raise NotFound(f"Task/{task_id} not found", system="delivery", code="not-found")
    if container.delivery is not None:
        container.delivery.wake()
    return FhirResponse(task_resource(replayed), headers={"ETag": etag(replayed)})


@router.post(
    "/fhir/Task/$replay",
    response_class=FhirResponse,
    summary="Deliver again every failed or dead Task matching a filter",
)
async def replay_many(
    container: ContainerDep,
    principal: Operator,
    destination: str | None = None,
    status: Annotated[str, Query(pattern="^(dead|failed)(,(dead|failed))?$")] = "dead",
    since: datetime | None = None,
    dry_run: Annotated[bool, Query(alias="_dryRun")] = False,
) -> FhirResponse:
    """Parameters listing the replayed (or, with ``_dryRun=true``, replayable) Task ids."""
    selection = ReplayFilter(
        destination=destination, since=since, statuses=tuple(Status(s) for s in status.split(","))
    )
    async with store.guard("replay"), _engine(container).engine.begin() as conn:
        ids = await requeue.replay(conn, selection, now=datetime.now(UTC), dry_run=dry_run)
    if ids and not dry_run and container.delivery is not None:
        container.delivery.wake()
    return FhirResponse(
        {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "dryRun", "valueBoolean": dry_run},
                {"name": "count", "valueInteger": len(ids)},
                *({"name": "task", "valueReference": {"reference": f"Task/{i}"}} for i in ids),
            ],
        }
    )


def install(app: FastAPI) -> None:
    """Include the Task routes and declare them in the CapabilityStatement."""
    app.include_router(router)
    entry = app.state.capabilities.resource("Task")
    entry.interactions += ["read", "search-type"]
    entry.search_params += [("status", "token"), ("focus", "reference")]
    entry.operations += [("replay", "https://ehealth-hub.be/fhir/OperationDefinition/Task-replay")]
