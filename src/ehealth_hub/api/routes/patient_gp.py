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

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query

from ehealth_hub.api.auth import require_scope
from ehealth_hub.api.deps import Gps
from ehealth_hub.api.responses import FhirResponse
from ehealth_hub.api.routes.patient import parse_ssin_identifier
from ehealth_hub.auth.principal import Principal
from ehealth_hub.auth.scopes import SUMMARY_READ
from ehealth_hub.core.errors import InvalidInput
from ehealth_hub.fhir.profiles import BE_PATIENT, SSIN_SYSTEM
from ehealth_hub.services.gp import INCLUDE

router = APIRouter(tags=["records"])


@router.get(
    "/fhir/Patient",
    response_class=FhirResponse,
    summary="The patient and their GP, the GMD holder (consent-gated)",
    responses={
        403: {"description": "consent does not hold (OperationOutcome with the reasons)"},
        503: {"description": "MyCareNet is unreachable (Retry-After)"},
    },
)
async def search_patient(
    gps: Gps,
    principal: Annotated[Principal, Depends(require_scope(SUMMARY_READ))],
    identifier: Annotated[str, Query(description=f"{SSIN_SYSTEM}|<SSIN>", max_length=200)],
    include: Annotated[list[str] | None, Query(alias="_include", max_length=60)] = None,
) -> FhirResponse:
    """Gate, then MyCareNet GlobalMedicalFile, then the AddressBook."""
    ssin = parse_ssin_identifier(identifier)
    unknown = [i for i in include or [] if i != INCLUDE]
    if unknown:
        raise InvalidInput(
            f"_include supports only {INCLUDE}",
            field="_include",
            rule="search.include",
            system="api",
        )
    bundle = await gps.search(
        ssin, principal.actor(), client_id=principal.client_id, include=bool(include)
    )
    return FhirResponse(bundle)


def install(app: FastAPI) -> None:
    """Include the router and declare the search in the CapabilityStatement."""
    app.include_router(router)
    entry = app.state.capabilities.resource("Patient", profile=BE_PATIENT)
    entry.interactions.append("search-type")
    entry.search_params.append(("identifier", "token"))
