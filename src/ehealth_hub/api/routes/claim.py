"""``POST /fhir/Claim/$submit``: bill a teleconsultation to the patient's mutuality (journey 3).

The body is the app's Claim (one item: 101673, 101695 or 101710, servicedDate, net fee; the SSIN
of the patient, the NIHII of the acting practitioner as provider), or a Parameters resource whose
``resource`` parameter holds it. Needs ``user/Claim.c``. Answers ``200`` with the ClaimResponse when
the mutuality answered within ``mycarenet.wait_seconds``, else ``202 Accepted`` with the Task that
follows the delivery (``Location: /fhir/Task/{id}``). Submitting the same claim again (same claim
id from the same practitioner) never bills twice; ``Idempotency-Key`` makes a retried request safe.
Refusals before anything is sent (422 with an OperationOutcome naming the rule): the code is not
reimbursable on the date, the patient is not insured on the date, the mutuality is closed, eAttest
is asked for an eFact-only code, no declared treatment relationship holds, or the medical house's
own doctor bills (services/billing_check.py); 503 when MyCareNet cannot verify a declared GMD.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, FastAPI

from ehealth_hub.api.auth import require_scope
from ehealth_hub.api.conventions import json_body
from ehealth_hub.api.deps import Claims, SettingsDep, Wake
from ehealth_hub.api.idempotency import IdempotentRoute
from ehealth_hub.api.responses import FhirResponse, version_headers
from ehealth_hub.auth.principal import Principal
from ehealth_hub.auth.scopes import CLAIM_SUBMIT
from ehealth_hub.core.errors import RuleViolation
from ehealth_hub.fhir.profiles import BE_EATTESTATION_CLAIM
from ehealth_hub.services.tasks import TaskView

router = APIRouter(tags=["claims"], route_class=IdempotentRoute)

SUBMIT_DEFINITION: Final = "http://hl7.org/fhir/OperationDefinition/Claim-submit"
_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/fhir+json": {
                "schema": {
                    "type": "object",
                    "required": ["resourceType"],
                    "properties": {
                        "resourceType": {"type": "string", "enum": ["Claim", "Parameters"]}
                    },
                }
            }
        },
    },
    "responses": {
        "200": {"description": "the ClaimResponse of the patient's mutuality"},
        "202": {"description": "accepted: the Task following the delivery"},
    },
}


def claim_of(body: dict[str, Any]) -> dict[str, Any]:
    """The Claim in the request body (directly, or as Parameters.parameter[resource])."""
    if body.get("resourceType") == "Parameters":
        parameters = body.get("parameter")
        for parameter in parameters if isinstance(parameters, list) else []:
            if not isinstance(parameter, dict):  # schemathesis' stateful phase found the 500
                break
            if parameter.get("name") == "resource" and isinstance(parameter.get("resource"), dict):
                return dict(parameter["resource"])
        raise RuleViolation(
            "Parameters must hold the Claim as parameter 'resource'",
            field="Parameters.parameter",
            rule="claim.parameters",
        )
    return body


@router.post(
    "/fhir/Claim/$submit",
    response_class=FhirResponse,
    summary="Bill a teleconsultation (ClaimResponse, or 202 + Task)",
    openapi_extra=_BODY,
)
async def submit_claim(
    claims: Claims,
    wake: Wake,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(require_scope(CLAIM_SUBMIT))],
    body: Annotated[dict[str, Any], Depends(json_body)],
) -> FhirResponse:
    """Insurability, routing, outbox; then wait a little for the mutuality's answer."""
    submission = await claims.submit(
        claim_of(body), principal.actor(), client_id=principal.client_id
    )
    if submission.claim_response is None:
        wake()
    submission = await claims.wait(submission, settings.mycarenet.wait_seconds)
    if submission.claim_response is not None:
        return FhirResponse(submission.claim_response, status_code=200)
    item = submission.item
    if item is None:  # only answered submissions may have lost their delivery row
        raise AssertionError("an unanswered claim always has its delivery")
    task = TaskView.of(item)
    headers = {
        "Location": f"/fhir/Task/{item.id}",
        "Content-Location": f"/fhir/Task/{item.id}",
        **version_headers(task.resource),
    }
    return FhirResponse(task.resource, status_code=202, headers=headers)


def install(app: FastAPI) -> None:
    """Include the router and declare the operation in the CapabilityStatement."""
    app.include_router(router)
    entry = app.state.capabilities.resource("Claim", profile=BE_EATTESTATION_CLAIM)
    entry.operations.append(("submit", SUBMIT_DEFINITION))
