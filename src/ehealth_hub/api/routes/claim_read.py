"""``GET /fhir/Claim/{id}`` and ``GET /fhir/ClaimResponse/{id}``: the teleconsultation claims
``Claim/$submit`` stored, and the mutuality's answers (journey 3).

A claim's id is its outbound message id (the ClaimResponse's id too); the app's own claim id is
kept as an identifier (:mod:`ehealth_hub.services.claim_reads`). Needs ``user/Claim.r`` /
``user/ClaimResponse.r`` (the acting practitioner's claims) or ``system/Claim.r`` /
``system/ClaimResponse.r`` (a mutuality: the claims addressed to its federations). Any other
claim, or a ClaimResponse not known yet, is answered 404. Every read is audited (``claim-read``)
and carries ``ETag``/``Last-Modified``, so ``If-None-Match``/``If-Modified-Since`` answer 304.
``GET /fhir/Claim?patient=`` and ``GET /fhir/ClaimResponse?patient=&request=`` search them (the
``.s`` scopes; :mod:`ehealth_hub.api.search`), newest first; ``request`` is the Claim
(``Claim/{id}``, its absolute URL, or the bare id).
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, FastAPI, Path, Request

from ehealth_hub.api.auth import require_scope
from ehealth_hub.api.conventions import patient_ssin_param
from ehealth_hub.api.deps import ClaimReader
from ehealth_hub.api.door import FHIR_ID
from ehealth_hub.api.responses import FhirResponse, version_headers
from ehealth_hub.api.search import Param, SearchQuery, SearchSpec, searchset
from ehealth_hub.api.search_values import refuse
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

ClaimSearcher = Annotated[
    Principal, Depends(require_scope(scopes.CLAIM_SEARCH, scopes.CLAIM_SEARCH_SYSTEM))
]
ResponseSearcher = Annotated[
    Principal,
    Depends(require_scope(scopes.CLAIM_RESPONSE_SEARCH, scopes.CLAIM_RESPONSE_SEARCH_SYSTEM)),
]
_PATIENT: Final = Param("patient", "reference", "the patient's SSIN, or <ssin-system>|<ssin>")
CLAIM_SEARCH_SPEC: Final = SearchSpec("Claim", params=(_PATIENT,))
RESPONSE_SEARCH_SPEC: Final = SearchSpec(
    "ClaimResponse",
    params=(_PATIENT, Param("request", "reference", "the claim: Claim/{id} (or its id)")),
)


def _patient(query: SearchQuery) -> str | None:
    value = query.value("patient")
    return patient_ssin_param(value) if value else None


def _claim_id(reference: str | None) -> str | None:
    """The id a ``request`` reference names (``Claim/{id}``, an absolute URL or a bare id)."""
    if reference is None:
        return None
    kind, _, claim_id = reference.rstrip("/").rpartition("/")
    if (kind and not kind.endswith("Claim")) or not FHIR_ID.match(claim_id):
        refuse("request", "request must reference a Claim: Claim/{id}", "search.request")
    return claim_id


@router.get(
    "/fhir/Claim",
    response_class=FhirResponse,
    summary="Search submitted claims",
    openapi_extra=CLAIM_SEARCH_SPEC.openapi(),
)
async def search_claims(
    request: Request,
    claims: ClaimReader,
    principal: ClaimSearcher,
    query: Annotated[SearchQuery, Depends(CLAIM_SEARCH_SPEC)],
) -> FhirResponse:
    """A searchset Bundle of the caller's claims, newest first; each one shown is audited."""
    page = await claims.search("Claim", principal, query.page, patient=_patient(query))
    return FhirResponse(searchset(request, query, page))


@router.get(
    "/fhir/ClaimResponse",
    response_class=FhirResponse,
    summary="Search the answers to claims",
    openapi_extra=RESPONSE_SEARCH_SPEC.openapi(),
)
async def search_claim_responses(
    request: Request,
    claims: ClaimReader,
    principal: ResponseSearcher,
    query: Annotated[SearchQuery, Depends(RESPONSE_SEARCH_SPEC)],
) -> FhirResponse:
    """A searchset Bundle of the answers to the caller's claims, newest first; audited."""
    page = await claims.search(
        "ClaimResponse",
        principal,
        query.page,
        patient=_patient(query),
        request=_claim_id(query.value("request")),
    )
    return FhirResponse(searchset(request, query, page))


@router.get("/fhir/Claim/{claim_id}", response_class=FhirResponse, summary="A submitted claim")
async def read_claim(
    claim_id: ClaimId, claims: ClaimReader, principal: ClaimReaderScope
) -> FhirResponse:
    """The Claim as the app submitted it (404 outside the caller's compartment); audited."""
    claim = await claims.read("Claim", claim_id, principal)
    return FhirResponse(claim, headers=version_headers(claim))


@router.get(
    "/fhir/ClaimResponse/{claim_id}",
    response_class=FhirResponse,
    summary="The mutuality's answer to a claim",
)
async def read_claim_response(
    claim_id: ClaimId, claims: ClaimReader, principal: ResponseReaderScope
) -> FhirResponse:
    """The ClaimResponse (404 until the mutuality answered, or outside the compartment)."""
    answer = await claims.read("ClaimResponse", claim_id, principal)
    return FhirResponse(answer, headers=version_headers(answer))


def install(app: FastAPI) -> None:
    """Include the router and declare it in the CapabilityStatement."""
    app.include_router(router)
    claim = app.state.capabilities.resource("Claim")
    claim.versioned_read()
    CLAIM_SEARCH_SPEC.declare(claim)
    response = app.state.capabilities.resource("ClaimResponse")
    response.versioned_read()
    RESPONSE_SEARCH_SPEC.declare(response)
