"""Searching the audit trail (``GET /fhir/AuditEvent``), itself audited (``audit-read``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit import search as audit_search
from ehealth_hub.audit.events import AuditRecord, outcomes_of
from ehealth_hub.audit.log import AuditLog
from ehealth_hub.audit.search import AuditFilter as AuditFilter  # the api/ asks with it
from ehealth_hub.auth.principal import Principal
from ehealth_hub.core.search import Page, PageRequest


class AuditTrail:
    """AuditEvents for an auditor, the read recorded in the same transaction."""

    def __init__(self, engine: AsyncEngine, audit: AuditLog) -> None:
        self.engine, self.audit = engine, audit

    async def search(
        self, principal: Principal, filters: AuditFilter, page: PageRequest
    ) -> Page[dict[str, Any]]:
        """One page of the matching AuditEvents (FHIR JSON), newest first by default; the
        search is recorded (for its patient when it names exactly one)."""
        async with self.engine.begin() as conn:
            found = await audit_search.fhir_page(conn, filters, page)
            one = filters.patients[0] if len(filters.patients) == 1 else None
            record = AuditRecord(
                id=str(uuid.uuid4()),
                recorded=datetime.now(UTC),
                action="audit-read",
                outcome="success",
                patient_ssin=one,
                client_id=principal.client_id,
                detail={"count": str(len(found.items)), "total": str(found.total)},
            )
            await self.audit.record(conn, record)
        return found


def recorded_outcomes(codes: tuple[str, ...]) -> list[str] | None:
    """The recorded outcomes of ``AuditEvent.outcome`` codes (None: no codes, any outcome; a
    code the hub never records matches none)."""
    if not codes:
        return None
    return [outcome for code in codes for outcome in outcomes_of(code)]
