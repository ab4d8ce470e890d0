"""Storage of teleconsultation claims and cached insurability answers (tables ``mycarenet_claims``
and ``mycarenet_insurability``). SQLAlchemy errors leave as StorageError through
:func:`ehealth_hub.delivery.store.guard`, the hub's one translation point for SQLAlchemy.

Claim status: ``queued`` (accepted by the hub, in the outbox) -> ``sending`` (an attempt started:
from now on the outcome of a send may be unknown and is asked for, never sent blindly again) ->
``posted`` (eFact only: MyCareNet took the batch, the result file is awaited) -> ``accepted`` or
``rejected`` (terminal, with the ClaimResponse).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Select, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ehealth_hub.core.errors import Conflict
from ehealth_hub.core.mycarenet_types import InsurabilityFacts
from ehealth_hub.core.search import Page, PageRequest, mapped
from ehealth_hub.delivery.outbox import utc
from ehealth_hub.delivery.store import guard
from ehealth_hub.store.search import fetch_page
from ehealth_hub.store.tables import mycarenet_claims, mycarenet_insurability

TERMINAL: Final = ("accepted", "rejected")
SYSTEM: Final = "claims"


@dataclass(frozen=True, slots=True)
class ClaimRow:
    """One stored claim."""

    message_id: str
    claim_key: str
    digest: str
    route: str
    federation: str
    practitioner_nihii: str
    status: str
    attempts: int
    outbox_id: str | None
    attestation_id: str | None
    claim_response: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    patient_ssin: str | None = None
    claim: dict[str, Any] | None = None
    """The Claim the app submitted (None for claims stored before migration 0004)."""

    @property
    def done(self) -> bool:
        """The mutuality's answer is known."""
        return self.status in TERMINAL


def _row(raw: Any) -> ClaimRow:
    values = dict(raw)
    for name in ("claim_response", "claim"):
        values[name] = json.loads(values[name]) if values[name] else None
    values["created_at"], values["updated_at"] = (
        utc(values["created_at"]),
        utc(values["updated_at"]),
    )
    return ClaimRow(**values)


async def get_claim(engine: AsyncEngine, message_id: str) -> ClaimRow | None:
    """The claim with this message id, or None."""
    async with guard("get-claim", system=SYSTEM), engine.connect() as conn:
        raw = (
            (
                await conn.execute(
                    select(mycarenet_claims).where(mycarenet_claims.c.message_id == message_id)
                )
            )
            .mappings()
            .first()
        )
    return _row(raw) if raw else None


@dataclass(frozen=True, slots=True)
class ClaimFilter:
    """Which claims a read or search may return: the caller's compartment and the criteria."""

    practitioners: frozenset[str] | None = None
    """The practitioners whose claims these are (None: any)."""
    federations: frozenset[str] | None = None
    """The mutuality federations they were addressed to (None: any)."""
    message_id: str | None = None
    patient: str | None = None
    answered: bool = False
    """Only the claims whose ClaimResponse is known."""
    submitted: bool = False
    """Only the claims whose Claim is stored (every claim since migration 0004)."""


def _filtered(seen: ClaimFilter) -> Select[Any]:
    table = mycarenet_claims
    stmt = select(table)
    if seen.submitted:
        stmt = stmt.where(table.c.claim.is_not(None))
    for column, values in (
        (table.c.practitioner_nihii, seen.practitioners),
        (table.c.federation, seen.federations),
    ):
        if values is not None:
            stmt = stmt.where(column.in_(sorted(values)))
    if seen.message_id is not None:
        stmt = stmt.where(table.c.message_id == seen.message_id)
    if seen.patient is not None:
        stmt = stmt.where(table.c.patient_ssin == seen.patient)
    if seen.answered:
        stmt = stmt.where(table.c.claim_response.is_not(None))
    return stmt


async def find_claims(engine: AsyncEngine, seen: ClaimFilter, page: PageRequest) -> Page[ClaimRow]:
    """One page of the claims ``seen`` holds, newest first, keyset-paged in SQL."""
    table = mycarenet_claims
    async with guard("find-claims", system=SYSTEM), engine.connect() as conn:
        found = await fetch_page(
            conn,
            _filtered(seen),
            key=table.c.created_at,
            tiebreak=table.c.message_id,
            page=page,
            operation="claims.search",
        )
    return mapped(found, [_row(r) for r in found.items])


