"""Reading a patient's audit trail (``GET /fhir/AuditEvent``), itself audited (``audit-read``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit.events import AuditRecord
from ehealth_hub.audit.log import AuditLog
from ehealth_hub.auth.principal import Principal


class AuditTrail:
    """The patient's AuditEvents for an auditor, the read recorded in the same transaction."""

    def __init__(self, engine: AsyncEngine, audit: AuditLog) -> None:
        self.engine, self.audit = engine, audit

    async def search(
        self, principal: Principal, patient_ssin: str, *, count: int
    ) -> list[dict[str, Any]]:
        """The patient's AuditEvents (FHIR JSON), newest first."""
        async with self.engine.begin() as conn:
            events = await self.audit.search(conn, patient_ssin=patient_ssin, limit=count)
            record = AuditRecord(
                id=str(uuid.uuid4()),
                recorded=datetime.now(UTC),
                action="audit-read",
                outcome="success",
                patient_ssin=patient_ssin,
                client_id=principal.client_id,
                detail={"count": str(len(events))},
            )
            await self.audit.record(conn, record)
        return events
