"""``/fhir/Consent``: record, read, search and revoke per-consultation consents; ``$explain``.

FHIR R4 4.0.1 RESTful API: create (with conditional create ``If-None-Exist``), read with ETag,
search by ``patient``, revocation by ``PUT`` with ``status = inactive`` (``If-Match`` honoured) or
``DELETE``. Every change and every read is audited in the same transaction; a revocation drops the
gate's cached decisions for the patient at once (:mod:`ehealth_hub.services.consents`).
``$explain`` answers the decision the gate would take now, as a Parameters resource: a
practitioner asks about their own access only (the practitioner of the token, with the quality of
the token), an auditor (client kind ``auditor``
with ``system/Consent.rs``) about anyone; anybody else is refused 403 (the answer names the
patient's exclusions, national consent, links and consents). Each answer is audited
(``explain``) with the asking client.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request

from ehealth_hub.api.auth import require_scope
from ehealth_hub.api.conventions import json_body, parse_named, patient_ssin_param
from ehealth_hub.api.deps import Consents
from ehealth_hub.api.door import FHIR_ID
from ehealth_hub.api.responses import FhirResponse
from ehealth_hub.api.search import Param, SearchQuery, SearchSpec, searchset
from ehealth_hub.auth import scopes
from ehealth_hub.auth.principal import Principal
from ehealth_hub.core.errors import AuthorizationError, InvalidInput
from ehealth_hub.core.identifiers import Nihii
from ehealth_hub.core.ports import Actor
from ehealth_hub.core.search import mapped
from ehealth_hub.fhir.profiles import BE_CONSENT, HUB_SYSTEM_BASE
from ehealth_hub.services.consents import ConsentFilter, ConsentView

router = APIRouter(prefix="/fhir/Consent", tags=["Consent"])

Writer = Annotated[Principal, Depends(require_scope(scopes.CONSENT_WRITE))]
Revoker = Annotated[Principal, Depends(require_scope(scopes.CONSENT_REVOKE, "user/Consent.u"))]
Reader = Annotated[
    Principal, Depends(require_scope(scopes.CONSENT_READ, scopes.CONSENT_READ_SYSTEM))
]
EXPLAIN = f"{HUB_SYSTEM_BASE}/OperationDefinition/Consent-explain"
ConsentId = Annotated[str, Path(pattern=FHIR_ID.pattern, description="FHIR id")]


def install(app: FastAPI) -> None:
    """Include the router and declare what it offers in the CapabilityStatement."""
    app.include_router(router)
    entry = app.state.capabilities.resource("Consent", profile=BE_CONSENT)
    entry.interactions = ["create", "read", "update", "delete"]
    CONSENT_SEARCH.declare(entry)
    entry.operations = [("explain", EXPLAIN)]
    entry.conditional_create = True


def _resource_response(stored: ConsentView, status: int = 200) -> FhirResponse:
    headers = {"ETag": stored.etag, "Location": f"/fhir/Consent/{stored.consent_id}"}
    headers["Last-Modified"] = str(stored.resource["meta"]["lastUpdated"])
    return FhirResponse(stored.resource, status_code=status, headers=headers)


@router.post("")
async def create_consent(
    request: Request,
    consents: Consents,
    principal: Writer,
    if_none_exist: Annotated[str | None, Header(alias="If-None-Exist")] = None,
) -> FhirResponse:
    """Record a per-consultation be-Consent for the acting practitioner."""
    resource = await json_body(request)
    identifier = _identifier_query(if_none_exist) if if_none_exist else None
    stored = await consents.create(principal, resource, identifier=identifier)
    return _resource_response(stored, 201 if stored.created else 200)


def _identifier_query(header: str) -> str:
    name, _, value = header.partition("=")
    if name.strip() != "identifier" or "|" not in value:
        raise InvalidInput(
            "If-None-Exist supports identifier=<system>|<value>",
            field="If-None-Exist",
            rule="conditional-create",
        )
    return value.strip()


CONSENT_SEARCH: Final = SearchSpec(
    "Consent",
    params=(
        Param("patient", "reference", "the patient's SSIN, or <ssin-system>|<ssin>", required=True),
        Param("status", "token", "draft, proposed, active, rejected, inactive, entered-in-error"),
        Param("period", "date", "Consent.provision.period; repeat for a range", repeats=True),
        Param("_lastUpdated", "date", "last change; repeat for a range (ge..&lt..)", repeats=True),
    ),
    sorts=("period", "_lastUpdated"),
    default_sort="-period",
)


@router.get("", openapi_extra=CONSENT_SEARCH.openapi())
async def search_consents(
    request: Request,
    consents: Consents,
    principal: Reader,
    query: Annotated[SearchQuery, Depends(CONSENT_SEARCH)],
) -> FhirResponse:
    """The patient's consents as a searchset Bundle, newest period first (audited)."""
    filters = ConsentFilter(
        statuses=query.codes("status"),
        period=query.dates("period"),
        last_updated=query.dates("_lastUpdated"),
    )
    patient = patient_ssin_param(query.value("patient") or "")
    found = await consents.search(principal, patient, filters, query.page)
    page = mapped(found, [view.resource for view in found.items])
    return FhirResponse(searchset(request, query, page))


