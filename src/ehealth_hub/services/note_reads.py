"""Reading back the consultation notes the hub accepted (``GET /fhir/DocumentReference``, ``GET
/fhir/Binary``), each within the caller's compartment, every note shown audited (``note-read``).

Who sees which note (a scope says the type, the compartment says which ones; anything else is
answered 404, like a note that does not exist):

* a client acting for a practitioner (``user/DocumentReference.r``/``.s``): the notes that
  practitioner sent (the same rule as their Tasks, :mod:`.task_access`);
* GP software (kind ``gp-software``, ``system/DocumentReference.r``/``.s``): the notes addressed
  to the GPs it serves (its registry ``serves``);
* the KMEHR message that was sent (``Binary``, ``user/Binary.r``): the sender only, i.e. the
  same client acting for the same practitioner; the GP software reads the message in the GP's
  eHealthBox, where it was delivered, not here.

How a note shows its delivery (the DocumentReference is the note as the client sent it, with the
id the hub gave it): FHIR R4 has no element for "delivered to its recipient";
``DocumentReference.status`` is the reference's own status (``current``) and ``docStatus`` the
document's (``final``: the GP received what the KMEHR says), so the delivery is linked as
``context.related`` = ``Task/{id}`` (a Reference(Any) that a client resolves like any other; the
Task holds the whole delivery history) and its status is repeated in the extension
:data:`DELIVERY_STATUS` (a Coding of http://hl7.org/fhir/task-status, or the hub's
``delivery-status`` code ``purged`` once retention removed the Task). For its sender, a second
``content`` names the KMEHR message as ``Binary/{id}`` (``contentType`` ``text/xml``, as it was
put in the eHealthBox).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit.events import AuditRecord
from ehealth_hub.audit.log import AuditLog
from ehealth_hub.auth.principal import Principal
from ehealth_hub.auth.scopes import (
    NOTE_READ,
    NOTE_READ_SYSTEM,
    NOTE_SEARCH,
    NOTE_SEARCH_SYSTEM,
    SENT_KMEHR_READ,
)
from ehealth_hub.core.errors import InvalidInput, NotFound
from ehealth_hub.core.search import Page, PageRequest, mapped
from ehealth_hub.delivery.outbox import Status
from ehealth_hub.delivery.task import BUSINESS_STATUS_SYSTEM, fhir_statuses
from ehealth_hub.fhir.builders import Json
from ehealth_hub.fhir.profiles import HUB_SYSTEM_BASE
from ehealth_hub.services.notes_store import NoteFilter, NoteRow, get_note, search_notes

DELIVERY_STATUS: Final = f"{HUB_SYSTEM_BASE}/StructureDefinition/delivery-status"
"""Extension on a served note: the status of its delivery to the GP (a Coding)."""
TASK_STATUS_SYSTEM: Final = "http://hl7.org/fhir/task-status"
KMEHR_CONTENT_TYPE: Final = "text/xml"
"""The MIME type the KMEHR message was put in the eHealthBox with (services/notes.py)."""
_FHIR_STATUS: Final = {
    s: code
    for code in ("requested", "in-progress", "completed", "failed")
    for s in fhir_statuses(code)
}
_NOTHING: Final = NoteFilter(senders=frozenset(), recipients=frozenset())


@dataclass(frozen=True, slots=True)
class SentKmehr:
    """The KMEHR message sent for a note, as its sender may read it (a FHIR Binary)."""

    note_id: str
    content: bytes
    sent_at: datetime
    """When the note was accepted and the message built."""
    content_type: str = KMEHR_CONTENT_TYPE

    def resource(self) -> Json:
        """The FHIR Binary (R4: ``data`` base64; ``securityContext`` = the note it was sent for)."""
        return {
            "resourceType": "Binary",
            "id": self.note_id,
            "contentType": self.content_type,
            # the message sent never changes: one version, as old as the note
            "meta": {"versionId": "1", "lastUpdated": self.sent_at.isoformat()},
            "securityContext": {"reference": f"DocumentReference/{self.note_id}"},
            "data": base64.b64encode(self.content).decode(),
        }


def compartment(principal: Principal, *, search: bool = False) -> NoteFilter:
    """The notes ``principal`` may see (none when its kind reads no note)."""
    user, system = (NOTE_SEARCH, NOTE_SEARCH_SYSTEM) if search else (NOTE_READ, NOTE_READ_SYSTEM)
    if principal.allows(system) and principal.kind == "gp-software":
        return NoteFilter(recipients=principal.serves)
    if principal.allows(user) and principal.practitioner_nihii:
        return NoteFilter(senders=frozenset({principal.practitioner_nihii}))
    return _NOTHING


def is_sender(principal: Principal, row: NoteRow) -> bool:
    """True when ``principal`` is the client that sent ``row``, for the practitioner who did."""
    return (
        principal.allows(SENT_KMEHR_READ)
        and principal.client_id == row.client_id
        and principal.practitioner_nihii == row.actor_nihii
    )


def delivery_coding(row: NoteRow) -> Json:
    """The status of the note's delivery (see the module docstring)."""
    if row.delivery is None:
        return {"system": BUSINESS_STATUS_SYSTEM, "code": "purged"}
    return {"system": TASK_STATUS_SYSTEM, "code": _FHIR_STATUS[row.delivery]}


