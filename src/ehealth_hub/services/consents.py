"""Per-consultation consents through the hub, and ``$explain``: the use cases behind
``/fhir/Consent`` (the route only speaks HTTP).

Every change and every read is audited in the same transaction as the store's work; a creation
or a revocation drops the consent gate's cached decisions for the patient at once. A practitioner
records and revokes the consents given to them only, and reads only those (a system client,
``system/Consent.rs``, reads all). ``explain`` answers the decision the gate would take now, as a
FHIR Parameters resource (the gate audits it; no Permit is issued).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit.events import AuditRecord
from ehealth_hub.audit.log import AuditLog
from ehealth_hub.auth import scopes
from ehealth_hub.auth.principal import Principal
from ehealth_hub.consent.gate import ConsentGate
from ehealth_hub.consent.model import AccessRequest, Decision, Purpose
from ehealth_hub.consent.store import ConsentFilter as ConsentFilter  # the api/ asks with it
from ehealth_hub.consent.store import ConsentStore, StoredConsent
from ehealth_hub.core.errors import AuthorizationError, NotFound
from ehealth_hub.core.permit import Action
from ehealth_hub.core.ports import Actor
from ehealth_hub.core.search import Page, PageRequest, mapped


@dataclass(frozen=True, slots=True)
class ConsentView:
    """One Consent version as served: the resource, its ETag, id and whether it was created."""

    resource: dict[str, Any]
    etag: str
    consent_id: str
    created: bool = False

    @classmethod
    def of(cls, stored: StoredConsent) -> ConsentView:
        return cls(stored.resource, stored.etag, stored.consent.consent_id, stored.created)


class ConsentRecords:
    """Record, read, search and revoke consents; explain the gate's decision."""

    def __init__(
        self, engine: AsyncEngine, store: ConsentStore, audit: AuditLog, gate: ConsentGate
    ) -> None:
        self.engine, self.store, self.audit, self.gate = engine, store, audit, gate

    async def create(
        self, principal: Principal, resource: dict[str, Any], *, identifier: str | None = None
    ) -> ConsentView:
        """Store a be-Consent given to the acting practitioner (conditional on ``identifier``,
        ``system|value``: the existing one is answered instead)."""
        actor = principal.actor()
        async with self.engine.begin() as conn:
            if identifier is not None:
                existing = await self.store.find(conn, identifier)
                if existing is not None:
                    return ConsentView.of(existing)
            stored = await self.store.create(conn, resource, _now())
            if stored.consent.actor_nihii != actor.nihii:
                raise AuthorizationError(
                    "a practitioner records consents for themself only (provision.actor PROV)",
                    system="consent",
                    code="consent-actor",
                )
            if stored.created:
                detail = {"consent": f"Consent/{stored.consent.consent_id}/_history/1"}
                record = _audit(principal, "consent-create", stored.consent.patient_ssin, detail)
                await self.audit.record(conn, record)
        self.gate.revoked(stored.consent.patient_ssin)
        return ConsentView.of(stored)

    async def search(
        self, principal: Principal, patient_ssin: str, filters: ConsentFilter, page: PageRequest
    ) -> Page[ConsentView]:
        """One page of the patient's consents the caller may see, matching ``filters``
        (audited: how many were shown, of how many)."""
        async with self.engine.begin() as conn:
            found = await self.store.page(
                conn, patient_ssin, filters, page, actor_nihii=_own(principal)
            )
            detail = {"count": str(len(found.items)), "total": str(found.total)}
            await self.audit.record(conn, _audit(principal, "consent-read", patient_ssin, detail))
        return mapped(found, [ConsentView.of(s) for s in found.items])

    async def read(self, principal: Principal, consent_id: str) -> ConsentView:
        """One Consent, current version (audited); NotFound when the caller may not see it."""
        async with self.engine.begin() as conn:
            stored = await self.store.get(conn, consent_id)
            if _own(principal) not in (None, stored.consent.actor_nihii):
                raise NotFound(f"no Consent {consent_id}", system="consent", operation="read")
            ssin = stored.consent.patient_ssin
            record = _audit(principal, "consent-read", ssin, {"id": consent_id})
            await self.audit.record(conn, record)
        return ConsentView.of(stored)

    async def revoke(
        self, principal: Principal, consent_id: str, *, version: int | None = None
    ) -> ConsentView:
        """Set the Consent inactive (``version``: If-Match); only its practitioner may."""
        actor = principal.actor()
        async with self.engine.begin() as conn:
            current = await self.store.get(conn, consent_id)
            if current.consent.actor_nihii != actor.nihii:
                raise AuthorizationError(
                    "only the care provider the consent was given to may revoke it here",
                    system="consent",
                    code="consent-actor",
                )
            stored = await self.store.set_status(
                conn, consent_id, "inactive", _now(), if_match=version
            )
            detail = {"consent": f"Consent/{consent_id}/_history/{stored.consent.version}"}
            record = _audit(principal, "consent-revoke", stored.consent.patient_ssin, detail)
            await self.audit.record(conn, record)
        self.gate.revoked(stored.consent.patient_ssin)
        return ConsentView.of(stored)

    async def explain(
        self,
        principal: Principal,
        patient_ssin: str,
        asked: Actor,
        action: Action,
        purpose: Purpose,
        recipient_nihii: str | None,
    ) -> dict[str, Any]:
        """The gate's decision now, as a FHIR Parameters resource (audited by the gate)."""
        request = AccessRequest(
            patient_ssin,
            asked,
            action,
            purpose,
            recipient_nihii=recipient_nihii,
            client_id=principal.client_id,
        )
        decision_id, decision = await self.gate.explain(request)
        return parameters(decision_id, decision)


def _now() -> datetime:
    return datetime.now(UTC)


def _own(principal: Principal) -> str | None:
    """A practitioner sees the consents given to them; a system client (auditor) sees all."""
    return None if principal.allows(scopes.CONSENT_READ_SYSTEM) else principal.practitioner_nihii


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


def parameters(decision_id: str, decision: Decision) -> dict[str, Any]:
    """The ``$explain`` answer: the decision, its reasons and what it rests on."""
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
