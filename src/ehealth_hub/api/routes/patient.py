"""``GET``/``POST /fhir/Patient/$summary``: the patient's records as one FHIR document Bundle
(journey 1).

``identifier=<ssin system>|<ssin>`` names the patient (the HL7-BE SSIN naming system is the only
one accepted). Needs ``user/Patient.r`` and an acting practitioner; answers 403 with the gate's
reasons when consent does not hold. Break-the-glass: ``purpose=emergency`` with a
``justification`` (the gate decides and flags the access for review). ``POST`` takes the same
parameters in a Parameters body (FHIR operations.html#request: the patient as ``identifier`` or
``patient``, valueIdentifier or valueString ``system|value``) and answers the same Bundle.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query

from ehealth_hub.api.auth import require_scope
from ehealth_hub.api.conventions import identifier_param, json_body
from ehealth_hub.api.deps import Records
from ehealth_hub.api.idempotency import IdempotentRoute
from ehealth_hub.api.responses import FhirResponse
from ehealth_hub.api.summary_parameters import SummaryRequest, summary_request
from ehealth_hub.auth.principal import Principal
from ehealth_hub.auth.scopes import SUMMARY_READ
from ehealth_hub.core.errors import InvalidInput
from ehealth_hub.core.identifiers import Ssin
from ehealth_hub.fhir.profiles import BE_PATIENT, SSIN_SYSTEM

router = APIRouter(tags=["records"], route_class=IdempotentRoute)
SUMMARY_DEFINITION = "http://hl7.org/fhir/uv/ips/OperationDefinition/summary"


def parse_ssin_identifier(value: str) -> str:
    """The SSIN of a ``system|value`` token; InvalidInput naming ``identifier`` otherwise. The
    system is required here: a bare ``identifier`` token matches any system in FHIR search."""
    if "|" not in value:
        raise InvalidInput(
            f"identifier must be {SSIN_SYSTEM}|<11-digit SSIN>",
            field="identifier",
            rule="identifier.ssin-system",
            system="api",
        )
    return identifier_param(
        value, SSIN_SYSTEM, Ssin.parse, "identifier", "identifier.ssin-system"
    ).value


@router.get(
    "/fhir/Patient/$summary",
    response_class=FhirResponse,
    summary="The patient's records as one FHIR document Bundle (consent-gated)",
    responses={403: {"description": "consent does not hold (OperationOutcome with the reasons)"}},
)
async def patient_summary(
    records: Records,
    principal: Annotated[Principal, Depends(require_scope(SUMMARY_READ))],
    identifier: Annotated[str, Query(description=f"{SSIN_SYSTEM}|<SSIN>", max_length=200)],
    purpose: Annotated[Literal["treatment", "emergency"], Query()] = "treatment",
    justification: Annotated[str | None, Query(max_length=200)] = None,
) -> FhirResponse:
    """Consent gate, then every record source in parallel, then one document Bundle."""
    asked = SummaryRequest(parse_ssin_identifier(identifier), purpose, justification)
    return await _summary(records, principal, asked)


@router.post(
    "/fhir/Patient/$summary",
    response_class=FhirResponse,
    summary="The patient's records as one FHIR document Bundle (Parameters body; consent-gated)",
    responses={403: {"description": "consent does not hold (OperationOutcome with the reasons)"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/fhir+json": {"schema": {"type": "object"}}},
        }
    },
)
async def patient_summary_post(
    records: Records,
    principal: Annotated[Principal, Depends(require_scope(SUMMARY_READ))],
    body: Annotated[dict[str, Any], Depends(json_body)],
) -> FhirResponse:
    """The same operation as GET, its parameters in a Parameters resource."""
    return await _summary(records, principal, summary_request(body, parse_ssin_identifier))


async def _summary(records: Records, principal: Principal, asked: SummaryRequest) -> FhirResponse:
    bundle = await records.summary(
        asked.ssin,
        principal.actor(),
        client_id=principal.client_id,
        purpose=asked.purpose,
        justification=asked.justification,
    )
    return FhirResponse(bundle)


def install(app: FastAPI) -> None:
    """Include the router and declare it in the CapabilityStatement."""
    app.include_router(router)
    entry = app.state.capabilities.resource("Patient", profile=BE_PATIENT)
    entry.operations.append(("summary", SUMMARY_DEFINITION))
