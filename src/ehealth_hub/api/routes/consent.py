"""``/fhir/Consent``: record, read, search and revoke per-consultation consents; ``$explain``.

FHIR R4 4.0.1 RESTful API: create (with conditional create ``If-None-Exist``), read with ETag,
search by ``patient``, revocation by ``PUT`` with ``status = inactive`` (``If-Match`` honoured) or
``DELETE``. Every change and every read is audited in the same transaction; a revocation drops the
gate's cached decisions for the patient at once. ``$explain`` answers the decision the gate would
take now, as a Parameters resource: a practitioner asks about their own access only (the
practitioner of the token, with the quality of the token), an auditor (client kind ``auditor``
with ``system/Consent.rs``) about anyone; anybody else is refused 403 (the answer names the
patient's exclusions, national consent, links and consents). Each answer is audited
(``explain``) with the asking client.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request

from ehealth_hub.api.auth import require_scope
from ehealth_hub.api.conventions import json_body, parse_named, patient_ssin_param, searchset
from ehealth_hub.api.deps import ContainerDep
from ehealth_hub.api.door import FHIR_ID
from ehealth_hub.api.responses import FhirResponse
from ehealth_hub.audit.events import AuditRecord
from ehealth_hub.auth import scopes
from ehealth_hub.auth.principal import Principal
from ehealth_hub.bootstrap import Container
from ehealth_hub.consent.model import AccessRequest, Decision
from ehealth_hub.consent.store import StoredConsent
from ehealth_hub.core.errors import AuthorizationError, ConfigurationError, InvalidInput, NotFound
from ehealth_hub.core.identifiers import Nihii
from ehealth_hub.core.ports import Actor
from ehealth_hub.fhir.profiles import BE_CONSENT, HUB_SYSTEM_BASE

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
    entry.interactions = ["create", "read", "update", "delete", "search-type"]
    entry.search_params = [("patient", "reference")]
    entry.operations = [("explain", EXPLAIN)]
    entry.conditional_create = True


def _now() -> datetime:
    return datetime.now(UTC)


def _audit(
    principal: Principal, action: str, patient: str | None, detail: dict[str, str]
) -> AuditRecord:
    return AuditRecord(
        id=str(uuid.uuid4()),
        recorded=_now(),
        action=action,
        outcome="success",
        patient_ssin=patient,
        actor_nihii=principal.practitioner_nihii,
        actor_quality=principal.quality,
        client_id=principal.client_id,
        detail=detail,
    )


def _own(principal: Principal) -> str | None:
    """A practitioner sees the consents given to them; a system client (auditor) sees all."""
    return None if principal.allows(scopes.CONSENT_READ_SYSTEM) else principal.practitioner_nihii


def _resource_response(stored: StoredConsent, status: int = 200) -> FhirResponse:
    headers = {"ETag": stored.etag, "Location": f"/fhir/Consent/{stored.consent.consent_id}"}
    headers["Last-Modified"] = str(stored.resource["meta"]["lastUpdated"])
    return FhirResponse(stored.resource, status_code=status, headers=headers)


@router.post("")
async def create_consent(
    request: Request,
    container: ContainerDep,
    principal: Writer,
    if_none_exist: Annotated[str | None, Header(alias="If-None-Exist")] = None,
) -> FhirResponse:
    """Record a per-consultation be-Consent for the acting practitioner."""
    resource = await json_body(request)
    actor = principal.actor()
    store = container.consent_store
    async with container.engine.begin() as conn:
        if if_none_exist:
            existing = await store.find(conn, _identifier_query(if_none_exist))
            if existing is not None:
                return _resource_response(existing)
        stored = await store.create(conn, resource, _now())
        if stored.consent.actor_nihii != actor.nihii:
            raise AuthorizationError(
                "a practitioner records consents for themself only (provision.actor PROV)",
                system="consent",
                code="consent-actor",
            )
        if stored.created:
            detail = {"consent": f"Consent/{stored.consent.consent_id}/_history/1"}
            await container.audit_log.record(
                conn, _audit(principal, "consent-create", stored.consent.patient_ssin, detail)
            )
    _invalidate(container, stored.consent.patient_ssin)
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


def _invalidate(container: Container, patient_ssin: str) -> None:
    if container.consent_gate is not None:
        container.consent_gate.revoked(patient_ssin)


@router.get("")
async def search_consents(
    container: ContainerDep,
    principal: Reader,
    patient: Annotated[str, Query(description="SSIN, or <ssin-system>|<ssin>")],
) -> FhirResponse:
    """The patient's consents as a searchset Bundle (audited)."""
    ssin = patient_ssin_param(patient)
    async with container.engine.begin() as conn:
        found = await container.consent_store.search(conn, ssin, actor_nihii=_own(principal))
        record = _audit(principal, "consent-read", ssin, {"count": str(len(found))})
        await container.audit_log.record(conn, record)
    bundle = searchset((f"Consent/{s.consent.consent_id}", s.resource) for s in found)
    return FhirResponse(bundle)


