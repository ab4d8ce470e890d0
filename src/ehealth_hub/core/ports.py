"""Ports: the small Protocols the services and the consent gate use to reach downstream systems.

One adapter per external system implements each port (``connectors/<system>.py``); tests use the
fakes in ``tests/fakes`` or the simulators in ``fixtures/``. Methods that read a dossier or write
a note take a :class:`~ehealth_hub.core.permit.Permit` and check it before anything is sent.

Value types here are plain frozen dataclasses with strings for identifiers that have already been
validated by :mod:`ehealth_hub.core.identifiers`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, Protocol

from ehealth_hub.core.mycarenet_types import AsyncMessage, GmdFacts, InsurabilityFacts, PostReceipt
from ehealth_hub.core.permit import Permit


@dataclass(frozen=True, slots=True)
class Actor:
    """The care provider on whose behalf the hub calls (the STS token is theirs)."""

    nihii: str
    quality: str
    """eHealth quality: doctor, clinical_psychologist, nurse, ..."""
    ssin: str | None = None


# ----------------------------------------------------------------------------- consent facts


@dataclass(frozen=True, slots=True)
class NationalConsent:
    """The patient's informed consent for sharing (eHealth Consent service)."""

    patient_ssin: str
    status: Literal["active", "revoked"]
    signed: date | None = None
    revoked: date | None = None
    consent_type: str = "retrospective"


@dataclass(frozen=True, slots=True)
class TherapeuticLink:
    """A therapeutic link between a patient and a care provider (Therapeutic Link service)."""

    patient_ssin: str
    hcparty_nihii: str
    link_type: str
    """CD-TL type: gpconsultation, gpofficialconsultation, hospitalization, ..."""
    proof_type: str
    """CD-TL-PROOFTYPE: eidreading, isireading, eidsigning, eidencoding_nocard, ..."""
    start: date
    end: date | None = None


@dataclass(frozen=True, slots=True)
class Exclusion:
    """The patient excluded this care provider from their shared data."""

    patient_ssin: str
    hcparty_nihii: str
    since: date | None = None


class ConsentPort(Protocol):
    """The national Consent service."""

    async def get_consent(self, patient_ssin: str, actor: Actor) -> NationalConsent | None:
        """The patient's current consent, or None when never given."""
        ...

    async def put_consent(self, consent: NationalConsent, actor: Actor) -> None:
        """Register the patient's consent."""
        ...

    async def revoke_consent(self, patient_ssin: str, actor: Actor) -> None:
        """Revoke the patient's consent."""
        ...


class TherapeuticLinkPort(Protocol):
    """The Therapeutic Link service."""

    async def get_links(
        self, patient_ssin: str, actor: Actor, *, hcparty_nihii: str | None = None
    ) -> list[TherapeuticLink]:
        """Active links of the patient (optionally with one care provider)."""
        ...

    async def put_link(self, link: TherapeuticLink, actor: Actor) -> None:
        """Declare a link (the proof type says how the patient was identified)."""
        ...

    async def revoke_link(self, link: TherapeuticLink, actor: Actor) -> None:
        """End a link."""
        ...


class ExclusionPort(Protocol):
    """Therapeutic exclusions (kept by the regional hubs)."""

    async def get_exclusions(self, patient_ssin: str, actor: Actor) -> list[Exclusion]:
        """The care providers the patient excluded."""
        ...


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class TransactionRef:
    """A KMEHR transaction listed by a record source."""

    source: str
    """Key of the source: rsw, abrumet, cozo, vitalink, gp."""
    transaction_id: str
    type: str
    """CD-TRANSACTION: sumehr, medicationscheme, vaccination, contactreport, ..."""
    date: datetime | date
    author_nihii: str | None = None
    version: str | None = None
    """What changes whenever the source records new content under ``transaction_id`` (IntraHub
    ``recorddatetime``, a FHIR ``meta.versionId``); None when the source does not say. The same
    (source, id, version) always names the same bytes, so a read may be served from memory."""
    location: str | None = None
    """Where the content is fetched when the listing already says so (a GP Binary URL)."""


