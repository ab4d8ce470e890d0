"""Journey 3: billing a teleconsultation (``POST /fhir/Claim/$submit``).

Accepting (:meth:`ClaimsService.submit`): the app's Claim (one item, code 101673, 101695 or 101710)
-> the provider must be the acting practitioner -> the consent gate (``submit-claim``) -> the
acting provider's type must be the one the tariff row is for (a psychologist never bills a GP
code: :mod:`ehealth_hub.services.provider_billing`) -> the
patient's insurability on the serviced date (MemberData, cached per patient and date) -> a patient
without insurability, or a mutuality whose federation is closed in the configuration, is refused
HERE, before anything is sent -> the reimbursement conditions of the tariff table
(:mod:`ehealth_hub.services.billing_check`: code reimbursable on the date, treatment relationship,
medical house), also refused here -> the route: eFact when the table makes third-party payment
mandatory (the video codes), else eAttest or eFact per federation configuration (``auto`` = eFact
when the patient has third-party payment); a psychologist's session (the table's ``mhc`` rows) goes
to MyCareNet Mental Health Care (:mod:`ehealth_hub.services.psychology_claims`) -> ONE
transaction writes the claim row, the outbox item (destination ``mycarenet``, with the table's
amounts) and the AuditEvent.

Idempotency: the message id is ``uuid5(destination | kind | practitioner NIHII | app claim id)``
(:func:`ehealth_hub.delivery.outbox.message_id_for`), the same on every retry. A second submission
of the same claim returns the first one's outcome (duplicate detection before sending), a
submission with the same claim id but other content is a Conflict, two concurrent submissions
produce one outbox item. Sending and asking for the outcome after a lost answer live in
:mod:`ehealth_hub.services.claims_delivery`.

The API waits up to ``mycarenet.wait_seconds`` (:meth:`ClaimsService.wait`) for the delivery to
finish and answers the ClaimResponse, else 202 with the Task.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit.events import AuditRecord
from ehealth_hub.audit.log import AuditLog
from ehealth_hub.consent.model import AccessRequest
from ehealth_hub.core.errors import BusinessRejection, Conflict, NotFound, RuleViolation
from ehealth_hub.core.identifiers import mask_ssin
from ehealth_hub.core.mycarenet_types import GmdFacts, InsurabilityFacts, TeleconsultationClaim
from ehealth_hub.core.ports import Actor, InsurabilityPort
from ehealth_hub.delivery import store as outbox_store
from ehealth_hub.delivery.outbox import OutboxItem, TaskInfo, enqueue, message_id_for
from ehealth_hub.fhir.builders import Json
from ehealth_hub.fhir.profiles import INSURANCE_NUMBER_SYSTEM, NIHDI_SYSTEM, SSIN_SYSTEM
from ehealth_hub.mappings.mycarenet_attest import read_app_claim
from ehealth_hub.services import claims_store as store
from ehealth_hub.services.access_matrix import AccessMatrix
from ehealth_hub.services.billing_check import BillingCheck, BillingDecision, refuse
from ehealth_hub.services.claim_reads import APP_CLAIM_SYSTEM
from ehealth_hub.services.gate import PermitGate
from ehealth_hub.services.insurer_claims import InsurerClaims
from ehealth_hub.services.provider_billing import check_provider
from ehealth_hub.settings import MyCareNetSettings

log = structlog.get_logger(__name__)

DESTINATION: Final = "mycarenet"
KIND: Final = "teleconsultation-claim"
POLL_SECONDS: Final = 0.05


@dataclass(frozen=True, slots=True)
class ClaimSubmission:
    """A claim the hub holds: its delivery (the Task) and, once known, the ClaimResponse."""

    message_id: str
    item: OutboxItem | None
    """The delivery; None only once the answer is known and the delivery row was purged."""
    claim_response: Json | None = None


def claim_message_id(actor_nihii: str, claim_id: str) -> str:
    """The deterministic message id of a claim (also the outbox item's message id)."""
    return message_id_for(DESTINATION, KIND, f"{actor_nihii}|{claim_id}")


def _provider_names(claim: Json) -> tuple[str, str]:
    display = str(claim.get("provider", {}).get("display", "")).split(" ", 1)
    return (display[0], display[1]) if len(display) == 2 else (display[0], "")


class ClaimsService:
    """Accepts teleconsultation claims; see the module docstring."""

    def __init__(
        self,
        gate: PermitGate,
        insurability: InsurabilityPort,
        engine: AsyncEngine,
        settings: MyCareNetSettings,
        *,
        billing: BillingCheck,
        audit: AuditLog | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        insurers: InsurerClaims | None = None,
    ) -> None:
        self.gate, self.insurability_port, self.engine = gate, insurability, engine
        self.insurers = insurers
        """The private insurers a claim may name besides the mutuality (its cover is checked
        at submission: services/insurer_claims.py)."""
        self.billing = billing
        self.provider_types = AccessMatrix.load()
        """The acting provider's type (who may bill which row: services/provider_billing.py)."""
        self.settings, self.audit, self.clock = settings, audit or AuditLog(), clock

    async def eligibility(
        self, actor: Actor, ssin: str, on: date, *, client_id: str
    ) -> InsurabilityFacts:
        """Insurability asked before billing: the gate decides (submit-claim) and audits first."""
        await self.gate.permit(AccessRequest(ssin, actor, "submit-claim", client_id=client_id))
        return await self.insurability(actor, ssin, on)

    async def gmd(self, actor: Actor, ssin: str, on: date) -> GmdFacts:
        """Who holds the patient's GMD on ``on`` (MyCareNet); ask :meth:`eligibility` first."""
        return await self.billing.gmd.consult_gmd(actor, ssin, on)

    async def insurability(self, actor: Actor, ssin: str, on: date) -> InsurabilityFacts:
        """The patient's insurability on ``on``: cached per (patient, date), else MemberData."""
        now = self.clock()
        max_age = timedelta(seconds=self.settings.insurability_cache_seconds)
        cached = await store.cached_facts(self.engine, ssin, on, now=now, max_age=max_age)
        if cached is not None:
            return cached
        facts = await self.insurability_port.consult(actor, ssin, on)
        await store.store_facts(self.engine, facts, now=now)
        return facts

    def route(self, claim: TeleconsultationClaim, facts: InsurabilityFacts) -> str:
        """eAttest or eFact; refuses (BusinessRejection) what must not be sent at all."""
        if not facts.insured:
            raise BusinessRejection(
                f"the patient is not insured on {claim.serviced.isoformat()}: nothing was sent",
                system="mycarenet",
                operation="submit-claim",
                code="not-insured",
                extra={"reasons": list(facts.reasons)},
            )
        federation = self.settings.federations.get(facts.federation)
        if federation is None or not federation.open:
            raise BusinessRejection(
                f"mutuality {facts.mutuality} (federation {facts.federation}) is closed to "
                "claims: nothing was sent",
                system="mycarenet",
                operation="submit-claim",
                code="mutuality-closed",
            )
        if claim.route is not None:
            return claim.route
        if federation.route != "auto":
            return federation.route
        return "efact" if facts.third_party_payer else "eattest"

    async def submit(self, claim: Json, actor: Actor, *, client_id: str) -> ClaimSubmission:
        """Validate, check insurability, route and enqueue ``claim`` (once, whatever the retry)."""
        parsed = read_app_claim(claim)
        if parsed.provider_nihii != actor.nihii:
            raise RuleViolation(
                "the claim's provider must be the practitioner the token acts for",
                field="Claim.provider.identifier",
                rule="claim.provider-is-actor",
            )
        if self.insurers is not None:
            self.insurers.check_cover(claim)
        message_id = claim_message_id(actor.nihii, parsed.claim_id)
        digest = hashlib.sha256(orjson.dumps(claim, option=orjson.OPT_SORT_KEYS)).hexdigest()
        existing = await store.get_claim(self.engine, message_id)
        if existing is not None:
            return await self._duplicate(existing, digest)
        permit = await self.gate.permit(
            AccessRequest(parsed.patient.ssin, actor, "submit-claim", client_id=client_id)
        )
        row = self.billing.tariff(parsed)
        check_provider(row, actor, parsed.serviced, self.provider_types)  # before any call
        if row.route == "mhc" and not self.settings.mhc.enabled:
            raise refuse(
                "billing.route",
                "psychologist sessions are recorded on MyCareNet Mental Health Care, which is "
                "disabled here (mycarenet.mhc.enabled)",
            )
        facts = await self.insurability(actor, parsed.patient.ssin, parsed.serviced)
        route = self.route(parsed, facts)
        decision = await self.billing.check(parsed, claim, facts, actor, row)
        if decision.row.route in ("efact", "mhc"):
            route = decision.row.route
        try:
            item = await self._enqueue(
                claim,
                parsed,
                facts,
                route,
                actor,
                message_id,
                digest,
                client_id,
                permit.decision_id,
                decision,
            )
        except Conflict:
            # a concurrent submission of the same claim committed first: answer with that one
            existing = await store.get_claim(self.engine, message_id)
            if existing is None:
                raise
            return await self._duplicate(existing, digest)
        log.info(
            "claim_accepted",
            route=route,
            federation=facts.federation,
            patient=mask_ssin(parsed.patient.ssin),
            task=item.id,
        )
        return ClaimSubmission(message_id, item)

    async def _enqueue(
        self,
        claim: Json,
        parsed: TeleconsultationClaim,
        facts: InsurabilityFacts,
        route: str,
        actor: Actor,
        message_id: str,
        digest: str,
        client_id: str,
        decision_id: str,
        decision: BillingDecision,
    ) -> OutboxItem:
        now = self.clock()
        given, family = _provider_names(claim)
        payload: dict[str, Any] = {
            "claim": claim,
            "route": route,
            "created": now.isoformat(),
            "actor": {
                "nihii": actor.nihii,
                "quality": actor.quality,
                "ssin": actor.ssin,
                "given": given,
                "family": family,
            },
            "facts": orjson.loads(orjson.dumps(asdict(facts), default=str)),
            "billing": decision.payload(),
        }
        task = TaskInfo(
            focus=f"Claim/{message_id}",  # as GET /fhir/Claim serves it (claim_reads)
            focus_identifier={"system": APP_CLAIM_SYSTEM, "value": parsed.claim_id},
            for_={"identifier": {"system": SSIN_SYSTEM, "value": parsed.patient.ssin}},
            requester={"identifier": {"system": NIHDI_SYSTEM, "value": actor.nihii}},
            owner={
                "identifier": {"system": INSURANCE_NUMBER_SYSTEM, "value": facts.federation},
                "display": f"mutuality federation {facts.federation}",
            },
            description=(
                "psychologist session recorded on MyCareNet Mental Health Care (acceptance-only)"
                if route == "mhc"
                else f"teleconsultation claim by {route} to the patient's mutuality"
            ),
        )
        key = f"{actor.nihii}|{parsed.claim_id}"
        async with self.engine.begin() as conn:
            item = await enqueue(
                conn,
                kind=KIND,
                destination=DESTINATION,
                ordering_key=parsed.patient.ssin,
                payload=payload,
                task=task,
                dedup_key=key,
                item_id=uuid.uuid4().hex,
                now=now,
            )
            if item.message_id != message_id or item.created_at != now:
                raise Conflict("claim already enqueued", system="claims", operation="submit")
            row = store.ClaimRow(
                message_id,
                key,
                digest,
                route,
                facts.federation,
                actor.nihii,
                "queued",
                0,
                item.id,
                None,
                None,
                now,
                now,
                parsed.patient.ssin,
                claim,
            )
            await store.insert_claim(conn, row)
            await self.audit.record(
                conn,
                AuditRecord(
                    id=uuid.uuid4().hex,
                    recorded=now,
                    action="submit-claim",
                    outcome="success",
                    patient_ssin=parsed.patient.ssin,
                    actor_nihii=actor.nihii,
                    actor_quality=actor.quality,
                    client_id=client_id,
                    decision_id=decision_id,
                    detail={
                        "route": route,
                        "federation": facts.federation,
                        "task": item.id,
                        "claim": parsed.claim_id,
                        "treatment_relationship": decision.relationship or "not required",
                    },
                ),
            )
        return item

    async def _duplicate(self, row: store.ClaimRow, digest: str) -> ClaimSubmission:
        if row.digest != digest:
            raise Conflict(
                "this claim id was already submitted with other content; use a new claim id",
                system="claims",
                operation="submit",
                code="claim-id-reused",
            )
        if row.done and row.claim_response is not None:
            # the answer is on record: it outlives the delivery row that delivery retention purges
            kept = await self._kept_item(row)
            log.info("claim_duplicate", task=kept.id if kept else None, status=row.status)
            return ClaimSubmission(row.message_id, kept, row.claim_response)
        item = await self._item(row)
        log.info("claim_duplicate", task=item.id, status=row.status)
        return ClaimSubmission(row.message_id, item)

    async def _kept_item(self, row: store.ClaimRow) -> OutboxItem | None:
        async with outbox_store.guard("get"), self.engine.connect() as conn:
            return await outbox_store.get(conn, row.outbox_id or "")

    async def _item(self, row: store.ClaimRow) -> OutboxItem:
        item = await self._kept_item(row)
        if item is None:
            raise NotFound(f"delivery of claim {row.message_id} not found", system="claims")
        return item

    async def wait(self, submission: ClaimSubmission, seconds: float) -> ClaimSubmission:
        """The submission once its ClaimResponse is known, or as it stands after ``seconds``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while submission.claim_response is None:
            row = await store.get_claim(self.engine, submission.message_id)
            if row is not None and row.done:
                return ClaimSubmission(row.message_id, await self._item(row), row.claim_response)
            if loop.time() >= deadline:
                return ClaimSubmission(
                    submission.message_id, await self._item(row) if row else submission.item
                )
            await asyncio.sleep(POLL_SECONDS)
        return submission
