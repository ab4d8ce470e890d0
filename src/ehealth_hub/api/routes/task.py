"""FHIR Task (R4 4.0.1): follow deliveries, and replay dead letters.

* ``GET /fhir/Task/{id}``: the Task of one delivery; ``ETag: W/"<versionId>"`` and
  ``Last-Modified``; ``If-None-Match``/``If-Modified-Since`` answer 304 when unchanged;
* ``GET /fhir/Task?status=requested|in-progress|completed|failed[,...]&focus=&patient=&owner=
  &_lastUpdated=&authored-on=&_count=&_sort=``: a searchset Bundle, newest first, paged by
  cursor (:data:`TASK_SEARCH`, :mod:`ehealth_hub.api.search`);
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

from datetime import datetime
from typing import Annotated, Final

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from starlette.responses import Response

from ehealth_hub.api.auth import require_scope
from ehealth_hub.api.conventions import patient_ssin_param
from ehealth_hub.api.deps import Tasks
from ehealth_hub.api.door import FHIR_ID
from ehealth_hub.api.idempotency import IdempotentRoute
from ehealth_hub.api.responses import FhirResponse, version_headers
from ehealth_hub.api.search import Param, SearchQuery, SearchSpec, searchset
from ehealth_hub.auth.principal import Principal
from ehealth_hub.auth.scopes import TASK_READ, TASK_READ_SYSTEM
from ehealth_hub.core.errors import InvalidInput
from ehealth_hub.fhir.profiles import SSIN_SYSTEM
from ehealth_hub.services.task_access import TaskFilter
from ehealth_hub.services.tasks import task_statuses

TASK_REPLAY: Final = "system/Task.u"
"""Scope of the replay operations (operators)."""

router = APIRouter(tags=["delivery"], route_class=IdempotentRoute)
Reader = Annotated[Principal, Depends(require_scope(TASK_READ, TASK_READ_SYSTEM))]
Operator = Annotated[Principal, Depends(require_scope(TASK_REPLAY))]
TaskId = Annotated[str, Path(pattern=FHIR_ID.pattern, description="FHIR id")]


@router.get("/fhir/Task/{task_id}", response_class=FhirResponse, summary="One delivery's Task")
async def read_task(task_id: TaskId, tasks: Tasks, principal: Reader) -> Response:
    """The Task, with its version as ETag and its last change as Last-Modified (a conditional
    read answers 304: :mod:`ehealth_hub.api.conditional`)."""
    task = await tasks.read(task_id, principal)
    return FhirResponse(task.resource, headers=version_headers(task.resource))


TASK_SEARCH: Final = SearchSpec(
    "Task",
    params=(
        Param("status", "token", "requested, in-progress, completed, failed (commas: any of)"),
        Param(
            "focus",
            "reference",
            "the delivered record, e.g. DocumentReference/123, or Claim/{id}: the hub's id or the "
            "app's own claim id",
        ),
        Param("patient", "reference", "Task.for: the patient's SSIN, or <ssin-system>|<ssin>"),
        Param("owner", "reference", "Task.owner's identifier as <system>|<value> (GP, mutuality)"),
        Param("_lastUpdated", "date", "last change; repeat for a range (ge..&lt..)", repeats=True),
        Param("authored-on", "date", "when the delivery was accepted; repeat for a range", True),
    ),
    sorts=("authored-on", "_lastUpdated"),
    default_sort="-authored-on",
)


@router.get(
    "/fhir/Task",
    response_class=FhirResponse,
    summary="Search Tasks",
    openapi_extra=TASK_SEARCH.openapi(),
)
async def search_tasks(
    request: Request,
    tasks: Tasks,
    principal: Reader,
    query: Annotated[SearchQuery, Depends(TASK_SEARCH)],
) -> FhirResponse:
    """A searchset Bundle of the caller's Tasks, newest first (see TASK_SEARCH)."""
    filters = TaskFilter(
        statuses=task_statuses(query.codes("status")),
        focus=query.values("focus"),
        patient=[f"{SSIN_SYSTEM}|{patient_ssin_param(p)}" for p in query.values("patient")],
        owner=[_owner(o) for o in query.values("owner")],
        last_updated=query.dates("_lastUpdated"),
        authored=query.dates("authored-on"),
    )
    page = await tasks.search(principal, filters, query.page)
    return FhirResponse(searchset(request, query, page))


def _owner(value: str) -> str:
    system, bar, ident = value.partition("|")
    if not bar or not system or not ident:
        raise InvalidInput(
            "owner must be <system>|<value> (a GP's NIHII or a mutuality's number)",
            field="owner",
            rule="search.owner",
            system="api",
        )
    return value


@router.post(
    "/fhir/Task/{task_id}/$replay",
    response_class=FhirResponse,
    summary="Deliver a failed or dead Task again",
)
async def replay_task(task_id: TaskId, tasks: Tasks, principal: Operator) -> Response:
    """Re-queue one failed or dead-lettered delivery (same outbound message id)."""
    task = await tasks.replay(task_id, principal)
    return FhirResponse(task.resource, headers=version_headers(task.resource))


@router.post(
    "/fhir/Task/$replay",
    response_class=FhirResponse,
    summary="Deliver again every failed or dead Task matching a filter",
)
async def replay_many(
    tasks: Tasks,
    principal: Operator,
    destination: str | None = None,
    status: Annotated[str, Query(pattern="^(dead|failed)(,(dead|failed))?$")] = "dead",
    since: datetime | None = None,
    dry_run: Annotated[bool, Query(alias="_dryRun")] = False,
) -> FhirResponse:
    """Parameters listing the replayed (or, with ``_dryRun=true``, replayable) Task ids."""
    ids = await tasks.replay_matching(
        destination=destination, status=status, since=since, dry_run=dry_run
    )
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
    entry.versioned_read()
    TASK_SEARCH.declare(entry)
    entry.operations += [("replay", "https://ehealth-hub.be/fhir/OperationDefinition/Task-replay")]