async def message_ids_of_app_claim(engine: AsyncEngine, app_claim_id: str) -> list[str]:
    """The hub's ids of the claims an app submitted as ``app_claim_id`` (one per practitioner
    who used that id: the key is ``<nihii>|<app id>``)."""
    key = mycarenet_claims.c.claim_key
    query = select(mycarenet_claims.c.message_id).where(
        key.endswith(f"|{app_claim_id}", autoescape=True)  # a scan: claim ids are not indexed
    )
    async with guard("app-claim-ids", system=SYSTEM), engine.connect() as conn:
        return list((await conn.scalars(query)).all())


async def insert_claim(conn: AsyncConnection, row: ClaimRow) -> None:
    """Store a new claim in the caller's transaction."""
    values = dataclasses.asdict(row)
    values["claim_response"] = None
    values["claim"] = json.dumps(row.claim, separators=(",", ":")) if row.claim else None
    async with guard("insert-claim", system=SYSTEM):
        try:
            await conn.execute(insert(mycarenet_claims).values(**values))
        except IntegrityError as exc:
            raise Conflict(
                "this claim is being submitted concurrently",
                system=SYSTEM,
                operation="insert-claim",
            ) from exc


async def mark_attempt(engine: AsyncEngine, message_id: str, *, now: datetime) -> ClaimRow:
    """Record that an attempt starts (attempts + 1; ``queued`` becomes ``sending``)."""
    async with guard("mark-attempt", system=SYSTEM), engine.begin() as conn:
        raw = (
            (
                await conn.execute(
                    select(mycarenet_claims).where(mycarenet_claims.c.message_id == message_id)
                )
            )
            .mappings()
            .one()
        )
        status = "sending" if raw["status"] == "queued" else raw["status"]
        await conn.execute(
            update(mycarenet_claims)
            .where(mycarenet_claims.c.message_id == message_id)
            .values(attempts=raw["attempts"] + 1, status=status, updated_at=now)
        )
    return _row({**raw, "attempts": raw["attempts"] + 1, "status": status, "updated_at": now})


async def set_status(
    engine: AsyncEngine,
    message_id: str,
    status: str,
    *,
    now: datetime,
    claim_response: dict[str, Any] | None = None,
    attestation_id: str | None = None,
) -> None:
    """Move a claim to ``status`` (with the ClaimResponse when terminal)."""
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if claim_response is not None:
        values["claim_response"] = json.dumps(claim_response, separators=(",", ":"))
    if attestation_id is not None:
        values["attestation_id"] = attestation_id
    async with guard("set-status", system=SYSTEM), engine.begin() as conn:
        await conn.execute(
            update(mycarenet_claims)
            .where(mycarenet_claims.c.message_id == message_id)
            .values(**values)
        )


def _facts_json(facts: InsurabilityFacts) -> str:
    return json.dumps(dataclasses.asdict(facts), default=str)


def _facts(text: str) -> InsurabilityFacts:
    raw = json.loads(text)
    for name in ("reference_date", "period_start", "period_end"):
        raw[name] = date.fromisoformat(raw[name]) if raw[name] else None
    raw["reasons"] = tuple(raw["reasons"])
    return InsurabilityFacts(**raw)


async def cached_facts(
    engine: AsyncEngine, ssin: str, on: date, *, now: datetime, max_age: timedelta
) -> InsurabilityFacts | None:
    """The cached MemberData answer for (patient, date) when younger than ``max_age``."""
    query = select(mycarenet_insurability).where(
        mycarenet_insurability.c.ssin == ssin,
        mycarenet_insurability.c.reference_date == on.isoformat(),
    )
    async with guard("get-insurability", system=SYSTEM), engine.connect() as conn:
        raw = (await conn.execute(query)).mappings().first()
    if raw is None or utc(raw["fetched_at"]) + max_age < now:
        return None
    return _facts(raw["facts"])


async def _upsert_facts(engine: AsyncEngine, facts: InsurabilityFacts, now: datetime) -> None:
    table = mycarenet_insurability
    key = (table.c.ssin == facts.ssin) & (
        table.c.reference_date == facts.reference_date.isoformat()
    )
    values = {"facts": _facts_json(facts), "fetched_at": now}
    async with engine.begin() as conn:
        updated = await conn.execute(update(table).where(key).values(**values))
        if updated.rowcount == 0:
            await conn.execute(
                insert(table).values(
                    ssin=facts.ssin, reference_date=facts.reference_date.isoformat(), **values
                )
            )


async def store_facts(engine: AsyncEngine, facts: InsurabilityFacts, *, now: datetime) -> None:
    """Cache a MemberData answer (replacing an older one for the same patient and date)."""
    async with guard("put-insurability", system=SYSTEM):
        try:
            await _upsert_facts(engine, facts, now)
        except IntegrityError:
            # a concurrent request cached this (patient, date) between our update and insert
            await _upsert_facts(engine, facts, now)