def document(row: NoteRow, *, sender: bool) -> Json:
    """The note as a DocumentReference (see the module docstring)."""
    doc: Json = {**row.resource, "id": row.id, "docStatus": "final", "meta": _meta(row)}
    extensions = [e for e in doc.get("extension", []) if e.get("url") != DELIVERY_STATUS]
    doc["extension"] = [*extensions, {"url": DELIVERY_STATUS, "valueCoding": delivery_coding(row)}]
    if row.delivery is not None:
        context = dict(doc.get("context", {}))
        task = {"reference": f"Task/{row.outbox_id}", "display": "delivery to the GP"}
        context["related"] = [*context.get("related", []), task]
        doc["context"] = context
    if sender:
        doc["content"] = [*doc.get("content", []), _kmehr_content(row)]
    return doc


def _meta(row: NoteRow) -> Json:
    """The note's version: the note itself never changes once accepted, only its delivery does
    (the status extension, ``context.related``), so its ``versionId`` is its delivery's (the
    Task's, bumped on every transition) and ``lastUpdated`` the delivery's last change. Once
    retention purged the delivery the note changed one last time, at a moment nobody recorded:
    ``versionId`` ``purged`` and no ``lastUpdated`` (an older one would make ``If-Modified-Since``
    answer 304 for a note that did change)."""
    meta = {k: v for k, v in row.resource.get("meta", {}).items() if k != "lastUpdated"}
    if row.delivery_version is None or row.delivery_updated is None:
        return {**meta, "versionId": "purged"}
    updated = max(row.created_at, row.delivery_updated)
    return {**meta, "versionId": str(row.delivery_version), "lastUpdated": updated.isoformat()}


def _kmehr_content(row: NoteRow) -> Json:
    sha1 = base64.b64encode(hashlib.sha1(row.kmehr, usedforsecurity=False).digest()).decode()
    return {
        "attachment": {
            "contentType": KMEHR_CONTENT_TYPE,
            "url": f"Binary/{row.id}",
            "size": len(row.kmehr),
            "hash": sha1,  # FHIR Attachment.hash is SHA-1 by definition
            "title": "KMEHR message sent to the GP's eHealthBox",
            "creation": row.created_at.isoformat(),
        }
    }


class NoteReads:
    """Read and search the accepted notes, and read the KMEHR sent (see the module docstring)."""

    def __init__(self, engine: AsyncEngine, audit: AuditLog) -> None:
        self.engine, self.audit = engine, audit

    async def read(self, note_id: str, principal: Principal) -> Json:
        """The DocumentReference ``note_id`` (NotFound outside the caller's compartment)."""
        row = await self._load(note_id, compartment(principal))
        await self._audit(principal, [row], "read")
        return document(row, sender=is_sender(principal, row))

    async def sent_kmehr(self, note_id: str, principal: Principal) -> SentKmehr:
        """The KMEHR message sent for note ``note_id``, for its sender only (else NotFound)."""
        row = await self._load(note_id, NoteFilter())
        if not is_sender(principal, row):
            raise NotFound(f"Binary/{note_id} not found", system="api", code="not-found")
        await self._audit(principal, [row], "binary")
        return SentKmehr(row.id, row.kmehr, row.created_at)

    async def search(
        self, principal: Principal, criteria: NoteFilter, page: PageRequest
    ) -> Page[Json]:
        """One page of the caller's notes matching ``criteria``, newest first."""
        seen = compartment(principal, search=True)
        query = NoteFilter(
            senders=seen.senders,
            recipients=seen.recipients,
            patient=criteria.patient,
            statuses=criteria.statuses,
            deliveries=criteria.deliveries,
        )
        found = await search_notes(self.engine, query, page)
        await self._audit(principal, list(found.items), "search")
        return mapped(found, [document(r, sender=is_sender(principal, r)) for r in found.items])

    async def _load(self, note_id: str, seen: NoteFilter) -> NoteRow:
        row = await get_note(self.engine, note_id, seen)
        if row is None:
            raise NotFound(f"DocumentReference/{note_id} not found", system="api", code="not-found")
        return row

    async def _audit(self, principal: Principal, rows: list[NoteRow], operation: str) -> None:
        records = [_read_audit(principal, r, operation) for r in rows]
        if records:
            async with self.audit.appending(self.engine) as conn:
                await self.audit.record_many(conn, records)


def _read_audit(principal: Principal, row: NoteRow, operation: str) -> AuditRecord:
    return AuditRecord(
        id=str(uuid.uuid4()),
        recorded=datetime.now(UTC),
        action="note-read",
        outcome="success",
        patient_ssin=row.patient_ssin,
        actor_nihii=principal.practitioner_nihii,
        actor_quality=principal.quality,
        client_id=principal.client_id,
        detail={"note": f"DocumentReference/{row.id}", "operation": operation},
    )


def delivery_statuses(codes: tuple[str, ...]) -> tuple[Status, ...]:
    """The outbox statuses ``delivery-status`` search codes (Task.status codes) stand for;
    InvalidInput naming the parameter for a code that is none."""
    found: tuple[Status, ...] = ()
    for code in codes:
        statuses = fhir_statuses(code)
        if not statuses:
            raise InvalidInput(
                f"unknown delivery-status {code!r}: requested, in-progress, completed, failed",
                field="delivery-status",
                rule="search.delivery-status",
                system="api",
            )
        found += statuses
    return found
