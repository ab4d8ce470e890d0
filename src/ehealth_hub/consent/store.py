"""The consent store: per-consultation FHIR Consents (be-Consent) in the hub's database.

FHIR R4 4.0.1 RESTful semantics: every write bumps ``meta.versionId`` (the ETag ``W/"<n>"``); an
update with a stale ``If-Match`` is PreconditionFailed (412); conditional create finds the existing
resources by identifier and/or patient (:meth:`ConsentStore.matching`). Methods take the caller's
connection, so that the consent change and its AuditEvent commit together; a status change also
NOTIFYs every process on PostgreSQL in that transaction (:mod:`ehealth_hub.consent.notify`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ehealth_hub.consent.model import ConsultationConsent
from ehealth_hub.consent.notify import notify_revocation
from ehealth_hub.consent.resource import identifier_key, validate, with_meta
from ehealth_hub.core.errors import Conflict, NotFound, PreconditionFailed
from ehealth_hub.core.search import DateBound, Page, PageRequest, date_range, mapped
from ehealth_hub.store.errors import storage_errors
from ehealth_hub.store.search import date_conditions, fetch_page
from ehealth_hub.store.tables import consents

SORTS: Final = {"period": consents.c.period_start, "_lastUpdated": consents.c.updated_at}
"""``_sort`` keys of a Consent search: the start of its period (the default), its last change."""


@dataclass(frozen=True, slots=True)
class ConsentFilter:
    """What a Consent search asks for (values of a field ORed, fields ANDed)."""

    statuses: Sequence[str] = ()
    period: Sequence[DateBound] = ()
    """On ``Consent.provision.period`` (``period_start`` .. ``period_end``)."""
    last_updated: Sequence[DateBound] = ()
    date: Sequence[DateBound] = ()
    """On ``Consent.dateTime`` (``date_start`` .. ``date_end``: the range its precision covers)."""


@dataclass(frozen=True, slots=True)
class StoredConsent:
    """A stored Consent: the resource as served and what the policy reads from it."""

    resource: dict[str, Any]
    consent: ConsultationConsent
    created: bool = False
    """True when this call created it (False for a conditional create that found one)."""

    @property
    def etag(self) -> str:
        """The weak ETag of this version."""
        return f'W/"{self.consent.version}"'


def _stored(resource_text: str, created: bool = False) -> StoredConsent:
    resource = json.loads(resource_text)
    return StoredConsent(resource, validate(resource), created)


class ConsentStore:
    """Reads and writes Consents through a connection the caller owns."""

    def __init__(self, new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        self._new_id = new_id

    async def create(
        self, conn: AsyncConnection, resource: dict[str, Any], now: datetime
    ) -> StoredConsent:
        """Store a new Consent (or return the one with the same identifier: conditional)."""
        validate(resource)
        key = identifier_key(resource)
        if key is not None:
            existing = await self._by_identifier(conn, key)
            if existing is not None:
                return existing
        stored = with_meta(resource, self._new_id(), 1, now)
        consent = validate(stored)
        with storage_errors("consent.create"):
            await conn.execute(insert(consents).values(**self._columns(stored, consent, now, key)))
        return StoredConsent(stored, consent, created=True)

    async def matching(
        self,
        conn: AsyncConnection,
        *,
        identifier: str | None = None,
        patient_ssin: str | None = None,
        actor_nihii: str | None = None,
    ) -> list[StoredConsent]:
        """The Consents with this identifier (``system|value``) and/or patient, of one care
        provider when ``actor_nihii`` is given (If-None-Exist)."""
        query = select(consents.c.resource)
        if identifier is not None:
            query = query.where(consents.c.identifier == identifier)
        if patient_ssin is not None:
            query = query.where(consents.c.patient_ssin == patient_ssin)
        if actor_nihii is not None:
            query = query.where(consents.c.actor_nihii == actor_nihii)
        with storage_errors("consent.find"):
            rows = (await conn.execute(query.limit(2))).all()
        return [_stored(row[0]) for row in rows]

    async def get(self, conn: AsyncConnection, consent_id: str) -> StoredConsent:
        """The current version of a Consent (NotFound when unknown)."""
        with storage_errors("consent.get"):
            row = (
                await conn.execute(select(consents.c.resource).where(consents.c.id == consent_id))
            ).one_or_none()
        if row is None:
            raise NotFound(f"no Consent {consent_id}", system="consent", operation="get")
        return _stored(row[0])

    async def search(
        self, conn: AsyncConnection, patient_ssin: str, *, actor_nihii: str | None = None
    ) -> list[StoredConsent]:
        """The patient's Consents (optionally of one care provider), newest period first."""
        query = select(consents.c.resource).where(consents.c.patient_ssin == patient_ssin)
        if actor_nihii is not None:
            query = query.where(consents.c.actor_nihii == actor_nihii)
        with storage_errors("consent.search"):
            rows = (await conn.execute(query.order_by(consents.c.period_start.desc()))).all()
        return [_stored(row[0]) for row in rows]

    async def page(
        self,
        conn: AsyncConnection,
        patient_ssin: str,
        filters: ConsentFilter,
        page: PageRequest,
        *,
        actor_nihii: str | None = None,
    ) -> Page[StoredConsent]:
        """One page of the patient's Consents matching ``filters`` (of one care provider when
        ``actor_nihii``), filtered and paged in SQL; sort keys in :data:`SORTS`."""
        query = select(consents.c.resource, consents.c.id, *SORTS.values()).where(
            consents.c.patient_ssin == patient_ssin
        )
        if actor_nihii is not None:
            query = query.where(consents.c.actor_nihii == actor_nihii)
        if filters.statuses:
            query = query.where(consents.c.status.in_(list(filters.statuses)))
        query = query.where(
            *date_conditions(filters.period, consents.c.period_start, consents.c.period_end),
            *date_conditions(filters.last_updated, consents.c.updated_at),
            *date_conditions(filters.date, consents.c.date_start, consents.c.date_end),
        )
        key = SORTS[page.sort or "period"]
        found = await fetch_page(
            conn, query, key=key, tiebreak=consents.c.id, page=page, operation="consent.search"
        )
        return mapped(found, [_stored(row["resource"]) for row in found.items])

    async def set_status(
        self,
        conn: AsyncConnection,
        consent_id: str,
        status: str,
        now: datetime,
        *,
        if_match: int | None = None,
    ) -> StoredConsent:
        """Change the status (revocation = inactive) as a new version; PreconditionFailed when
        ``if_match`` (the version the client holds) is not the current one."""
        current = await self.get(conn, consent_id)
        version = current.consent.version
        if if_match is not None and if_match != version:
            raise PreconditionFailed(
                f"Consent {consent_id} is at version {version}, not {if_match} (If-Match)",
                system="consent",
                operation="update",
                code="if-match-stale",
            )
        resource = with_meta({**current.resource, "status": status}, consent_id, version + 1, now)
        consent = validate(resource)
        with storage_errors("consent.update"):
            result = await conn.execute(
                update(consents)
                .where(consents.c.id == consent_id, consents.c.version == version)
                .values(
                    version=version + 1,
                    status=status,
                    resource=json.dumps(resource),
                    updated_at=now,
                )
            )
        if result.rowcount != 1:
            raise Conflict(
                f"Consent {consent_id} changed concurrently",
                system="consent",
                code="version-conflict",
            )
        with storage_errors("consent.notify"):
            await notify_revocation(conn, consent.patient_ssin)
        return StoredConsent(resource, consent)

    async def consultation_consents(
        self, conn: AsyncConnection, patient_ssin: str, actor_nihii: str
    ) -> tuple[ConsultationConsent, ...]:
        """The consents the policy weighs for this patient and care provider."""
        return tuple(
            s.consent for s in await self.search(conn, patient_ssin, actor_nihii=actor_nihii)
        )

    async def _by_identifier(self, conn: AsyncConnection, key: str) -> StoredConsent | None:
        with storage_errors("consent.find"):
            row = (
                await conn.execute(select(consents.c.resource).where(consents.c.identifier == key))
            ).one_or_none()
        return None if row is None else _stored(row[0])

    @staticmethod
    def _columns(
        resource: dict[str, Any], consent: ConsultationConsent, now: datetime, key: str | None
    ) -> dict[str, Any]:
        return {
            "id": consent.consent_id,
            "version": consent.version,
            "patient_ssin": consent.patient_ssin,
            "actor_nihii": consent.actor_nihii,
            "status": consent.status,
            "identifier": key,
            "period_start": consent.start,
            "period_end": consent.end,
            "resource": json.dumps(resource),
            "updated_at": now,
            **_date_columns(resource.get("dateTime")),
        }


def _date_columns(given: str | None) -> dict[str, datetime | None]:
    """The first and last instant ``Consent.dateTime`` covers (a date is a whole day; a search
    compares ranges, search.html#date); none without one (it then matches no ``date`` search).
    The last instant is the range's end less 1 µs, the finest a dateTime says."""
    if not given:
        return {"date_start": None, "date_end": None}
    start, end = date_range(given)  # a FHIR dateTime: validate() checked it
    return {"date_start": start, "date_end": end - timedelta(microseconds=1)}
