"""eHealthBox v3: send a sealed document to a care provider's box, and read the hub's own box.

Contract: eHealth ehBox 3.0, publication (``urn:be:fgov:ehealth:ehbox:publication:protocol:v3``:
sendMessage) and consultation (``urn:be:fgov:ehealth:ehbox:consultation:protocol:v3``:
getMessagesList, getFullMessage, moveMessage, deleteMessage), SOAP 1.1 document/literal, signed
with the actor's SAML holder-of-key token. Own WSDL ``wsdl/ehbox_v3.wsdl``.

sendMessage: the document, the annexes with their titles and the patient's SSIN
(``EncryptableINSSPatient``) are sealed with ETEE for the recipient's ETK and the sender's own
(:class:`EteeSealing`); each sealed content travels inline as ``EncryptableTextContent`` with its
``Digest`` (base64 SHA-256 of the sealed bytes: the official type requires a digest and names no
algorithm, so this is the hub's reading), publication and read receipts are requested,
``PublicationId`` is derived from the caller's deterministic message id (the box de-duplicates a
resend) and the full id travels as CustomMeta ``hub-message-id`` (Key/Value). The ContentContext
follows the official publication ``ContentContextType`` (tests validate it against the schema).
A send is a write: attempted once and only with a ``write-note`` Permit. Status code ``100`` is
success; any other code is a BusinessRejection.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cryptography import x509

from ehealth_hub.core.errors import BusinessRejection, DownstreamProtocolError
from ehealth_hub.core.permit import Permit, require
from ehealth_hub.core.ports import Actor, OutgoingMessage, SendReceipt
from ehealth_hub.trust.credentials import Credential
from ehealth_hub.trust.etee import EtkDepotClient, EtkId, seal, unseal
from ehealth_hub.trust.protected import ProtectedSoap

SYSTEM = "ehbox"
SUCCESS: Final = "100"
BOX_QUALITY: Final = {
    "doctor": "DOCTOR",
    "clinical_psychologist": "CLINICALPSYCHOLOGIST",
    "nurse": "NURSE",
}
CONTENT_SPECIFICATION: Final = {
    "ContentType": "DOCUMENT",
    "IsImportant": False,
    "IsEncrypted": True,
    "PublicationReceipt": True,
    "ReceivedReceipt": True,
    "ReadReceipt": True,
}
"""sendMessage's ContentSpecification: a sealed document with every receipt requested."""


@dataclass(frozen=True, slots=True)
class BoxId:
    """An eHealthBox address: identifier type and value, and the quality of the box."""

    id: str
    type: str
    quality: str


@dataclass(frozen=True, slots=True)
class BoxMessage:
    """A message listed in a box (getMessagesList)."""

    message_id: str
    publication_id: str
    sender: BoxId
    published: datetime
    title: str
    mime_type: str
    has_annex: bool
    encrypted: bool
    custom_meta: dict[str, str]


@dataclass(frozen=True, slots=True)
class FullMessage:
    """A message read in full (getFullMessage), unsealed."""

    message_id: str
    sender: BoxId
    published: datetime
    title: str
    document: bytes
    mime_type: str
    patient_ssin: str | None
    custom_meta: dict[str, str]


