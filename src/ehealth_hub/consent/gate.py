"""The consent gate: gathers the facts, applies the policy, audits, and issues Permits.

Facts come concurrently from the eHealth Consent v2 and Therapeutic Link v2 services, the regional
hubs' exclusions (IntraHub v3) and the hub's own consent store; each source has a timeout, and a
source that fails or times out becomes :class:`~ehealth_hub.consent.model.Unavailable`, which the
policy treats as a denial (fail closed) unless break-the-glass applies. A denial that rests only
on such sources is an outage, not a refusal: it raises
:class:`~ehealth_hub.core.errors.ConsentUnavailable` (retryable; 503 at the API, retried by the
delivery workers); any other denial raises ConsentDenied. Every decision is written to the audit
trail: a denial in its own transaction, committed before the error is raised; a permit in the
caller's transaction when one is passed (so it commits with the access it allows).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ehealth_hub.audit.events import AuditRecord
from ehealth_hub.audit.log import AuditLog
from ehealth_hub.consent.cache import DecisionCache
from ehealth_hub.consent.model import (
    AccessRequest,
    ConsultationConsent,
    Decision,
    Facts,
    Source,
    Unavailable,
)
from ehealth_hub.consent.policy import decide
from ehealth_hub.consent.store import ConsentStore
from ehealth_hub.core import permit as permits
from ehealth_hub.core.errors import ConsentDenied, ConsentUnavailable, HubError
from ehealth_hub.core.identifiers import mask_ssin
from ehealth_hub.core.ports import ConsentPort, ExclusionPort, TherapeuticLinkPort
from ehealth_hub.settings import ConsentSettings

log = structlog.get_logger(__name__)
T = TypeVar("T")


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class ConsentGate:
    """The only issuer of Permits."""

    def __init__(
        self,
        *,
        consent: ConsentPort,
        links: TherapeuticLinkPort,
        exclusions: ExclusionPort,
        engine: AsyncEngine,
        config: ConsentSettings,
        store: ConsentStore | None = None,
        audit: AuditLog | None = None,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._consent = consent
        self._links = links
        self._exclusions = exclusions
        self._engine = engine
        self._config = config
        self._store = store or ConsentStore()
        self._audit = audit or AuditLog()
        self._clock = clock
        self._new_id = new_id
        self.cache = DecisionCache(timedelta(seconds=config.cache_staleness_seconds))

    async def decide(self, request: AccessRequest) -> Decision:
        """The decision for ``request`` now (cached permits reused within their bound)."""
        now = self._clock()
        if not request.break_the_glass:
            cached = self.cache.get(request, now)
            if cached is not None:
                return self._refreshed(cached, now)
        generation = self.cache.generation(request.patient_ssin)
        decision = decide(request, await self.gather(request), self._config, now)
        self.cache.put(request, decision, now, generation)
        return decision

    def _refreshed(self, decision: Decision, now: datetime) -> Decision:
        lifetime = now + timedelta(seconds=self._config.permit_validity_seconds)
        bound = decision.rests_until or lifetime
        return replace(decision, valid_until=min(lifetime, bound))

    async def authorize(
        self, request: AccessRequest, conn: AsyncConnection | None = None
    ) -> permits.Permit:
        """A Permit for ``request``; ConsentDenied with the reasons (ConsentUnavailable when only
        unreachable sources denied); audited either way."""
        decision = await self.decide(request)
        decision_id = self._new_id()
        record = self._record(request, decision, decision_id)
        if decision.permitted and conn is not None:
            await self._audit.record(conn, record)
        else:
            await self._audit.append(self._engine, record)
        if decision.break_the_glass and decision.permitted:
            log.warning("break_the_glass", decision_id=decision_id, actor=request.actor.nihii)
        if decision.unavailable:
            raise ConsentUnavailable(
                f"the consent gate cannot decide {request.action} now: a source is unavailable",
                system="consent",
                operation=request.action,
                reasons=[str(r) for r in decision.reasons],
                extra={"decision_id": decision_id, "effect": decision.effect},
            )
        if not decision.permitted or decision.valid_until is None:
            raise ConsentDenied(
                f"the consent gate refused {request.action} ({decision.effect})",
                system="consent",
                operation=request.action,
                reasons=[str(r) for r in decision.reasons],
                extra={"decision_id": decision_id, "effect": decision.effect},
            )
        return permits.mint(
            patient_ssin=request.patient_ssin,
            actor_nihii=request.actor.nihii,
            action=request.action,
            decision_id=decision_id,
            valid_until=decision.valid_until,
            data_classes=decision.data_classes,
            break_the_glass=decision.break_the_glass,
        )

    permit = authorize
    """The name the use cases know the gate by (:class:`ehealth_hub.services.gate.PermitGate`)."""

    async def explain(self, request: AccessRequest) -> tuple[str, Decision]:
        """The decision the gate would take now, fresh from the sources; audited, no Permit."""
        decision = decide(request, await self.gather(request), self._config, self._clock())
        decision_id = self._new_id()
        record = self._record(request, decision, decision_id, action="explain")
        await self._audit.append(self._engine, record)
        return decision_id, decision

    def revoked(self, patient_ssin: str) -> None:
        """A consent of ``patient_ssin`` changed through the hub: forget cached decisions now."""
        dropped = self.cache.invalidate_patient(patient_ssin)
        log.info("consent_cache_invalidated", patient=mask_ssin(patient_ssin), dropped=dropped)

    async def gather(self, request: AccessRequest) -> Facts:
        """The facts for ``request``, fetched concurrently; failures become Unavailable."""
        patient, actor = request.patient_ssin, request.actor
        national, links, exclusions, local = await asyncio.gather(
            self._fetch("national-consent", self._consent.get_consent(patient, actor)),
            self._fetch("therapeutic-link", self._links.get_links(patient, actor)),
            self._fetch("exclusion", self._exclusions.get_exclusions(patient, actor)),
            self._fetch("consultation-consent", self._local(patient, actor.nihii)),
        )
        return Facts(
            national_consent=national,
            links=links if isinstance(links, Unavailable) else tuple(links),
            exclusions=exclusions if isinstance(exclusions, Unavailable) else tuple(exclusions),
            consultation_consents=local,
        )

    async def _local(self, patient: str, actor_nihii: str) -> tuple[ConsultationConsent, ...]:
        async with self._engine.connect() as conn:
            return await self._store.consultation_consents(conn, patient, actor_nihii)

    async def _fetch(self, source: Source, call: Awaitable[T]) -> T | Unavailable:
        try:
            return await asyncio.wait_for(call, self._config.source_timeout_seconds)
        except TimeoutError:
            detail = f"no answer within {self._config.source_timeout_seconds:g} s"
        except HubError as exc:
            detail = f"{type(exc).__name__}: {exc.detail}"
        log.warning("consent_source_unavailable", source=source, detail=detail)
        return Unavailable(source, detail)

    def _record(
        self, request: AccessRequest, decision: Decision, decision_id: str, action: str = "decision"
    ) -> AuditRecord:
        detail: dict[str, str] = {"requested-action": request.action}
        if request.data_classes:
            detail["data-classes"] = ",".join(request.data_classes)
        if decision.rests_on:
            detail["rests-on"] = " ".join(decision.rests_on)
        if decision.valid_until is not None:
            detail["valid-until"] = decision.valid_until.isoformat()
        if request.justification and request.break_the_glass:
            detail["justification"] = request.justification
        if decision.faults:
            detail["unavailable"] = "; ".join(decision.faults)
        return AuditRecord(
            id=decision_id,
            recorded=self._clock(),
            action=action,
            outcome=decision.effect,
            patient_ssin=request.patient_ssin,
            actor_nihii=request.actor.nihii,
            actor_quality=request.actor.quality,
            client_id=request.client_id or None,
            decision_id=decision_id,
            purpose=request.purpose,
            reasons=tuple(str(r) for r in decision.reasons),
            break_the_glass=request.break_the_glass,
            detail=detail,
        )
