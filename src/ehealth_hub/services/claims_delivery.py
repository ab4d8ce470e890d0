"""The ``mycarenet`` delivery destination: sends a claim by eAttest or eFact, exactly once (a
psychologist's session: to Mental Health Care, :mod:`.psychology_claims`).

Called by the delivery workers with the outbox payload and the claim's deterministic message id.
Every attempt is recorded (``claims_store.mark_attempt``) BEFORE anything is sent, so a later
attempt knows that an earlier one may have reached the mutuality:

* eAttest: the message is rebuilt byte-identical (same message id, same creation instant from
  the payload) and presented again; MyCareNet recognises the message id and answers with the
  outcome it gave the first time. A new message id is never minted for the same claim.
* eFact: before posting again, the TAcks waiting in the GenericAsync box are searched for the
  batch reference; a batch MyCareNet already took is never posted twice. Once posted, attempts
  only fetch: the 920099 result of our reference gives the line's verdict, then it is confirmed.

A call that outlives ``mycarenet.call_timeout_seconds`` becomes DownstreamUnavailable (retried by
the outbox, outcome asked for on the next attempt); a business rejection is stored as the
ClaimResponse (outcome ``error``) and ends the delivery. Once the answer is known (on every
attempt that finds it: the follower is enqueued once), ``followers`` is told (the private insurer
of an insured employee: :mod:`ehealth_hub.services.insurer_claims`).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.core.errors import (
    BusinessRejection,
    ConfigurationError,
    DownstreamUnavailable,
    NotFound,
)
from ehealth_hub.core.mycarenet_types import (
    AttestError,
    AttestOutcome,
    CareProvider,
    InsurabilityFacts,
    TeleconsultationClaim,
)
from ehealth_hub.core.ports import Actor, AttestPort, EfactPort, MentalHealthCarePort
from ehealth_hub.fhir.builders import Json
from ehealth_hub.mappings import mhc as mhc_map
from ehealth_hub.mappings import mycarenet_attest as attest_map
from ehealth_hub.mappings import mycarenet_efact as efact_map
from ehealth_hub.mappings import mycarenet_efact_answers as answers
from ehealth_hub.mappings.claim_amounts import with_amounts
from ehealth_hub.mappings.mycarenet_claimresponse import EfactNumbers
from ehealth_hub.mappings.mycarenet_fhir import (
    EATTEST_ID_SYSTEM,
    EFACT_ERRORS_SYSTEM,
    MYCARENET_FAULT_SYSTEM,
)
from ehealth_hub.services import claims_store as store
from ehealth_hub.services.insurer_claims import InsurerClaims
from ehealth_hub.services.psychology_claims import record_session
from ehealth_hub.settings import MyCareNetSettings

log = structlog.get_logger(__name__)
T = TypeVar("T")


def _facts(raw: Mapping[str, Any]) -> InsurabilityFacts:
    values = dict(raw)
    for name in ("reference_date", "period_start", "period_end"):
        values[name] = date.fromisoformat(values[name]) if values[name] else None
    values["reasons"] = tuple(values["reasons"])
    return InsurabilityFacts(**values)


def efact_numbers(message_id: str) -> tuple[int, int, int]:
    """(batch reference: 14 digits, invoice number: 12 digits, sending number: 1..999)."""
    value = int(hashlib.sha256(message_id.encode()).hexdigest(), 16)
    return value % 10**14, value % 10**12, value % 999 + 1


class ClaimDelivery:
    """The ``mycarenet`` destination handler; see the module docstring."""

    def __init__(
        self,
        engine: AsyncEngine,
        attest: AttestPort,
        efact: EfactPort,
        settings: MyCareNetSettings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        followers: InsurerClaims | None = None,
        mhc: MentalHealthCarePort | None = None,
    ) -> None:
        self.engine, self.attest, self.efact = engine, attest, efact
        self.settings, self.clock, self.followers = settings, clock, followers
        self.mhc = mhc
        """MyCareNet Mental Health Care: psychologist sessions (route ``mhc``)."""

    async def _follow(
        self, payload: Mapping[str, Any], message_id: str, response: Json, row: store.ClaimRow
    ) -> None:
        """Tell the claim's second payer (the private insurer), once the answer is known."""
        if self.followers is None:
            return
        ids = {i.get("system"): i.get("value") for i in response.get("identifier") or []}
        if mhc := ids.get(mhc_map.MHC_REFERENCE_SYSTEM):
            reference = f"mhc:{mhc}"
        elif attestation := ids.get(EATTEST_ID_SYSTEM):
            reference = f"eattest:{attestation}"
        else:
            reference = f"efact:{efact_numbers(message_id)[0]}"
        await self.followers.after_mutuality(
            payload, message_id, response, reference, row.outbox_id
        )

    async def _bounded(self, call: Awaitable[T], operation: str) -> T:
        try:
            return await asyncio.wait_for(call, self.settings.call_timeout_seconds)
        except TimeoutError as exc:
            raise DownstreamUnavailable(
                "MyCareNet did not answer in time; the outcome will be asked, not resent blindly",
                system="mycarenet",
                operation=operation,
                code="timeout",
            ) from exc

    async def __call__(self, payload: Mapping[str, Any], message_id: str) -> Mapping[str, Any]:
        row = await store.get_claim(self.engine, message_id)
        if row is None:
            raise NotFound(f"claim {message_id} not stored", system="claims", operation="deliver")
        if row.done and row.claim_response is not None:
            await self._follow(payload, message_id, row.claim_response, row)
            return {"claimResponse": row.claim_response}
        claim = attest_map.read_app_claim(payload["claim"])
        who = payload["actor"]
        actor = Actor(who["nihii"], who["quality"], who.get("ssin"))
        facts = _facts(payload["facts"])
        row = await store.mark_attempt(self.engine, message_id, now=self.clock())
        if row.attempts > 1:
            log.info(
                "claims.asking_outcome",
                message_id=message_id,
                attempt=row.attempts,
                route=row.route,
            )
        provider = CareProvider(
            actor.nihii, actor.quality, who.get("given", ""), who.get("family", ""), actor.ssin
        )
        created = datetime.fromisoformat(payload["created"])
        if row.route == "eattest":
            response = await self._attest(
                claim, provider, actor, facts, message_id, created, payload.get("billing")
            )
        elif row.route == "mhc":
            response = await self._mhc(claim, provider, actor, facts, message_id, payload)
        else:
            response = await self._efact(
                claim, provider, actor, facts, message_id, row, created, payload.get("billing")
            )
        await self._follow(payload, message_id, response, row)
        return {"claimResponse": response}

    async def _mhc(
        self,
        claim: TeleconsultationClaim,
        provider: CareProvider,
        actor: Actor,
        facts: InsurabilityFacts,
        message_id: str,
        payload: Mapping[str, Any],
    ) -> Json:
        """A psychologist's session, recorded on MHC (services/psychology_claims.py)."""
        if self.mhc is None:
            raise ConfigurationError("MyCareNet MHC is not wired", system="mycarenet.mhc")
        billing = payload.get("billing") or {}
        outcome = await self._bounded(
            record_session(
                self.mhc,
                actor,
                claim,
                facts,
                message_id=message_id,
                created=datetime.fromisoformat(payload["created"]),
                billing=billing,
            ),
            "mhc",
        )
        return await self._finish(
            message_id,
            claim,
            outcome.as_attest(claim, facts.mutuality),
            billing,
            provider,
            shape=lambda r: mhc_map.annotate(r, outcome),
        )

    async def _finish(
        self,
        message_id: str,
        claim: TeleconsultationClaim,
        outcome: AttestOutcome,
        billing: Mapping[str, Any] | None,
        provider: CareProvider,
        efact: EfactNumbers | None = None,
        *,
        shape: Callable[[Json], Json] = lambda response: response,
    ) -> Json:
        built = shape(
            attest_map.claim_response(
                claim, outcome, rid=message_id, now=self.clock(), provider=provider, efact=efact
            )
        )
        response = with_amounts(built, claim, billing, outcome)
        answered = self.clock()
        # written once, with the terminal status: its only version (GET ClaimResponse's ETag)
        version = {"versionId": "1", "lastUpdated": answered.isoformat()}
        response = {**response, "meta": {**response.get("meta", {}), **version}}
        await store.set_status(
            self.engine,
            message_id,
            "accepted" if outcome.accepted else "rejected",
            now=answered,
            claim_response=response,
            attestation_id=outcome.attestation_id,
        )
        log.info(
            "claims.answered",
            message_id=message_id,
            accepted=outcome.accepted,
            errors=[e.code for e in outcome.errors],
        )
        return response

    async def _attest(
        self,
        claim: TeleconsultationClaim,
        provider: CareProvider,
        actor: Actor,
        facts: InsurabilityFacts,
        message_id: str,
        created: datetime,
        billing: Mapping[str, Any] | None,
    ) -> Json:
        message = attest_map.create_request(
            claim, provider, facts, message_id=message_id, now=created
        )
        try:
            answer = await self._bounded(
                self.attest.send(actor, message, facts=facts, on=claim.serviced), "eattest"
            )
        except BusinessRejection as exc:
            await self._finish(
                message_id,
                claim,
                AttestOutcome(
                    False,
                    None,
                    facts.mutuality,
                    errors=(
                        AttestError(
                            exc.code or "REJECTED",
                            message=exc.detail,
                            system=MYCARENET_FAULT_SYSTEM,
                        ),
                    ),
                ),
                billing,
                provider,
            )
            raise
        outcome = attest_map.read_response(answer)
        return await self._finish(message_id, claim, outcome, billing, provider)

    async def _efact(
        self,
        claim: TeleconsultationClaim,
        provider: CareProvider,
        actor: Actor,
        facts: InsurabilityFacts,
        message_id: str,
        row: store.ClaimRow,
        created: datetime,
        billing: Mapping[str, Any] | None,
    ) -> Json:
        reference, invoice, sending = efact_numbers(message_id)
        numbers = EfactNumbers(reference, invoice)
        if row.status != "posted":
            taken = row.attempts > 1 and any(
                r.reference == str(reference) and r.accepted
                for r in await self._bounded(self.efact.tacks(actor), "efact.get")
            )
            if not taken:
                batch = self._batch(
                    claim, facts, message_id, (reference, invoice, sending), created
                )
                receipt = await self._bounded(
                    self.efact.post(actor, efact_map.write_batch(batch), reference=str(reference)),
                    "efact.post",
                )
                if not receipt.accepted:
                    await self._finish(
                        message_id,
                        claim,
                        AttestOutcome(
                            False,
                            None,
                            facts.mutuality,
                            errors=(
                                AttestError(
                                    "BATCH_REFUSED",
                                    message=receipt.result,
                                    system=EFACT_ERRORS_SYSTEM,
                                ),
                            ),
                        ),
                        billing,
                        provider,
                        numbers,
                    )
                    raise BusinessRejection(
                        f"eFact batch refused: {receipt.result}",
                        system="mycarenet",
                        operation="efact.post",
                    )
            await store.set_status(self.engine, message_id, "posted", now=self.clock())
        messages = await self._bounded(self.efact.fetch(actor), "efact.get")
        mine = [m for m in messages if m.reference == str(reference)]
        result = next((m for m in mine if m.name == "920099"), None)
        if result is None:
            raise DownstreamUnavailable(
                "eFact result not yet available",
                system="mycarenet",
                operation="efact.get",
                code="efact-pending",
            )
        line = next(
            (
                r
                for r in answers.read_result(result.content.decode("latin-1"))
                if r.line_ref == message_id
            ),
            None,
        )
        if line is None:
            raise DownstreamUnavailable(
                "eFact result without our line",
                system="mycarenet",
                operation="efact.get",
                code="efact-line-missing",
            )
        errors = (
            ()
            if line.accepted
            else (
                AttestError(
                    line.code,
                    line.zone,
                    f"record 50 zone {line.zone}: {line.code}",
                    EFACT_ERRORS_SYSTEM,
                ),
            )
        )
        response = await self._finish(
            message_id,
            claim,
            # the result file states no amounts: the tariff table's, or the fee alone
            AttestOutcome(line.accepted, None, facts.mutuality, None, errors),
            billing,
            provider,
            numbers,
        )
        await self._bounded(self.efact.confirm(actor, mine), "efact.confirm")
        return response

    def _batch(
        self,
        claim: TeleconsultationClaim,
        facts: InsurabilityFacts,
        message_id: str,
        numbers: tuple[int, int, int],
        created: datetime,
    ) -> efact_map.Batch:
        """The one-invoice batch of a claim, identical on every attempt (no clock inside)."""
        s, (reference, invoice, sending) = self.settings, numbers
        sender = efact_map.Sender(
            claim.provider_nihii, s.efact_cbe, s.efact_iban, s.efact_bic, "", ""
        )
        line = efact_map.InvoiceLine(
            claim.code, claim.serviced, claim.fee, message_id, Decimal("0")
        )
        gender = claim.patient.gender if claim.patient.gender in ("male", "female") else "female"
        inv = efact_map.Invoice(
            invoice,
            claim.patient.ssin,
            gender,
            facts.mutuality,
            facts.ct1,
            facts.ct2,
            claim.claim_id[:25],
            (line,),
        )
        day = created.date()
        return efact_map.Batch(
            sender,
            facts.federation,
            sending,
            reference,
            day.year,
            day.month,
            day,
            s.is_test,
            (inv,),
        )
