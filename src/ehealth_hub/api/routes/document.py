"""``/fhir/DocumentReference``: a consultation note for the patient's GP (journey 2), and reading
the notes back.

The body is a be-documentreference (with its Patient, author and the patient's GP as contained
resources) or a Bundle holding them. Needs ``user/DocumentReference.c``; the author must be the
acting practitioner. Answers ``202 Accepted`` with the Task that follows the delivery to the GP's
eHealthBox (``Location: /fhir/Task/{id}``); ``Idempotency-Key`` makes a retry safe.

``GET /fhir/DocumentReference/{id}`` reads a note back as it was sent, with its delivery
(``context.related`` = the Task, the ``delivery-status`` extension) and, for its sender, the KMEHR
message as ``Binary/{id}`` (:mod:`ehealth_hub.services.note_reads`); needs
``user/DocumentReference.r`` (the acting practitioner's notes) or ``system/DocumentReference.r``
(GP software: the notes to its GPs). Any other note is answered 404, like a missing one.
``GET /fhir/DocumentReference?patient=&status=&delivery-status=`` searches them (``.s`` scopes;
:mod:`ehealth_hub.api.search`), newest first; ``delivery-status`` takes the Task.status codes.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, FastAPI, Path, Request

from ehealth_hub.api.auth import require_scope
from ehealth_hub.api.conventions import json_body, patient_ssin_param
from ehealth_hub.api.deps import NoteReader, Notes, Wake
from ehealth_hub.api.door import FHIR_ID
from ehealth_hub.api.idempotency import IdempotentRoute
from ehealth_hub.api.responses import FhirResponse, version_headers
from ehealth_hub.api.search import Param, SearchQuery, SearchSpec, searchset
from ehealth_hub.auth.principal import Principal
from ehealth_hub.auth.scopes import (
    NOTE_READ,
    NOTE_READ_SYSTEM,
    NOTE_SEARCH,
    NOTE_SEARCH_SYSTEM,
    NOTE_WRITE,
)
from ehealth_hub.fhir.profiles import BE_DOCUMENT_REFERENCE
from ehealth_hub.services.note_reads import delivery_statuses
from ehealth_hub.services.notes_store import NoteFilter
from ehealth_hub.services.tasks import TaskView

router = APIRouter(tags=["notes"], route_class=IdempotentRoute)
NoteId = Annotated[str, Path(pattern=FHIR_ID.pattern, description="FHIR id")]
NOTE_SEARCH_SPEC: Final = SearchSpec(
    "DocumentReference",
    params=(
        Param("patient", "reference", "the patient's SSIN, or <ssin-system>|<ssin>"),
        Param("status", "token", "DocumentReference.status: current, superseded, entered-in-error"),
        Param(
            "delivery-status",
            "token",
            "the delivery to the GP, as its Task.status: requested, in-progress, completed, failed",
        ),
    ),
)

_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/fhir+json": {
                "schema": {
                    "type": "object",
                    "required": ["resourceType"],
                    "properties": {
                        "resourceType": {"type": "string", "enum": ["DocumentReference", "Bundle"]}
                    },
                }
            }
        },
    },
    "responses": {"202": {"description": "accepted: the Task following the delivery"}},
}


@router.post(
    "/fhir/DocumentReference",
    response_class=FhirResponse,
    status_code=202,
    summary="Send a consultation note to the patient's GP (202 + Task)",
    openapi_extra=_BODY,
)
async def create_note(
    notes: Notes,
    wake: Wake,
    principal: Annotated[Principal, Depends(require_scope(NOTE_WRITE))],
    note: Annotated[dict[str, Any], Depends(json_body)],
) -> FhirResponse:
    """Gate, KMEHR, AddressBook, then outbox and audit in one transaction."""
    accepted = await notes.accept(note, principal.actor(), client_id=principal.client_id)
    wake()
    task = TaskView.of(accepted.item)
    headers = {
        "Location": f"/fhir/Task/{accepted.item.id}",
        "Content-Location": f"/fhir/Task/{accepted.item.id}",
        **version_headers(task.resource),
    }
    return FhirResponse(task.resource, status_code=202, headers=headers)


@router.get(
    "/fhir/DocumentReference/{note_id}",
    response_class=FhirResponse,
    summary="A note sent to a GP, with its delivery status",
)
async def read_note(
    note_id: NoteId,
    notes: NoteReader,
    principal: Annotated[Principal, Depends(require_scope(NOTE_READ, NOTE_READ_SYSTEM))],
) -> FhirResponse:
    """The note as sent (404 outside the caller's compartment); audited. Its version (that of
    its delivery) as ETag, so a conditional read answers 304 while the delivery is unchanged."""
    note = await notes.read(note_id, principal)
    return FhirResponse(note, headers=version_headers(note))


@router.get(
    "/fhir/DocumentReference",
    response_class=FhirResponse,
    summary="Search the notes sent",
    openapi_extra=NOTE_SEARCH_SPEC.openapi(),
)
async def search_notes(
    request: Request,
    notes: NoteReader,
    principal: Annotated[Principal, Depends(require_scope(NOTE_SEARCH, NOTE_SEARCH_SYSTEM))],
    query: Annotated[SearchQuery, Depends(NOTE_SEARCH_SPEC)],
) -> FhirResponse:
    """A searchset Bundle of the caller's notes, newest first; each one shown is audited."""
    patient = query.value("patient")
    criteria = NoteFilter(
        patient=patient_ssin_param(patient) if patient else None,
        statuses=query.codes("status"),
        deliveries=delivery_statuses(query.codes("delivery-status")),
    )
    page = await notes.search(principal, criteria, query.page)
    return FhirResponse(searchset(request, query, page))


def install(app: FastAPI) -> None:
    """Include the router and declare it in the CapabilityStatement."""
    app.include_router(router)
    entry = app.state.capabilities.resource("DocumentReference", profile=BE_DOCUMENT_REFERENCE)
    entry.interactions.append("create")
    entry.versioned_read()
    NOTE_SEARCH_SPEC.declare(entry)
