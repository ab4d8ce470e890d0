"""``/fhir/Consent``: record, read, search and revoke per-consultation consents; ``$explain``.

FHIR R4 4.0.1 RESTful API: create (conditional with ``If-None-Exist``: one match answered 200,
several 412; ``Idempotency-Key`` honoured), read with ``ETag``/``Last-Modified`` (conditional
reads: :mod:`ehealth_hub.api.conditional`), search by ``patient``, revocation by ``PUT`` with
``status = inactive`` or ``DELETE`` (both honour ``If-Match``: a stale version is 412). Every
change and every read is audited in the same transaction; a revocation drops the gate's cached
decisions for the patient at once (:mod:`ehealth_hub.services.consents`).
``$explain`` answers the decision the gate would take now, as a Parameters resource: a
practitioner asks about their own access only (the practitioner of the token, with the quality of
the token), an auditor (client kind ``auditor``
with ``system/Consent.rs``) about anyone; anybody else is refused 403 (the answer names the
patient's exclusions, national consent, links and consents). Each answer is audited
(``explain``) with the asking client.
"""

from __future__ import annotations

from typing import Annotated, Final
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request

from ehealth_hub.api.auth import require_scope
from ehealth_hub.api.conventions import json_body, nihii_param, patient_ssin_param
from ehealth_hub.api.deps import Consents
from ehealth_hub.api.door import FHIR_ID
from ehealth_hub.api.idempotency import IdempotentRoute
from ehealth_hub.api.responses import FhirResponse, version_headers
from ehealth_hub.api.search import Param, SearchQuery, SearchSpec, searchset
from ehealth_hub.auth import scopes
from ehealth_hub.auth.principal import Principal
from ehealth_hub.core.errors import AuthorizationError, InvalidInput, RuleViolation
from ehealth_hub.core.ports import Actor
from ehealth_hub.core.search import mapped
from ehealth_hub.fhir.profiles import BE_CONSENT, HUB_SYSTEM_BASE
from ehealth_hub.services.consents import ConsentFilter, ConsentView, IfNoneExist

router = APIRouter(prefix="/fhir/Consent", tags=["Consent"], route_class=IdempotentRoute)

Writer = Annotated[Principal, Depends(require_scope(scopes.CONSENT_WRITE))]
Revoker = Annotated[Principal, Depends(require_scope(scopes.CONSENT_REVOKE, "user/Consent.u"))]
Reader = Annotated[
    Principal, Depends(require_scope(scopes.CONSENT_READ, scopes.CONSENT_READ_SYSTEM))
]
EXPLAIN = f"{HUB_SYSTEM_BASE}/OperationDefinition/Consent-explain"
ConsentId = Annotated[str, Path(pattern=FHIR_ID.pattern, description="FHIR id")]
IfMatch = Annotated[
    str | None, Header(alias="If-Match", description='W/"<versionId>" of the version you hold')
]


def install(app: FastAPI) -> None:
    """Include the router and declare what it offers in the CapabilityStatement."""
    app.include_router(router)
    entry = app.state.capabilities.resource("Consent", profile=BE_CONSENT)
    entry.interactions = ["create", "read", "update", "delete"]
    entry.versioned_read(versioned_update=True)  # If-Match on PUT and DELETE
    CONSENT_SEARCH.declare(entry)
    entry.operations = [("explain", EXPLAIN)]
    entry.conditional_create = True


def _resource_response(stored: ConsentView, status: int = 200) -> FhirResponse:
    headers = {**version_headers(stored.resource), "Location": f"/fhir/Consent/{stored.consent_id}"}
    return FhirResponse(stored.resource, status_code=status, headers=headers)


@router.post("")
async def create_consent(
    request: Request,
    consents: Consents,
    principal: Writer,
    if_none_exist: Annotated[
        str | None,
        Header(alias="If-None-Exist", description="identifier=<system>|<value>&patient=<SSIN>"),
    ] = None,
) -> FhirResponse:
    """Record a per-consultation be-Consent for the acting practitioner (201); conditional with
    ``If-None-Exist``: the one match is answered (200), more than one is 412."""
    resource = await json_body(request)
    criteria = _if_none_exist(_condition(request, if_none_exist))
    stored = await consents.create(principal, resource, if_none_exist=criteria)
    return _resource_response(stored, 201 if stored.created else 200)


