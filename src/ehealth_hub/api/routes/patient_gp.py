"""``GET /fhir/Patient?identifier=<ssin system>|<ssin>``: the patient and their GP, the holder of
the global medical file (GMD) as MyCareNet names it today.

Answers a ``searchset`` Bundle (:mod:`ehealth_hub.mappings.gmd_fhir`): the be-patient with
``generalPractitioner`` = the GMD holder (the GMD period in the Reference's ``gmd-period``
extension); ``_include=Patient:general-practitioner`` adds the Practitioner and PractitionerRole
(or the Organization of a medical house) with the NIHII and the eHealthBox from the AddressBook.
Needs ``user/Patient.r`` and an acting practitioner; the consent gate decides and audits it as a
read of the patient's data (``read-dossier``): 403 with the reasons. MyCareNet unreachable: 503
with Retry-After (an OperationOutcome), never an answer without GP.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, FastAPI, Request

from ehealth_hub.api.auth import require_scope
from ehealth_hub.api.deps import Gps
from ehealth_hub.api.responses import FhirResponse
from ehealth_hub.api.routes.patient import parse_ssin_identifier
from ehealth_hub.api.search import Param, SearchQuery, SearchSpec, links
from ehealth_hub.auth.principal import Principal
from ehealth_hub.auth.scopes import SUMMARY_READ
from ehealth_hub.core.errors import InvalidInput
from ehealth_hub.core.search import Page
from ehealth_hub.fhir.profiles import BE_PATIENT, SSIN_SYSTEM
from ehealth_hub.services.gp import INCLUDE

router = APIRouter(tags=["records"])

PATIENT_SEARCH: Final = SearchSpec(
    "Patient",
    params=(
        Param("identifier", "token", f"{SSIN_SYSTEM}|<SSIN>, or the bare SSIN", required=True),
    ),
    includes=(INCLUDE,),
)


@router.get(
    "/fhir/Patient",
    response_class=FhirResponse,
    summary="The patient and their GP, the GMD holder (consent-gated)",
    responses={
        403: {"description": "consent does not hold (OperationOutcome with the reasons)"},
        503: {"description": "MyCareNet is unreachable (Retry-After)"},
    },
    openapi_extra=PATIENT_SEARCH.openapi(),
)
async def search_patient(
    request: Request,
    gps: Gps,
    principal: Annotated[Principal, Depends(require_scope(SUMMARY_READ))],
    query: Annotated[SearchQuery, Depends(PATIENT_SEARCH)],
) -> FhirResponse:
    """Gate, then MyCareNet GlobalMedicalFile, then the AddressBook."""
    tokens = query.tokens("identifier")
    if len(tokens) != 1:
        raise InvalidInput(
            "identifier takes one SSIN", field="identifier", rule="search.single-value"
        )
    system = SSIN_SYSTEM if tokens[0].system is None else tokens[0].system  # bare: an SSIN
    ssin = parse_ssin_identifier(f"{system}|{tokens[0].code}")
    bundle = await gps.search(
        ssin, principal.actor(), client_id=principal.client_id, include=bool(query.includes)
    )
    bundle["link"] = links(request, query, Page((), bundle["total"]))
    if query.page.count == 0:  # _count=0: the total only
        bundle["entry"] = []
    return FhirResponse(bundle)


def install(app: FastAPI) -> None:
    """Include the router and declare the search in the CapabilityStatement."""
    app.include_router(router)
    PATIENT_SEARCH.declare(app.state.capabilities.resource("Patient", profile=BE_PATIENT))
