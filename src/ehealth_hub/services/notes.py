"""The consultation note to the patient's own GP (journey 2).

Accepting (``POST /fhir/DocumentReference``): the note (HL7-BE be-documentreference, FHIR R4) names
the patient, the author (must be the acting practitioner) and, optionally, the patient's GP -> the
recipient: the GP the note names (rule ``note.recipient.named``), else the holder of the
patient's global medical file as MyCareNet GlobalMedicalFile names it today (rule
``note.recipient.gmd-holder``); neither: 422 naming ``note.recipient.gmd-holder``; the rule is
recorded in the Task (input ``recipient-rule``) and the AuditEvent -> the consent gate
(``write-note``, recipient = that GP) -> KMEHR 1.38 through
:func:`ehealth_hub.mappings.note_to_kmehr.note_to_kmehr` -> the eHealth AddressBook confirms the GP
and their eHealthBox -> ONE database transaction writes the outbox item (destination ``ehbox``)
and the AuditEvent -> the caller gets the Task that follows the delivery (202).

Delivering (:class:`NoteDelivery`, the ``ehbox`` destination of the delivery workers): the gate is
asked again (consent may have been withdrawn in between), then the eHealthBox adapter seals the
KMEHR for the GP and publishes it with the outbox's deterministic message id. A refusal there
(ConsentDenied) ends the delivery as ``failed``; a consent source that cannot be reached
(ConsentUnavailable, retryable) is retried with the ``ehbox`` policy's backoff like any downstream
outage, counts towards its circuit breaker, and becomes a dead letter only after the policy's limit.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit.events import AuditRecord
from ehealth_hub.audit.log import AuditLog
from ehealth_hub.consent.model import AccessRequest
from ehealth_hub.core.errors import MappingError, RuleViolation
from ehealth_hub.core.ports import (
    Actor,
    AddressBookPort,
    GlobalMedicalFilePort,
    MailboxPort,
    OutgoingMessage,
    ProviderEntry,
)
from ehealth_hub.delivery.outbox import OutboxItem, TaskInfo, enqueue
from ehealth_hub.fhir.builders import Json, uuid5_ids
from ehealth_hub.fhir.profiles import NIHDI_SYSTEM, SSIN_SYSTEM
from ehealth_hub.mappings import kmehr_write as w
from ehealth_hub.mappings.note_to_kmehr import note_to_kmehr
from ehealth_hub.services.gate import PermitGate
from ehealth_hub.services.note_input import as_document, note_parties
from ehealth_hub.services.notes_store import NoteRow, insert_note

log = structlog.get_logger(__name__)

DESTINATION: Final = "ehbox"
KIND: Final = "consultation-note"
_HCPARTY: Final = {"doctor": "persphysician", "clinical_psychologist": "persclinicalpsychologist"}
NAMED: Final = "note.recipient.named"
GMD_HOLDER: Final = "note.recipient.gmd-holder"


@dataclass(frozen=True, slots=True)
class NoteAccepted:
    """What the hub accepted: the stored delivery (rendered as a Task) and the note's id."""

    note_id: str
    item: OutboxItem


def _recipient(entry: ProviderEntry) -> w.Party:
    return w.Party(
        kind=_HCPARTY.get(entry.quality, "persphysician"),
        nihii=entry.nihii,
        firstname=entry.given or None,
        familyname=entry.family or None,
    )


class NotesService:
    """Accepts consultation notes and hands them to the outbox."""

    def __init__(
        self,
        gate: PermitGate,
        addressbook: AddressBookPort,
        engine: AsyncEngine,
        *,
        gmd: GlobalMedicalFilePort | None = None,
        audit: AuditLog | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.gate = gate
        self.addressbook = addressbook
        self.gmd = gmd
        self.engine = engine
        self.audit = audit or AuditLog()
        self.clock = clock

    async def accept(self, note: Json, actor: Actor, *, client_id: str) -> NoteAccepted:
        """Check, translate and enqueue ``note``; ConsentDenied / InvalidInput when refused."""
        ssin, authors, named = note_parties(note)
        if actor.nihii not in authors:
            raise RuleViolation(
                "the note's author must be the practitioner the token acts for",
                field="DocumentReference.author",
                rule="note.author-is-actor",
            )
        gp_nihii, rule = await self._recipient(ssin, named, actor)
        request = AccessRequest(
            ssin, actor, "write-note", recipient_nihii=gp_nihii, client_id=client_id
        )
        permit = await self.gate.permit(request)
        gp = await self.addressbook.find_provider(gp_nihii, actor)
        digest = hashlib.sha256(orjson.dumps(note, option=orjson.OPT_SORT_KEYS)).hexdigest()
        note_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"ehealth-hub:note:{digest}"))
        if note.get("resourceType") == "DocumentReference" and not note.get("id"):
            note = {**note, "id": note_id}  # a create carries no id; the mapping resolves by id
        now = self.clock()
        kmehr = note_to_kmehr(note, now=now, new_id=uuid5_ids(digest), recipient=_recipient(gp))
        accepted = _Accepted(note_id, ssin, actor, client_id, gp, permit.decision_id, now, rule)
        item = await self._store(accepted, kmehr, as_document(note))
        log.info("note_accepted", task=item.id, note=note_id, recipient_rule=rule)
        return NoteAccepted(note_id, item)

    async def _recipient(self, ssin: str, named: str | None, actor: Actor) -> tuple[str, str]:
        """(recipient NIHII, the rule that chose it); see the module docstring."""
        if named is not None:
            return named, NAMED
        if self.gmd is None:
            raise RuleViolation(
                "the patient's GP must be named (NIHII): no GMD lookup is configured",
                field="Patient.generalPractitioner",
                rule="note.recipient",
            )
        facts = await self.gmd.consult_gmd(actor, ssin, self.clock().date())
        if facts.holder is None:
            raise MappingError(
                "the note names no GP and MyCareNet knows no holder of the patient's global "
                "medical file: name the recipient in Patient.generalPractitioner",
                field="Patient.generalPractitioner",
                rule=GMD_HOLDER,
            )
        return facts.holder.nihii, GMD_HOLDER

    async def _store(self, note: _Accepted, kmehr: bytes, document: Json) -> OutboxItem:
        """The outbox row, the note (readable as a DocumentReference) and its AuditEvent, in one
        transaction (all or nothing)."""
        async with self.engine.begin() as conn:
            item = await enqueue(
                conn,
                kind=KIND,
                destination=DESTINATION,
                ordering_key=note.ssin,
                payload=note.payload(kmehr),
                task=note.task(),
                dedup_key=note.note_id,
                now=note.now,
            )
            await insert_note(conn, note.row(item.id, kmehr, document))
            await self.audit.record(conn, note.audit(item.id))
        return item


