"""The console's audit and consent pages: search the trail, ``audit verify``, explain a decision.

Auditors search the trail and run ``audit verify`` (the result and the last signed head; the
outcome also sets the ``ehealth_hub_audit_verify_*`` gauges the alert rules watch). A consent
explanation is the gate's ``$explain`` (audited by the gate, no Permit); the patient's consents and
their history (the audit records of each creation and revocation) are read under an audit record.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit import search as audit_search
from ehealth_hub.audit.events import AuditRecord
from ehealth_hub.audit.heads import HeadSigner, SignedHead
from ehealth_hub.audit.log import AuditLog
from ehealth_hub.audit.search import AuditEntry, AuditQuery
from ehealth_hub.audit.verify import Report, verify
from ehealth_hub.consent.gate import ConsentGate
from ehealth_hub.consent.model import AccessRequest, Decision
from ehealth_hub.consent.store import ConsentStore, StoredConsent
from ehealth_hub.core.errors import AuthorizationError
from ehealth_hub.core.permit import Action
from ehealth_hub.core.ports import Actor
from ehealth_hub.services.operations_health import HealthMetrics
from ehealth_hub.services.operations_users import ConsoleUser
from ehealth_hub.settings import Settings

CONSENT_ACTIONS: Final = ("consent-create", "consent-revoke")


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What ``audit verify`` found, and the newest signed head."""

    report: Report
    last_head: SignedHead | None
    at: datetime


@dataclass(frozen=True, slots=True)
class PatientConsents:
    """A patient's consents recorded through the hub, and their history."""

    consents: list[StoredConsent]
    history: list[AuditEntry]


def _auditor(user: ConsoleUser) -> None:
    if not user.is_auditor:
        raise AuthorizationError(
            "the audit trail is open to auditors only", system="console", code="forbidden"
        )


def _record(user: ConsoleUser, action: str, patient: str | None, **detail: str) -> AuditRecord:
    return AuditRecord(
        id=str(uuid.uuid4()),
        recorded=datetime.now(UTC),
        action=action,
        outcome="success",
        patient_ssin=patient,
        client_id=user.client_id,
        detail={"user": user.username, "role": user.role, **detail},
    )


class AuditOperations:
    """Audit trail and consent views for console users."""

    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        audit: AuditLog,
        gate: ConsentGate,
        consents: ConsentStore,
        metrics: HealthMetrics,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.audit = audit
        self.gate = gate
        self.consents = consents
        self.metrics = metrics

    async def search(
        self, user: ConsoleUser, query: AuditQuery, limit: int = 100
    ) -> list[AuditEntry]:
        """Matching AuditEvents, newest first; the search itself is audited."""
        _auditor(user)
        async with self.audit.appending(self.engine) as conn:
            found = await audit_search.find(conn, query, limit=limit)
            record = _record(user, "audit-read", query.patient_ssin, count=str(len(found)))
            await self.audit.record(conn, record)
        return found

    async def verify(self, user: ConsoleUser) -> VerifyResult:
        """Run ``audit verify`` now (audited), and publish its outcome as metrics."""
        _auditor(user)
        signer = HeadSigner.from_settings(self.settings)
        heads = await asyncio.to_thread(signer.read)
        report = await verify(self.engine, heads)
        now = datetime.now(UTC)
        self.metrics.verify_ok.set(1 if report.ok else 0)
        self.metrics.verify_time.set(now.timestamp())
        outcome = "intact" if report.ok else f"{len(report.problems)} problem(s)"
        await self.audit.append(
            self.engine, _record(user, "console-audit-verify", None, result=outcome)
        )
        return VerifyResult(report, heads[-1] if heads else None, now)

    async def explain(
        self, user: ConsoleUser, patient: str, actor: Actor, action: Action
    ) -> tuple[str, Decision]:
        """The gate's decision now for ``actor`` on ``patient`` (audited by the gate)."""
        request = AccessRequest(patient, actor, action, client_id=user.client_id)
        return await self.gate.explain(request)

    async def patient_consents(self, user: ConsoleUser, patient: str) -> PatientConsents:
        """The patient's consents and the records of their creation and revocation (audited)."""
        async with self.audit.appending(self.engine) as conn:
            stored = await self.consents.search(conn, patient)
            history: list[AuditEntry] = []
            for action in CONSENT_ACTIONS:
                query = AuditQuery(patient_ssin=patient, action=action)
                history += await audit_search.find(conn, query, limit=100)
            record = _record(user, "consent-read", patient, count=str(len(stored)))
            await self.audit.record(conn, record)
        return PatientConsents(stored, sorted(history, key=lambda e: e.seq, reverse=True))