class RecordSourcePort(Protocol):
    """A source of a patient's records (a regional hub, or a GP system answering KMEHR)."""

    name: str

    async def list_transactions(
        self,
        permit: Permit,
        actor: Actor,
        *,
        types: tuple[str, ...],
        since: date | None = None,
    ) -> list[TransactionRef]:
        """The patient's transactions of these types (patient from the permit)."""
        ...

    async def get_transaction(self, permit: Permit, actor: Actor, ref: TransactionRef) -> bytes:
        """The KMEHR message of one transaction."""
        ...


# ----------------------------------------------------------------------------- notes


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    """A care provider as the AddressBook knows them."""

    nihii: str
    given: str
    family: str
    quality: str
    ehbox_id_type: str = "NIHII"
    """eHealthBox identifier type (NIHII, SSIN, CBE, ...) and value below."""
    ehbox_id: str = ""
    etk_available: bool = True


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A document for a care provider's eHealthBox, sealed for recipient and sender."""

    message_id: str
    """Deterministic id so that the receiver can de-duplicate a resend."""
    recipient: ProviderEntry
    title: str
    document: bytes
    mime_type: str
    patient_ssin: str
    filename: str = "note.xml"
    annexes: tuple[tuple[str, str, bytes], ...] = field(default=())
    """(filename, mime type, content) of each annex."""


@dataclass(frozen=True, slots=True)
class SendReceipt:
    """eHealthBox's answer to sendMessage."""

    message_id: str
    ehbox_message_id: str
    published: datetime


class AddressBookPort(Protocol):
    """The eHealth AddressBook."""

    async def find_provider(self, nihii: str, actor: Actor) -> ProviderEntry:
        """The care provider with this NIHII (NotFound when none)."""
        ...


class MailboxPort(Protocol):
    """The eHealthBox (send for the actor; the hub's own box for receipts)."""

    async def send_message(
        self, permit: Permit, actor: Actor, message: OutgoingMessage
    ) -> SendReceipt:
        """Seal and publish ``message`` (a note write: needs a write-note permit)."""
        ...


# ----------------------------------------------------------------------------- MyCareNet


class InsurabilityPort(Protocol):
    """MyCareNet MemberData: the patient's insurability on a date."""

    async def consult(self, actor: Actor, ssin: str, on: date) -> InsurabilityFacts:
        """What the patient's mutuality says (insured=False with reasons when not insured)."""
        ...


class GlobalMedicalFilePort(Protocol):
    """MyCareNet GlobalMedicalFile: who holds the patient's GMD (global medical file)."""

    async def consult_gmd(self, actor: Actor, ssin: str, on: date) -> GmdFacts:
        """The GMD holder, period and payment flag on ``on`` (holder None when there is none)."""
        ...


class AttestPort(Protocol):
    """MyCareNet eAttest v3 (FHIR messages), routed to the patient's mutuality."""

    async def send(
        self, actor: Actor, message: dict[str, object], *, facts: InsurabilityFacts, on: date
    ) -> dict[str, object]:
        """Send an eattest-create message; the answer message Bundle."""
        ...

    async def cancel(
        self, actor: Actor, message: dict[str, object], *, facts: InsurabilityFacts, on: date
    ) -> dict[str, object]:
        """Send an eattest-cancel message; the answer message Bundle."""
        ...


class EfactPort(Protocol):
    """eFact through MyCareNet GenericAsync: post batches, fetch and confirm the answers."""

    async def post(self, actor: Actor, batch: str, *, reference: str) -> PostReceipt:
        """Post one 920000 batch; the TAck."""
        ...

    async def tacks(self, actor: Actor) -> list[PostReceipt]:
        """The TAcks waiting for ``actor`` (finds a post whose answer was lost)."""
        ...

    async def fetch(self, actor: Actor) -> list[AsyncMessage]:
        """The messages waiting for ``actor`` (acknowledgements, results)."""
        ...

    async def confirm(self, actor: Actor, messages: list[AsyncMessage]) -> None:
        """Confirm (remove) fetched messages."""
        ...


class MentalHealthCarePort(Protocol):
    """MyCareNet Mental Health Care (MHC): records a psychologist's session of the first-line
    convention. ACCEPTANCE-ONLY: the message and answer shapes are assumed
    (``mappings/mhc.py``); the hub refuses to start in production with it until verified."""

    async def record_session(self, actor: Actor, message: dict[str, object]) -> dict[str, object]:
        """Record one session (``message``: ``mappings.mhc.session_message``); the answer."""
        ...