class EteeSealing:
    """ETEE for the eHealthBox: seal for recipients + the sender's own ETK; open the hub's box."""

    def __init__(
        self,
        depot: EtkDepotClient,
        *,
        credentials: Callable[[Actor], Credential],
        own_etk: Callable[[Actor], EtkId],
        box_key: Credential | None,
        truststore: Sequence[x509.Certificate],
        clock: Callable[[], datetime],
    ) -> None:
        self.depot, self.credentials, self.own_etk = depot, credentials, own_etk
        self.box_key, self.truststore, self.clock = box_key, tuple(truststore), clock

    async def seal(self, payload: bytes, actor: Actor, recipients: Sequence[EtkId]) -> bytes:
        """CMS sealed for every recipient and for the sender (off the event loop)."""
        etks = [await self.depot.get_etk(r) for r in recipients]
        own = await self.depot.get_etk(self.own_etk(actor))
        sender = self.credentials(actor)
        return await asyncio.to_thread(seal, payload, sender, etks, sender_etk=own)

    async def unseal(self, sealed: bytes) -> bytes:
        """Open a message addressed to the hub's own box."""
        if self.box_key is None:
            raise DownstreamProtocolError("no ETK key configured for the hub's box", system=SYSTEM)
        opened = await asyncio.to_thread(
            unseal, sealed, self.box_key, truststore=self.truststore, now=self.clock()
        )
        return opened.payload


def digest(content: bytes) -> str:
    """The ``Digest`` sent with a content: base64 SHA-256 of the bytes as sent (sealed)."""
    return base64.b64encode(hashlib.sha256(content).digest()).decode()


def publication_id(message_id: str) -> str:
    """The 13-character publicationId eHealthBox accepts, stable for one message id."""
    return hashlib.sha256(message_id.encode()).hexdigest()[:13].upper()


def _status(answer: Any, operation: str) -> None:
    # zeep unwraps a response whose only child is Status (moveMessage, deleteMessage)
    status = getattr(answer, "Status", None) or (answer if hasattr(answer, "Code") else None)
    if status is None:
        raise DownstreamProtocolError("answer without Status", system=SYSTEM, operation=operation)
    if str(status.Code) != SUCCESS:
        raise BusinessRejection(
            "; ".join(map(str, status.Message or [])) or "refused",
            system=SYSTEM,
            operation=operation,
            code=str(status.Code),
        )


def _box(box: BoxId | None) -> dict[str, str] | None:
    return None if box is None else {"Id": box.id, "Type": box.type, "Quality": box.quality}


def _meta(items: Any) -> dict[str, str]:
    return {str(m.Key): str(m.Value) for m in items or []}


def _sender(message: Any) -> BoxId:
    return BoxId(str(message.Sender.Id), str(message.Sender.Type), str(message.Sender.Quality))


