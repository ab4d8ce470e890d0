"""``POST /fhir/CoverageEligibilityRequest/$submit``: is the patient insured, and does third-party
payment apply, on the date of the consultation (before billing).

The body is a FHIR R4 CoverageEligibilityRequest naming the patient by SSIN identifier, with
``servicedDate`` and ``purpose`` (``validation``/``benefits``); see
:mod:`ehealth_hub.mappings.mycarenet_eligibility`. Needs ``user/CoverageEligibilityRequest.c``; the
acting practitioner of the token is the MyCareNet care provider. Answers ``200`` with a
CoverageEligibilityResponse (the Coverage contained: mutuality, membership number, CT1/CT2,
third-party payment, period, medical-house membership), whose ``outcome``/``error`` say when the
patient is not insured on the date, unknown, or the answer partial. A body that is not JSON is
``400``, a request the hub cannot use ``422``, with an OperationOutcome naming the field. The
insurability comes from the claims use case (MyCareNet MemberData, cached per patient and date):
the same answer the claim will be routed on. The consent gate decides first, as for the claim
itself (``submit-claim``: role, therapeutic link, consultation consent), and the decision is
audited. For an insured patient the answer also states the BIM status (extension
``increased-reimbursement``, from CT1) and whether the acting doctor has a treatment relationship
through the GMD on the date (extension ``gmd-treatment-relationship``: ``exists`` and the holder's
NIHII; MyCareNet GlobalMedicalFile; 503 when it is unreachable).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, FastAPI

from ehealth_hub.api.auth import require_scope
from ehealth_hub.api.conventions import json_body
from ehealth_hub.api.deps import Claims
from ehealth_hub.api.idempotency import IdempotentRoute
from ehealth_hub.api.responses import FhirResponse
from ehealth_hub.auth.principal import Principal
from ehealth_hub.auth.scopes import ELIGIBILITY_CHECK
from ehealth_hub.services import eligibility

router = APIRouter(tags=["claims"], route_class=IdempotentRoute)

SUBMIT_DEFINITION: Final = (
    "http://hl7.org/fhir/OperationDefinition/CoverageEligibilityRequest-submit"
)
_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/fhir+json": {
                "schema": {
                    "type": "object",
                    "required": ["resourceType", "patient", "servicedDate", "purpose"],
                    "properties": {
                        "resourceType": {"type": "string", "enum": [eligibility.RESOURCE]}
                    },
                }
            }
        },
    },
    "responses": {"200": {"description": "the CoverageEligibilityResponse (Coverage contained)"}},
}


@router.post(
    "/fhir/CoverageEligibilityRequest/$submit",
    response_class=FhirResponse,
    summary="Insurability of a patient on a date (CoverageEligibilityResponse)",
    openapi_extra=_BODY,
)
async def submit_eligibility(
    claims: Claims,
    principal: Annotated[Principal, Depends(require_scope(ELIGIBILITY_CHECK))],
    body: Annotated[dict[str, Any], Depends(json_body)],
) -> FhirResponse:
    """Read the request, ask (or reuse) MemberData's answer, render it."""
    answer = await eligibility.check(claims, body, principal.actor(), client_id=principal.client_id)
    return FhirResponse(answer, status_code=200)


def install(app: FastAPI) -> None:
    """Include the router and declare the operation in the CapabilityStatement."""
    app.include_router(router)
    entry = app.state.capabilities.resource(eligibility.RESOURCE)
    entry.operations.append(("submit", SUBMIT_DEFINITION))
