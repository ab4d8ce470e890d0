"""``GET /fhir/AuditEvent?patient=...``: who accessed this patient's data, for an auditor.

FHIR R4 4.0.1 search on AuditEvent (``patient`` = SSIN or ``<ssin-system>|<ssin>``, ``_count``),
answered as a searchset Bundle, newest first. Needs ``system/AuditEvent.s``; the auditor's own
search is audited too.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query

from ehealth_hub.api.auth import require_scope
from ehealth_hub.api.conventions import patient_ssin_param, searchset
from ehealth_hub.api.deps import Trail
from ehealth_hub.api.responses import FhirResponse
from ehealth_hub.auth import scopes
from ehealth_hub.auth.principal import Principal

router = APIRouter(prefix="/fhir/AuditEvent", tags=["AuditEvent"])

Auditor = Annotated[Principal, Depends(require_scope(scopes.AUDIT_READ))]


def install(app: FastAPI) -> None:
    """Include the router and declare it in the CapabilityStatement."""
    app.include_router(router)
    entry = app.state.capabilities.resource("AuditEvent")
    entry.interactions = ["search-type"]
    entry.search_params = [("patient", "reference"), ("_count", "number")]


@router.get("")
async def search_audit_events(
    trail: Trail,
    principal: Auditor,
    patient: Annotated[str, Query(description="SSIN, or <ssin-system>|<ssin>")],
    count: Annotated[int, Query(alias="_count", ge=1, le=1000)] = 100,
) -> FhirResponse:
    """The patient's audit trail, newest first."""
    events = await trail.search(principal, patient_ssin_param(patient), count=count)
    bundle = searchset((f"AuditEvent/{e['id']}", e) for e in events)
    return FhirResponse(bundle)