def _condition(request: Request, header: str | None) -> str | None:
    """The conditional-create criteria: the ``If-None-Exist`` header, or the same search in the
    query of the POST (the form fhirpy's ``get_or_create`` sends); not both."""
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "_format"])
    if query and header is not None:
        raise InvalidInput(
            "give the conditional-create criteria once: If-None-Exist or the query, not both",
            field="If-None-Exist",
            rule="conditional-create",
        )
    return header if header is not None else query or None


def _if_none_exist(header: str | None) -> IfNoneExist | None:
    """The search criteria of ``If-None-Exist`` (FHIR R4 http.html#ccreate): ``identifier``
    (``system|value``) and/or ``patient``; anything else is refused, not ignored."""
    if header is None:
        return None
    try:
        pairs = parse_qsl(header.strip().removeprefix("?"), strict_parsing=True)
    except ValueError:
        pairs = []
    found = dict(pairs)
    if not pairs or len(found) != len(pairs) or set(found) - {"identifier", "patient"}:
        raise InvalidInput(
            "If-None-Exist supports identifier=<system>|<value> and patient=<SSIN>, once each",
            field="If-None-Exist",
            rule="conditional-create",
        )
    identifier = found.get("identifier")
    if identifier is not None and "|" not in identifier:
        raise InvalidInput(
            "If-None-Exist identifier must be <system>|<value>",
            field="If-None-Exist",
            rule="conditional-create",
        )
    patient = found.get("patient")
    return IfNoneExist(identifier, patient_ssin_param(patient) if patient else None)


CONSENT_SEARCH: Final = SearchSpec(
    "Consent",
    params=(
        Param("patient", "reference", "the patient's SSIN, or <ssin-system>|<ssin>", required=True),
        Param("status", "token", "draft, proposed, active, rejected, inactive, entered-in-error"),
        Param("period", "date", "Consent.provision.period; repeat for a range", repeats=True),
        Param("_lastUpdated", "date", "last change; repeat for a range (ge..&lt..)", repeats=True),
        Param("date", "date", "Consent.dateTime, when it was given; repeat for a range", True),
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
        date=query.dates("date"),
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
    actor: Annotated[str, Query(description="NIHII of the care provider (<nihii-system>|<nihii>)")],
    action: Annotated[str, Query(pattern="^(read-dossier|write-note|submit-claim)$")],
    quality: Annotated[str | None, Query()] = None,
    purpose: Annotated[str, Query(pattern="^(treatment|emergency)$")] = "treatment",
    recipient: Annotated[str | None, Query(description="NIHII of the note's recipient")] = None,
) -> FhirResponse:
    """The decision the gate would take now, with its reasons (audited, no Permit)."""
    asked = Actor(nihii_param(actor, "actor"), quality or "")
    if not quality and asked.nihii == principal.practitioner_nihii:
        asked = Actor(asked.nihii, principal.quality or "")
    if recipient is not None:
        recipient = nihii_param(recipient, "recipient")
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
    if_match: IfMatch = None,
) -> FhirResponse:
    """Revocation by update: only ``status`` may change, and only to ``inactive``; a stale
    ``If-Match`` is 412."""
    body = await json_body(request)
    if body.get("status") != "inactive":
        raise RuleViolation(
            "an update may only revoke a consent: status must be inactive",
            field="Consent.status",
            rule="revocation-only",
        )
    stored = await consents.revoke(principal, consent_id, version=_version(if_match))
    return _resource_response(stored)


@router.delete("/{consent_id}")
async def delete_consent(
    consent_id: ConsentId, consents: Consents, principal: Revoker, if_match: IfMatch = None
) -> FhirResponse:
    """Revocation by delete: the Consent stays on record with status inactive; a stale
    ``If-Match`` is 412 and revokes nothing."""
    return _resource_response(
        await consents.revoke(principal, consent_id, version=_version(if_match))
    )


def _version(if_match: str | None) -> int | None:
    """The version ``If-Match`` holds (``W/"<n>"`` or ``"<n>"``); None for none or ``*``."""
    if if_match is None or if_match.strip() == "*":
        return None
    digits = if_match.strip().removeprefix("W/").strip('"')
    if not digits.isdigit():
        raise InvalidInput('If-Match must be W/"<versionId>"', field="If-Match", rule="etag")
    return int(digits)
