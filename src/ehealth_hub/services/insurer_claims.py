"""A claim's second payer: the private insurer of an insured employee (issue 22).

When the app's Claim names, besides the mutuality, the patient's cover at a private insurer (an
``insurance`` entry whose ``coverage.identifier`` is her member number, system
:data:`~ehealth_hub.mappings.insurer_claim.MEMBER_SYSTEM`, ``assigner`` the insurer's CBE,
``businessArrangement`` the plan), then once the mutuality has accepted the claim
(:meth:`InsurerClaims.after_mutuality`, called by the ``mycarenet`` destination), ONE outbox item
(destination ``insurer``, de-duplicated on the mutuality claim's message id) carries what the
insurer may receive: service, date, fee, the mutuality's reimbursement, the patient's remaining
cost and the eFact/eAttest reference, and the app Claim's diagnosis codes, which leave only when
the patient's insurer consent opts in to them (a nested provision of class Condition,
``consent.resource``) and the insurer's agreement names ``diagnosis``. Nothing else is put in the
payload, so nothing else can leave.

Delivering (:class:`InsurerDelivery`): the consent gate decides ``insurer-claim`` (purpose
``insurance-claim``, recipient the insurer's CBE) at delivery time, so a consent revoked in the
meantime stops it (a refusal is a ``failed`` delivery; a consent source that cannot be reached is
retried); then the minimal Claim (:func:`~ehealth_hub.mappings.insurer_claim.insurer_claim`, only
the insurer's agreed ``data`` the permit allows: :func:`allowed`) goes to the insurer's FHIR API,
and its ClaimResponse is the delivery's answer. An insurer that is down is retried with the outbox's
backoff, then dead-lettered and replayable like any delivery. :func:`attach` shows the insurer's
delivery and ClaimResponse on the mutuality claim's Task.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.connectors.insurer import InsurerPort
from ehealth_hub.consent.model import AccessRequest
from ehealth_hub.core.errors import ConfigurationError, RuleViolation
from ehealth_hub.core.identifiers import mask_ssin
from ehealth_hub.core.permit import require
from ehealth_hub.core.ports import Actor
from ehealth_hub.delivery import store as outbox_store
from ehealth_hub.delivery.outbox import OutboxItem, Status, TaskInfo, enqueue, message_id_for
from ehealth_hub.fhir.builders import Json
from ehealth_hub.fhir.profiles import CBE_SYSTEM, NIHDI_SYSTEM, SSIN_SYSTEM
from ehealth_hub.mappings.insurer_claim import MEMBER_SYSTEM, insurer_claim
from ehealth_hub.services.claim_reads import APP_CLAIM_SYSTEM
from ehealth_hub.services.gate import PermitGate
from ehealth_hub.settings.payers import InsurerSettings

log = structlog.get_logger(__name__)

DESTINATION: Final = "insurer"
KIND: Final = "insurer-claim"
OUTPUT_SYSTEM: Final = "https://ehealth-hub.be/fhir/CodeSystem/delivery-output"
OPT_IN: Final = frozenset({"diagnosis"})
"""Elements that leave only when the patient's insurer consent opts in (consent.resource)."""


def insurer_message_id(mutuality_message_id: str) -> str:
    """The message id of the insurer delivery that follows a mutuality claim."""
    return message_id_for(DESTINATION, KIND, mutuality_message_id)


