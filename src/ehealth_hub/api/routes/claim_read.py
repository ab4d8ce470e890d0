"""``GET /fhir/Claim/{id}`` and ``GET /fhir/ClaimResponse/{id}``: the teleconsultation claims
``Claim/$submit`` stored, and the mutuality's answers (journey 3).

A claim's id is its outbound message id (the ClaimResponse's id too); the app's own claim id is
kept as an identifier (:mod:`ehealth_hub.services.claim_reads`). Needs ``user/Claim.r`` /
``user/ClaimResponse.r`` (the acting practitioner's claims) or ``system/Claim.r`` /
``system/ClaimResponse.r`` (a mutuality: the claims addressed to its federations). Any other
claim, or a ClaimResponse not known yet, is answered 404. Every read is audited (``claim-read``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path

from ehealth_hub.api.auth import require_scope
from ehealth_hub.api.deps import ClaimReader
from ehealth_hub.api.door import FHIR_ID
from ehealth_hub.api.responses import FhirResponse
from ehealth_hub.auth import scopes
from ehealth_hub.auth.principal import Principal

router = APIRouter(tags=["claims"])
ClaimId = Annotated[str, Path(pattern=FHIR_ID.pattern, description="FHIR id")]
ClaimReaderScope = Annotated[
    Principal, Depends(require_scope(scopes.CLAIM_READ, scopes.CLAIM_READ_SYSTEM))
]
ResponseReaderScope = Annotated[
    Principal,
    Depends(require_scope(scopes.CLAIM_RESPONSE_READ, scopes.CLAIM_RESPONSE_READ_SYSTEM)),
]


@router.get("/fhir/Claim/{claim_id}", response_class=FhirResponse, summary="A submitted claim")
async def read_claim(
    claim_id: ClaimId, claims: ClaimReader, principal: ClaimReaderScope
) -> FhirResponse:
    """The Claim as the app submitted it (404 outside the caller's compartment); audited."""
    return FhirResponse(await claims.read("Claim", claim_id, principal))


@router.get(
    "/fhir/ClaimResponse/{claim_id}",
    response_class=FhirResponse,
    summary="The mutuality's answer to a claim",
)
async def read_claim_response(
    claim_id: ClaimId, claims: ClaimReader, principal: ResponseReaderScope
) -> FhirResponse:
    """The ClaimResponse (404 until the mutuality answered, or outside the compartment)."""
    return FhirResponse(await claims.read("ClaimResponse", claim_id, principal))


def install(app: FastAPI) -> None:
    """Include the router and declare it in the CapabilityStatement."""
    app.include_router(router)
    app.state.capabilities.resource("Claim").interactions.append("read")
    app.state.capabilities.resource("ClaimResponse").interactions.append("read")