@router.get("/$explain")
async def explain(
    container: ContainerDep,
    principal: Reader,
    patient: Annotated[str, Query()],
    actor: Annotated[str, Query(description="NIHII of the care provider")],
    action: Annotated[str, Query(pattern="^(read-dossier|write-note|submit-claim)$")],
    quality: Annotated[str | None, Query()] = None,
    purpose: Annotated[str, Query(pattern="^(treatment|emergency)$")] = "treatment",
    recipient: Annotated[str | None, Query()] = None,
) -> FhirResponse:
    """The decision the gate would take now, with its reasons (audited, no Permit)."""
    gate = container.consent_gate
    if gate is None:
        raise ConfigurationError("the consent gate is not wired", system="consent")
    asked = Actor(parse_named(Nihii.person, actor, "actor").value, quality or "")
    if not quality and asked.nihii == principal.practitioner_nihii:
        asked = Actor(asked.nihii, principal.quality or "")
    if recipient is not None:
        recipient = parse_named(Nihii.person, recipient, "recipient").value
    _may_explain(principal, asked)
    request = AccessRequest(
        patient_ssin_param(patient),
        asked,
        action,  # type: ignore[arg-type]  # constrained by the Query pattern
        purpose,  # type: ignore[arg-type]  # idem
        recipient_nihii=recipient,
        client_id=principal.client_id,
    )
    decision_id, decision = await gate.explain(request)
    return FhirResponse(_parameters(decision_id, decision))


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


def _parameters(decision_id: str, decision: Decision) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"name": "decision", "valueCode": decision.effect},
        {"name": "decisionId", "valueString": decision_id},
    ]
    for reason in decision.reasons:
        parts.append(
            {
                "name": "reason",
                "part": [
                    {"name": "source", "valueCode": reason.source},
                    {"name": "code", "valueCode": reason.code},
                    {"name": "text", "valueString": reason.text},
                ],
            }
        )
    if decision.valid_until is not None:
        parts.append({"name": "validUntil", "valueDateTime": decision.valid_until.isoformat()})
    parts += [{"name": "restsOn", "valueString": ref} for ref in decision.rests_on]
    parts += [{"name": "obligation", "valueCode": ob} for ob in decision.obligations]
    parts += [{"name": "unavailable", "valueString": fault} for fault in decision.faults]
    return {"resourceType": "Parameters", "parameter": parts}


@router.get("/{consent_id}")
async def read_consent(
    consent_id: ConsentId, container: ContainerDep, principal: Reader
) -> FhirResponse:
    """One Consent, current version, with its ETag (audited)."""
    async with container.engine.begin() as conn:
        stored = await container.consent_store.get(conn, consent_id)
        if _own(principal) not in (None, stored.consent.actor_nihii):
            raise NotFound(f"no Consent {consent_id}", system="consent", operation="read")
        record = _audit(principal, "consent-read", stored.consent.patient_ssin, {"id": consent_id})
        await container.audit_log.record(conn, record)
    return _resource_response(stored)


@router.put("/{consent_id}")
async def update_consent(
    consent_id: ConsentId,
    request: Request,
    container: ContainerDep,
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
    return await _revoke(container, principal, consent_id, _version(if_match))


@router.delete("/{consent_id}")
async def delete_consent(
    consent_id: ConsentId, container: ContainerDep, principal: Revoker
) -> FhirResponse:
    """Revocation by delete: the Consent stays on record with status inactive."""
    return await _revoke(container, principal, consent_id, None)


def _version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    digits = if_match.removeprefix("W/").strip('"')
    if not digits.isdigit():
        raise InvalidInput('If-Match must be W/"<versionId>"', field="If-Match", rule="etag")
    return int(digits)


async def _revoke(
    container: Container, principal: Principal, consent_id: str, version: int | None
) -> FhirResponse:
    actor = principal.actor()
    async with container.engine.begin() as conn:
        current = await container.consent_store.get(conn, consent_id)
        if current.consent.actor_nihii != actor.nihii:
            raise AuthorizationError(
                "only the care provider the consent was given to may revoke it here",
                system="consent",
                code="consent-actor",
            )
        stored = await container.consent_store.set_status(
            conn, consent_id, "inactive", _now(), if_match=version
        )
        detail = {"consent": f"Consent/{consent_id}/_history/{stored.consent.version}"}
        await container.audit_log.record(
            conn, _audit(principal, "consent-revoke", stored.consent.patient_ssin, detail)
        )
    _invalidate(container, stored.consent.patient_ssin)
    return _resource_response(stored)
