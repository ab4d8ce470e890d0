"""Searching the audit trail by its indexed columns: :func:`find` for the operations console's
audit page, :func:`fhir_page` for ``GET /fhir/AuditEvent`` (filtered and keyset-paged in SQL).

Read-only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from ehealth_hub.audit.log import as_utc
from ehealth_hub.core.search import DateBound, Page, PageRequest, mapped
from ehealth_hub.store.errors import storage_errors
from ehealth_hub.store.search import date_conditions, fetch_page
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


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """A FHIR AuditEvent search (values of a field ORed, fields ANDed; all optional)."""

    patients: Sequence[str] = ()
    """SSINs."""
    agents: Sequence[str] = ()
    """A practitioner's NIHII or a client id."""
    actions: Sequence[str] = ()
    """The hub's action codes (``AuditEvent.subtype``: ``read-dossier``, ``consent-read``...)."""
    outcomes: Sequence[str] | None = None
    """Recorded outcomes (``permit``, ``deny``...); None: any, empty: none."""
    recorded: Sequence[DateBound] = ()


def _fhir_conditions(query: AuditFilter) -> list[ColumnElement[bool]]:
    table = audit_events.c
    conds: list[ColumnElement[bool]] = []
    for column, values in (
        (table.patient_ssin, query.patients),
        (table.action, query.actions),
    ):
        if values:
            conds.append(column.in_(list(values)))
    if query.outcomes is not None:
        conds.append(table.outcome.in_(list(query.outcomes)))
    if query.agents:
        agents = list(query.agents)
        conds.append(or_(table.actor_nihii.in_(agents), table.client_id.in_(agents)))
    return conds + date_conditions(query.recorded, table.recorded)


async def fhir_page(
    conn: AsyncConnection, query: AuditFilter, page: PageRequest
) -> Page[dict[str, Any]]:
    """One page of matching AuditEvents (FHIR JSON), by ``recorded`` (newest first unless
    ``page`` says otherwise) then sequence."""
    stmt = select(audit_events.c.body, audit_events.c.seq, audit_events.c.recorded).where(
        *_fhir_conditions(query)
    )
    found = await fetch_page(
        conn,
        stmt,
        key=audit_events.c.recorded,
        tiebreak=audit_events.c.seq,
        page=page,
        operation="audit.search",
    )
    events: list[dict[str, Any]] = [json.loads(r["body"])["event"] for r in found.items]
    return mapped(found, events)
