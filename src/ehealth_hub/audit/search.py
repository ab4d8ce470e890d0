"""Searching the audit trail by its indexed columns (the operations console's audit page).

Read-only; :meth:`ehealth_hub.audit.log.AuditLog.search` stays the FHIR API's patient search.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from ehealth_hub.audit.log import as_utc
from ehealth_hub.store.errors import storage_errors
from ehealth_hub.store.tables import audit_events


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which records (every field optional)."""

    patient_ssin: str | None = None
    action: str | None = None
    client_id: str | None = None
    """Exact client id, or a prefix ending in ``:`` (``console:`` = every console user)."""
    since: datetime | None = None
    until: datetime | None = None
    mentions: str | None = None
    """A word the record's body must contain (e.g. a delivery id in a replay's detail)."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One record: its index columns and its FHIR AuditEvent."""

    seq: int
    recorded: datetime
    action: str
    outcome: str
    client_id: str | None
    actor_nihii: str | None
    patient_ssin: str | None
    event: dict[str, Any]

    def details(self) -> dict[str, str]:
        """The event's string details (``entity.detail``), by type."""
        found: dict[str, str] = {}
        for entity in self.event.get("entity", []):
            for detail in entity.get("detail", []):
                found[str(detail.get("type"))] = str(detail.get("valueString", ""))
        return found


def _conditions(query: AuditQuery) -> list[ColumnElement[bool]]:
    table = audit_events.c
    conds: list[ColumnElement[bool]] = []
    if query.patient_ssin:
        conds.append(table.patient_ssin == query.patient_ssin)
    if query.action:
        conds.append(table.action == query.action)
    if query.client_id and query.client_id.endswith(":"):
        conds.append(table.client_id.startswith(query.client_id, autoescape=True))
    elif query.client_id:
        conds.append(table.client_id == query.client_id)
    if query.since:
        conds.append(table.recorded >= query.since)
    if query.until:
        conds.append(table.recorded < query.until)
    if query.mentions:
        conds.append(table.body.contains(query.mentions, autoescape=True))
    return conds


async def find(conn: AsyncConnection, query: AuditQuery, *, limit: int = 100) -> list[AuditEntry]:
    """Matching records, newest first."""
    stmt = select(audit_events).order_by(audit_events.c.seq.desc()).limit(limit)
    conds = _conditions(query)
    if conds:
        stmt = stmt.where(and_(*conds))
    with storage_errors("audit.find"):
        rows = (await conn.execute(stmt)).mappings().all()
    return [
        AuditEntry(
            seq=int(r["seq"]),
            recorded=as_utc(r["recorded"]),
            action=r["action"],
            outcome=r["outcome"],
            client_id=r["client_id"],
            actor_nihii=r["actor_nihii"],
            patient_ssin=r["patient_ssin"],
            event=json.loads(r["body"])["event"],
        )
        for r in rows
    ]