@router.get("/$explain")
async def explain(
    consents: Consents,
    principal: Reader,
    patient: Annotated[str, Query()],
    actor: Annotated[str, Query(description="NIHII of the care provider")],
    action: Annotated[str, Query(pattern="^(read-dossier|write-note|submit-claim)$")],
    quality: Annotated[str | None, Query()] = None,
    purpose: Annotated[str, Query(pattern="^(treatment|emergency)$")] = "treatment",
    recipient: Annotated[str | None, Query()] = None,
) -> FhirResponse:
    """The decision the gate would take now, with its reasons (audited, no Permit)."""
    asked = Actor(parse_named(Nihii.person, actor, "actor").value, quality or "")
    if not quality and asked.nihii == principal.practitioner_nihii:
        asked = Actor(asked.nihii, principal.quality or "")
    if recipient is not None:
        recipient = parse_named(Nihii.person, recipient, "recipient").value
    _may_explain(principal, asked)
    answer = await consents.explain(
        principal,
        patient_ssin_param(patient),
        asked,
        action,  # type: ignore[arg-type]  # constrained by the Query pattern
        purpose,  # type: ignore[arg-type]  # idem
        recipient,
    )
    return FhirResponse(answer)


def _may_explain(principal: Principal, asked: Actor) -> None:
    """A practitioner's own access (as their token says), or an auditor's question; else 403."""
    if principal.kind == "auditor" and principal.allows(scopes.CONSENT_READ_SYSTEM):
        if not asked.quality:
            raise InvalidInput(
                "quality is required when explaining for another care provider",
                field="quality",
                rule="required",
            )
        return
    own = (principal.practitioner_nihii, principal.quality)
    if principal.practitioner_nihii is None or (asked.nihii, asked.quality) != own:
        raise AuthorizationError(
            "$explain answers about the asking practitioner's own access (actor and quality of "
            "the token), or for an auditor",
            system="consent",
            operation="explain",
            code="explain-own-access-only",
        )


@router.get("/{consent_id}")
async def read_consent(
    consent_id: ConsentId, consents: Consents, principal: Reader
) -> FhirResponse:
    """One Consent, current version, with its ETag (audited)."""
    return _resource_response(await consents.read(principal, consent_id))


@router.put("/{consent_id}")
async def update_consent(
    consent_id: ConsentId,
    request: Request,
    consents: Consents,
    principal: Revoker,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> FhirResponse:
    """Revocation by update: only ``status`` may change, and only to ``inactive``."""
    body = await json_body(request)
    if body.get("status") != "inactive":
        raise InvalidInput(
            "an update may only revoke a consent: status must be inactive",
            field="Consent.status",
            rule="revocation-only",
        )
    stored = await consents.revoke(principal, consent_id, version=_version(if_match))
    return _resource_response(stored)


@router.delete("/{consent_id}")
async def delete_consent(
    consent_id: ConsentId, consents: Consents, principal: Revoker
) -> FhirResponse:
    """Revocation by delete: the Consent stays on record with status inactive."""
    return _resource_response(await consents.revoke(principal, consent_id))


def _version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    digits = if_match.removeprefix("W/").strip('"')
    if not digits.isdigit():
        raise InvalidInput('If-Match must be W/"<versionId>"', field="If-Match", rule="etag")
    return int(digits)