@dataclass(frozen=True, slots=True)
class _Accepted:
    """A note the gate allowed, addressed to a GP the AddressBook confirmed."""

    note_id: str
    ssin: str
    actor: Actor
    client_id: str
    gp: ProviderEntry
    decision_id: str
    now: datetime
    rule: str
    """The rule that chose the recipient (:data:`NAMED` or :data:`GMD_HOLDER`)."""

    def payload(self, kmehr: bytes) -> dict[str, Any]:
        """What the ``ehbox`` destination needs to deliver it (see :class:`NoteDelivery`)."""
        gp = self.gp
        return {
            "note_id": self.note_id,
            "patient_ssin": self.ssin,
            "actor": {"nihii": self.actor.nihii, "quality": self.actor.quality},
            "client_id": self.client_id,
            "recipient": {
                "nihii": gp.nihii,
                "given": gp.given,
                "family": gp.family,
                "quality": gp.quality,
                "ehbox_id_type": gp.ehbox_id_type,
                "ehbox_id": gp.ehbox_id or gp.nihii,
            },
            "kmehr": base64.b64encode(kmehr).decode(),
        }

    def row(self, task_id: str, kmehr: bytes, document: Json) -> NoteRow:
        """The stored note (``GET /fhir/DocumentReference``, its KMEHR as ``GET /fhir/Binary``)."""
        return NoteRow(
            id=self.note_id,
            outbox_id=task_id,
            patient_ssin=self.ssin,
            actor_nihii=self.actor.nihii,
            client_id=self.client_id,
            recipient_nihii=self.gp.nihii,
            resource={**document, "id": self.note_id},
            kmehr=kmehr,
            created_at=self.now,
        )

    def task(self) -> TaskInfo:
        """What the Task following the delivery says."""
        return TaskInfo(
            focus=f"DocumentReference/{self.note_id}",
            for_={"identifier": {"system": SSIN_SYSTEM, "value": self.ssin}},
            requester={"identifier": {"system": NIHDI_SYSTEM, "value": self.actor.nihii}},
            owner={"identifier": {"system": NIHDI_SYSTEM, "value": self.gp.nihii}},
            description="consultation note to the patient's GP (eHealthBox)",
            extra={"recipient-rule": self.rule},
        )

    def audit(self, task_id: str) -> AuditRecord:
        """The AuditEvent of the accepted note write."""
        return AuditRecord(
            id=uuid.uuid4().hex,
            recorded=self.now,
            action="write-note",
            outcome="success",
            patient_ssin=self.ssin,
            actor_nihii=self.actor.nihii,
            actor_quality=self.actor.quality,
            client_id=self.client_id,
            decision_id=self.decision_id,
            detail={
                "recipient": self.gp.nihii,
                "recipient_rule": self.rule,
                "task": task_id,
                "note": self.note_id,
            },
        )


class NoteDelivery:
    """The ``ehbox`` delivery destination: re-checks consent, then sends through the eHealthBox."""

    def __init__(self, gate: PermitGate, mailbox: MailboxPort) -> None:
        self.gate = gate
        self.mailbox = mailbox

    async def __call__(self, payload: Mapping[str, Any], message_id: str) -> Mapping[str, Any]:
        actor = Actor(payload["actor"]["nihii"], payload["actor"]["quality"])
        recipient = ProviderEntry(**payload["recipient"])
        request = AccessRequest(
            payload["patient_ssin"],
            actor,
            "write-note",
            recipient_nihii=recipient.nihii,
            client_id=payload.get("client_id", ""),
        )
        permit = await self.gate.permit(request)
        message = OutgoingMessage(
            message_id=message_id,
            recipient=recipient,
            title="Consultation note",
            document=base64.b64decode(payload["kmehr"]),
            mime_type="text/xml",
            patient_ssin=payload["patient_ssin"],
            filename="consultation-note.xml",
        )
        receipt = await self.mailbox.send_message(permit, actor, message)
        return {
            "message_id": receipt.message_id,
            "ehbox_message_id": receipt.ehbox_message_id,
            "published": receipt.published.isoformat(),
        }