def _cover(claim: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(member number, insurer CBE, plan) of the claim's private cover, if it names one."""
    for entry in claim.get("insurance") or []:
        ident = (entry.get("coverage") or {}).get("identifier") or {}
        if ident.get("system") != MEMBER_SYSTEM:
            continue
        assigner = (ident.get("assigner") or {}).get("identifier") or {}
        if assigner.get("system") == CBE_SYSTEM:
            return (
                str(ident.get("value")),
                str(assigner.get("value")),
                str(entry.get("businessArrangement") or ""),
            )
    return None


def _total(response: Mapping[str, Any], code: str) -> Decimal | None:
    for line in response.get("total") or []:
        codes = [c.get("code") for c in (line.get("category") or {}).get("coding", [])]
        if code in codes:
            return Decimal(str(line["amount"]["value"]))
    return None


class InsurerClaims:
    """Enqueues the insurer's claim once the mutuality accepted; see the module docstring."""

    def __init__(
        self,
        engine: AsyncEngine,
        insurers: Mapping[str, InsurerSettings],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine, self.insurers, self.clock = engine, dict(insurers), clock

    def _insurer(self, cbe: str, plan: str) -> str | None:
        for key, conf in self.insurers.items():
            if conf.cbe == cbe and plan in conf.plans:
                return key
        return None

    def check_cover(self, claim: Mapping[str, Any]) -> None:
        """At submission: a cover the hub cannot bill is bad input (422, nothing stored)."""
        cover = _cover(claim)
        if cover is not None and self._insurer(cover[1], cover[2]) is None:
            raise RuleViolation(
                f"no configured insurer with CBE {cover[1]} runs plan {cover[2]!r}",
                field="Claim.insurance.coverage.identifier.assigner",
                rule="claim.insurer-cover",
            )

    async def after_mutuality(
        self,
        payload: Mapping[str, Any],
        message_id: str,
        response: Mapping[str, Any],
        reference: str,
        claim_task: str | None,
    ) -> OutboxItem | None:
        """The insurer's delivery (enqueued once) for a claim the mutuality accepted, if the
        claim names a private cover; None otherwise."""
        cover = _cover(payload["claim"])
        if cover is None or response.get("outcome") != "complete":
            return None
        member, cbe, plan = cover
        # checked at submission; a configuration changed since shows on the insurer's own Task
        key = self._insurer(cbe, plan) or ""
        claim, actor = payload["claim"], payload["actor"]
        item = claim["item"][0]
        fee = Decimal(str(item["net"]["value"]))
        reimbursed = _total(response, "benefit")
        reimbursed = fee if reimbursed is None else reimbursed
        facts = {
            "member": member,
            "insurer_cbe": cbe,
            "plan": plan,
            "mutuality": payload["facts"]["mutuality"],
            "code": next(c["code"] for c in item["productOrService"]["coding"]),
            "serviced": item["servicedDate"],
            "fee": str(fee),
            "reimbursed": str(reimbursed),
            "patient_cost": str(fee - reimbursed),
            "reference": reference,
            "provider_nihii": actor["nihii"],
            "diagnosis": _diagnosis(claim),
        }
        ssin = claim["patient"]["identifier"]["value"]
        return await self._enqueue(key, facts, ssin, actor, claim["id"], message_id, claim_task)

    async def _enqueue(
        self,
        key: str,
        facts: dict[str, Any],
        ssin: str,
        actor: Mapping[str, Any],
        claim_id: str,
        message_id: str,
        claim_task: str | None,
    ) -> OutboxItem:
        conf = self.insurers.get(key)
        name = conf.name if conf else f"no configured insurer (CBE {facts['insurer_cbe']})"
        payload = {
            "insurer": key,
            "facts": facts,
            "patient_ssin": ssin,
            "actor": {"nihii": actor["nihii"], "quality": actor["quality"]},
            "created": self.clock().isoformat(),
        }
        task = TaskInfo(
            focus=f"Claim/{message_id}",  # the mutuality claim's hub id (claim_reads)
            focus_identifier={"system": APP_CLAIM_SYSTEM, "value": claim_id},
            for_={"identifier": {"system": SSIN_SYSTEM, "value": ssin}},
            requester={"identifier": {"system": NIHDI_SYSTEM, "value": actor["nihii"]}},
            owner={
                "identifier": {"system": CBE_SYSTEM, "value": facts["insurer_cbe"]},
                "display": name,
            },
            description=f"claim to the patient's private insurer ({name})",
            extra={"claim-task": claim_task or "", "plan": facts["plan"]},
        )
        async with self.engine.begin() as conn:
            queued = await enqueue(
                conn,
                kind=KIND,
                destination=DESTINATION,
                ordering_key=ssin,
                payload=payload,
                task=task,
                dedup_key=message_id,
                item_id=uuid.uuid4().hex,
                now=self.clock(),
            )
        log.info("insurer_claim_queued", insurer=key, patient=mask_ssin(ssin), task=queued.id)
        return queued


class InsurerDelivery:
    """The ``insurer`` delivery destination: the gate decides, then the minimal Claim is sent."""

    def __init__(
        self,
        gate: PermitGate,
        insurers: InsurerPort,
        settings: Mapping[str, InsurerSettings],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.gate, self.insurers, self.settings, self.clock = gate, insurers, settings, clock

    async def __call__(self, payload: Mapping[str, Any], message_id: str) -> Mapping[str, Any]:
        key = str(payload["insurer"])
        conf = self.settings.get(key)
        if conf is None:
            raise ConfigurationError(f"no insurer {key!r} is configured", system="insurer")
        ssin, who = str(payload["patient_ssin"]), payload["actor"]
        request = AccessRequest(
            ssin,
            Actor(who["nihii"], who["quality"]),
            "insurer-claim",
            purpose="insurance-claim",
            recipient_cbe=conf.cbe,
        )
        permit = await self.gate.permit(request)
        require(permit, action="insurer-claim", patient_ssin=ssin, now=self.clock())
        claim = insurer_claim(
            payload["facts"],
            allowed=allowed(conf.data, permit.data_classes),
            claim_id=message_id,
            created=payload["created"],
        )
        answer = await self.insurers.submit(key, claim)
        log.info("insurer_claim_answered", insurer=key, outcome=answer.get("outcome"))
        return answer


def allowed(agreed: Collection[str], consented: Collection[str]) -> frozenset[str]:
    """What may leave for the insurer: its agreed elements, less each opt-in element
    (:data:`OPT_IN`) the patient's consent (the permit's data classes) did not opt in to."""
    return frozenset(e for e in agreed if e not in OPT_IN or e in consented)


def _diagnosis(claim: Mapping[str, Any]) -> list[list[dict[str, Any]]]:
    """The codings of the app Claim's ``diagnosis`` entries (kept in the payload; they leave
    only with the patient's opt-in: :func:`allowed`)."""
    return [
        list((entry.get("diagnosisCodeableConcept") or {}).get("coding") or [])
        for entry in claim.get("diagnosis") or []
        if (entry.get("diagnosisCodeableConcept") or {}).get("coding")
    ]


async def attach(engine: AsyncEngine, item: OutboxItem, task: Json) -> Json:
    """``task`` (a mutuality claim's) with its insurer delivery: an output naming the insurer's
    Task and, once answered, the insurer's ClaimResponse contained (``#insurer``)."""
    if item.destination != "mycarenet":
        return task
    async with outbox_store.guard("read"), engine.connect() as conn:
        follower = await _by_message_id(conn, insurer_message_id(item.message_id))
    if follower is None:
        return task
    outputs = list(task.get("output", []))
    outputs.append(
        _output("insurer-task", {"valueReference": {"reference": f"Task/{follower.id}"}})
    )
    if follower.status is Status.COMPLETED and follower.result is not None:
        task["contained"] = [*task.get("contained", []), {**follower.result, "id": "insurer"}]
        outputs.append(_output("insurer-answer", {"valueReference": {"reference": "#insurer"}}))
    task["output"] = outputs
    return task


def _output(code: str, value: Json) -> Json:
    return {"type": {"coding": [{"system": OUTPUT_SYSTEM, "code": code}], "text": code}, **value}


async def _by_message_id(conn: Any, message_id: str) -> OutboxItem | None:
    from sqlalchemy import select

    from ehealth_hub.store.tables import outbox

    row = (
        (await conn.execute(select(outbox).where(outbox.c.message_id == message_id)))
        .mappings()
        .first()
    )
    return None if row is None else OutboxItem.from_row(row)