class EhboxClient:
    """A :class:`~ehealth_hub.core.ports.MailboxPort`, plus the hub's own box."""

    def __init__(
        self,
        publication: ProtectedSoap,
        consultation: ProtectedSoap,
        sealing: EteeSealing,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.publication, self.consultation, self.sealing, self.clock = (
            publication,
            consultation,
            sealing,
            clock,
        )

    async def send_message(
        self, permit: Permit, actor: Actor, message: OutgoingMessage
    ) -> SendReceipt:
        """Seal and publish ``message`` (needs a write-note permit for its patient)."""
        require(permit, action="write-note", patient_ssin=message.patient_ssin, now=self.clock())
        to = message.recipient
        answer = await self.publication.call(
            actor,
            "SendMessage",
            idempotent=False,
            PublicationId=publication_id(message.message_id),
            DestinationContext=[
                {
                    "Id": to.ehbox_id or to.nihii,
                    "Type": to.ehbox_id_type,
                    "Quality": BOX_QUALITY.get(to.quality, to.quality.upper()),
                }
            ],
            ContentContext={
                "Content": await self._sealed_content(actor, message),
                "ContentSpecification": dict(CONTENT_SPECIFICATION),
                "CustomMeta": [{"Key": "hub-message-id", "Value": message.message_id}],
            },
        )
        _status(answer, "SendMessage")
        return SendReceipt(message.message_id, str(answer.Id), answer.Published or self.clock())

    async def _sealed_content(self, actor: Actor, message: OutgoingMessage) -> dict[str, Any]:
        """The Content of sendMessage: document, annexes and patient SSIN, each sealed."""
        to = message.recipient
        recipients = [EtkId(to.ehbox_id_type, to.ehbox_id or to.nihii)]

        async def sealed(data: bytes) -> bytes:
            return await self.sealing.seal(data, actor, recipients)

        async def content(filename: str, mime: str, data: bytes) -> dict[str, Any]:
            body = await sealed(data)
            return {
                "EncryptableTextContent": body,
                "DownloadFileName": filename,
                "MimeType": mime,
                "Digest": digest(body),
            }

        # annexes first, then the document and the SSIN: the order sendMessage always sealed in
        annexes = [
            {"EncryptableTitle": await sealed(n.encode()), **await content(n, mime, data)}
            for n, mime, data in message.annexes
        ]
        main = {
            "Title": message.title,
            **await content(message.filename, message.mime_type, message.document),
        }
        return {
            "Document": main,
            "EncryptableINSSPatient": await sealed(message.patient_ssin.encode()),
            "Annex": annexes,
        }

    async def _consult(
        self,
        actor: Actor,
        operation: str,
        *,
        idempotent: bool,
        box: BoxId | None,
        source: str,
        **fields: Any,
    ) -> Any:
        """One consultation call on ``box``'s ``source`` folder, its Status checked."""
        answer = await self.consultation.call(
            actor, operation, idempotent=idempotent, BoxId=_box(box), Source=source, **fields
        )
        _status(answer, operation)
        return answer

    async def list_messages(
        self, actor: Actor, *, box: BoxId | None = None, source: str = "INBOX"
    ) -> list[BoxMessage]:
        """getMessagesList of ``box`` (default: the actor's own box)."""
        answer = await self._consult(
            actor, "GetMessagesList", idempotent=True, box=box, source=source
        )
        return [
            BoxMessage(
                str(m.MessageId),
                str(m.PublicationId or ""),
                _sender(m),
                m.MessageInfo.PublicationDate,
                str(m.ContentInfo.Title),
                str(m.ContentInfo.MimeType),
                bool(m.ContentInfo.HasAnnex),
                bool(m.MessageInfo.IsEncrypted),
                _meta(m.CustomMeta),
            )
            for m in answer.Message or []
        ]

    async def get_full_message(
        self, actor: Actor, message_id: str, *, box: BoxId | None = None, source: str = "INBOX"
    ) -> FullMessage:
        """getFullMessage, unsealed with the hub's box key when encrypted."""
        answer = await self._consult(
            actor, "GetFullMessage", idempotent=True, box=box, source=source, MessageId=message_id
        )
        m = answer.Message
        if m is None:
            raise DownstreamProtocolError(
                "success without Message", system=SYSTEM, operation="GetFullMessage"
            )
        content = m.ContentContext.Content
        encrypted = bool(m.MessageInfo.IsEncrypted)
        document = content.Document.EncryptableTextContent
        patient = content.EncryptableINSSPatient
        if encrypted:
            document = await self.sealing.unseal(document)
            patient = await self.sealing.unseal(patient) if patient else None
        return FullMessage(
            str(m.MessageId),
            _sender(m),
            m.MessageInfo.PublicationDate,
            str(content.Document.Title),
            document,
            str(content.Document.MimeType),
            patient.decode() if patient else None,
            _meta(m.ContentContext.CustomMeta),
        )

    async def move_messages(
        self,
        actor: Actor,
        message_ids: Sequence[str],
        *,
        source: str,
        destination: str,
        box: BoxId | None = None,
    ) -> None:
        """moveMessage (a write: attempted once)."""
        await self._consult(
            actor,
            "MoveMessage",
            idempotent=False,
            box=box,
            source=source,
            Destination=destination,
            MessageId=list(message_ids),
        )

    async def delete_messages(
        self, actor: Actor, message_ids: Sequence[str], *, source: str, box: BoxId | None = None
    ) -> None:
        """deleteMessage (a write: attempted once)."""
        await self._consult(
            actor,
            "DeleteMessage",
            idempotent=False,
            box=box,
            source=source,
            MessageId=list(message_ids),
        )
