"""``GET /fhir/AuditEvent``: who accessed which patient's data, for an auditor.

FHIR R4 4.0.1 search on AuditEvent (:data:`AUDIT_SEARCH`: ``patient``, ``date`` ranges,
``agent``, ``subtype``, ``outcome``, ``_count``, ``_sort``), answered as a searchset Bundle,
newest first, paged by cursor (:mod:`ehealth_hub.api.search`). Needs ``system/AuditEvent.s``; the
auditor's own search is audited too.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, FastAPI, Request

from ehealth_hub.api.auth import require_scope
from ehealth_hub.api.conventions import patient_ssin_param
from ehealth_hub.api.deps import Trail
from ehealth_hub.api.responses import FhirResponse
from ehealth_hub.api.search import Param, SearchQuery, SearchSpec, searchset
from ehealth_hub.auth import scopes
from ehealth_hub.auth.principal import Principal
from ehealth_hub.services.audit_trail import AuditFilter, recorded_outcomes

router = APIRouter(prefix="/fhir/AuditEvent", tags=["AuditEvent"])

Auditor = Annotated[Principal, Depends(require_scope(scopes.AUDIT_READ))]

AUDIT_SEARCH: Final = SearchSpec(
    "AuditEvent",
    params=(
        Param("patient", "reference", "the patient's SSIN, or <ssin-system>|<ssin>"),
        Param("date", "date", "AuditEvent.recorded; repeat for a range (ge..&lt..)", repeats=True),
        Param("agent", "reference", "who acted: a practitioner's NIHII or a client id"),
        Param("subtype", "token", "the hub's action, e.g. read-dossier, consent-read, task-read"),
        Param("outcome", "token", "0 success/permit, 4 refused, 8 failure"),
    ),
    sorts=("date",),
    default_sort="-date",
)


def install(app: FastAPI) -> None:
    """Include the router and declare it in the CapabilityStatement."""
    app.include_router(router)
    AUDIT_SEARCH.declare(app.state.capabilities.resource("AuditEvent"))


@router.get("", openapi_extra=AUDIT_SEARCH.openapi())
async def search_audit_events(
    request: Request,
    trail: Trail,
    principal: Auditor,
    query: Annotated[SearchQuery, Depends(AUDIT_SEARCH)],
) -> FhirResponse:
    """The matching audit trail, newest first."""
    filters = AuditFilter(
        patients=[patient_ssin_param(p) for p in query.values("patient")],
        agents=query.values("agent"),
        actions=query.codes("subtype"),
        outcomes=recorded_outcomes(query.codes("outcome")),
        recorded=query.dates("date"),
    )
    page = await trail.search(principal, filters, query.page)
    return FhirResponse(searchset(request, query, page))
