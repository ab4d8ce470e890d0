"""The regional hubs' IntraHub v3 TransactionService (RSW, Abrumet/BHN, CoZo, Vitalink) and the
hubservices v3 message helpers the national Consent connector shares.

Contract: eHealth hubservices v3 (XSD specification 3.5; namespaces
``http://www.ehealth.fgov.be/hubservices/protocol/v3`` and ``.../core/v3``), SOAP 1.1
document/literal, business calls signed with the actor's SAML holder-of-key token. The project's
own WSDL is ``wsdl/intrahub_v3.wsdl``; acceptance/production may load the official one instead.

Every request carries the hubservices header (``request``: KMEHR id, author = the actor as
``hcparty`` with ID-HCPARTY and CD-HCPARTY, date, time, optional ``breaktheglass``). A hub that
understood but refused answers ``acknowledge/iscomplete = false`` with KMEHR ``error`` elements:
these become :class:`~ehealth_hub.errors.BusinessRejection` (code = the CD-ERROR value).

Operations: GetTransactionList (patient, period, CD-TRANSACTION types), GetTransaction (one KMEHR
message), PutTransaction (a KMEHR message sealed with ETEE for the hub's ETK ``EHP`` = hub id, as
``sealedkmehrmessage`` in the project's schema; a write, never retried), GetPatientAuditTrail,
GetTherapeuticLink (the patient's exclusions: negative links).
:class:`HubRecords` asks every configured hub concurrently and reports per-hub failures instead of
failing the whole read.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo

import structlog
from lxml import etree

from ehealth_hub.connectors.etee import EtkId
from ehealth_hub.connectors.ports import Actor, Exclusion, TransactionRef
from ehealth_hub.connectors.resilience import ProtectedSoap
from ehealth_hub.consent.permit import Action, Permit, require
from ehealth_hub.errors import (
    BusinessRejection,
    ConsentDenied,
    DownstreamProtocolError,
    HubError,
)
from ehealth_hub.mappings.xml import KMEHR_NS

_log = structlog.get_logger(__name__)
BRUSSELS: Final = ZoneInfo("Europe/Brussels")
EXCLUSION: Final = ("CD-HUBTHERAPEUTICLINK", "therapeuticexclusion")
"""How the sandbox hubs code a patient's exclusion of a care provider (a negative link)."""
HCPARTY_QUALITY: Final = {
    "doctor": "persphysician",
    "clinical_psychologist": "persclinicalpsychologist",
    "nurse": "persnurse",
    "physiotherapist": "persphysiotherapist",
}
"""eHealth quality -> CD-HCPARTY code of the author."""


def kmehr_id(scheme: str, value: str, sv: str = "1.0") -> dict[str, str]:
    """A KMEHR ``id``/``cd`` value as zeep takes it."""
    return {"_value_1": value, "S": scheme, "SV": sv}


def patient_id(ssin: str) -> dict[str, Any]:
    return {"id": [kmehr_id("ID-PATIENT", ssin)]}


def author(actor: Actor) -> dict[str, Any]:
    quality = HCPARTY_QUALITY.get(actor.quality, actor.quality)
    party = {
        "id": [kmehr_id("ID-HCPARTY", actor.nihii)],
        "cd": [kmehr_id("CD-HCPARTY", quality, "1.1")],
    }
    return {"hcparty": [party]}


def request_header(
    actor: Actor, *, now: datetime, request_id: str, break_the_glass: str | None = None
) -> dict[str, Any]:
    """The hubservices ``request`` element."""
    header: dict[str, Any] = {
        "id": kmehr_id("ID-KMEHR", f"{actor.nihii}.{request_id}"),
        "author": author(actor),
        "date": now.astimezone(BRUSSELS).date(),
        "time": now.astimezone(BRUSSELS).time().replace(microsecond=0, tzinfo=None),
    }
    if break_the_glass:
        header["breaktheglass"] = break_the_glass
    return header


def check_acknowledge(answer: Any, *, system: str, operation: str) -> None:
    """Raise BusinessRejection when the service answered ``iscomplete = false``."""
    ack = getattr(answer, "acknowledge", None)
    if ack is None:
        raise DownstreamProtocolError(
            "answer without acknowledge", system=system, operation=operation
        )
    if ack.iscomplete:
        return
    errors = list(ack.error or [])
    code = errors[0].cd._value_1 if errors else "unknown"
    detail = "; ".join(str(e.description) for e in errors) or "refused without reason"
    raise BusinessRejection(detail, system=system, operation=operation, code=code)


def _moment(day: date, at: time | None) -> datetime:
    """hubservices dates and times are Belgian local time."""
    return datetime.combine(day, (at or time(0)).replace(tzinfo=None), tzinfo=BRUSSELS)


def _patient_of(permit: object) -> str:
    """The permit's patient, read only once ``require`` can judge the object (no AttributeError)."""
    return permit.patient_ssin if isinstance(permit, Permit) else ""


def _first(values: Sequence[Any], scheme: str) -> str | None:
    return next((str(v._value_1) for v in values or () if scheme == v.S), None)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One access to the patient's data, as a hub's audit trail reports it."""

    hcparty_nihii: str | None
    at: datetime
    action: str
    transaction_id: str | None


class Sealer(Protocol):
    """ETEE sealing for recipients' ETKs and the sender's own (``ehbox.EteeSealing``)."""

    async def seal(self, payload: bytes, actor: Actor, recipients: Sequence[EtkId]) -> bytes: ...


class IntraHubClient:
    """One regional hub's TransactionService (a ``RecordSourcePort``)."""

    def __init__(
        self,
        name: str,
        hub_id: str,
        endpoint: ProtectedSoap,
        *,
        clock: Callable[[], datetime],
        sealing: Sealer | None = None,
        ids: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.sealing = sealing
        """Seals PutTransaction for the hub's ETK (EHP = hub id); None sends it in clear."""
        self.name, self.hub_id, self.endpoint, self.clock, self.ids = (
            name,
            hub_id,
            endpoint,
            clock,
            ids,
        )

    def _request(self, actor: Actor, permit: Permit | None = None) -> dict[str, Any]:
        glass = "break-the-glass: emergency access" if permit and permit.break_the_glass else None
        return request_header(actor, now=self.clock(), request_id=self.ids(), break_the_glass=glass)

    def _require(self, permit: Permit, action: Action = "read-dossier") -> None:
        require(permit, action=action, patient_ssin=_patient_of(permit), now=self.clock())

    async def list_transactions(
        self, permit: Permit, actor: Actor, *, types: tuple[str, ...], since: date | None = None
    ) -> list[TransactionRef]:
        """GetTransactionList for the permit's patient, these CD-TRANSACTION types, since a date."""
        self._require(permit)
        period: dict[str, Any] = {"cd": [kmehr_id("CD-TRANSACTION", t) for t in types]}
        if since is not None:
            period["begindate"] = since
        answer = await self.endpoint.call(
            actor,
            "GetTransactionList",
            idempotent=True,
            request=self._request(actor, permit),
            select={"patient": patient_id(permit.patient_ssin), "transaction": period},
        )
        check_acknowledge(answer, system=self.name, operation="GetTransactionList")
        folder = answer.kmehrheader.folder if answer.kmehrheader is not None else None
        return [self._ref(t) for t in (folder.transaction if folder is not None else [])]

    def _ref(self, summary: Any) -> TransactionRef:
        tx_id = _first(summary.id, "LOCAL") or _first(summary.id, "ID-KMEHR")
        kind = _first(summary.cd, "CD-TRANSACTION")
        if tx_id is None or kind is None:
            raise DownstreamProtocolError(
                "transaction summary without id or type",
                system=self.name,
                operation="GetTransactionList",
            )
        author_nihii = next(
            (
                _first(p.id, "ID-HCPARTY")
                for p in summary.author.hcparty
                if _first(p.id, "ID-HCPARTY")
            ),
            None,
        )
        return TransactionRef(
            self.name, tx_id, kind, _moment(summary.date, summary.time), author_nihii
        )

    async def get_transaction(self, permit: Permit, actor: Actor, ref: TransactionRef) -> bytes:
        """GetTransaction: the KMEHR message of one transaction, as bytes."""
        self._require(permit)
        answer = await self.endpoint.call(
            actor,
            "GetTransaction",
            idempotent=True,
            request=self._request(actor, permit),
            select={
                "patient": patient_id(permit.patient_ssin),
                "transaction": {
                    "id": [
                        {
                            "_value_1": ref.transaction_id,
                            "S": "LOCAL",
                            "SV": "1.0",
                            "SL": self.hub_id,
                        }
                    ]
                },
            },
        )
        check_acknowledge(answer, system=self.name, operation="GetTransaction")
        if answer.kmehrmessage is None:
            raise DownstreamProtocolError(
                "acknowledged without kmehrmessage", system=self.name, operation="GetTransaction"
            )
        message = etree.Element(f"{{{KMEHR_NS}}}kmehrmessage", nsmap={None: KMEHR_NS})
        for child in answer.kmehrmessage._value_1 or []:
            message.append(child)
        return etree.tostring(message, xml_declaration=True, encoding="UTF-8")

    async def put_transaction(self, permit: Permit, actor: Actor, kmehr: etree._Element) -> str:
        """PutTransaction (a write: attempted once); returns the hub's transaction id."""
        self._require(permit, "write-note")
        if self.sealing is None:
            body: dict[str, Any] = {"kmehrmessage": {"_value_1": list(kmehr)}}
        else:
            clear = etree.tostring(kmehr, xml_declaration=True, encoding="UTF-8")
            hub_etk = EtkId("EHP", self.hub_id)
            body = {"sealedkmehrmessage": await self.sealing.seal(clear, actor, [hub_etk])}
        answer = await self.endpoint.call(
            actor, "PutTransaction", idempotent=False, request=self._request(actor), **body
        )
        check_acknowledge(answer, system=self.name, operation="PutTransaction")
        ids = answer.transaction.id if answer.transaction is not None else []
        found = _first(ids, "LOCAL")
        if found is None:
            raise DownstreamProtocolError(
                "no transaction id in answer", system=self.name, operation="PutTransaction"
            )
        return found

    async def audit_trail(
        self, permit: Permit, actor: Actor, *, since: date | None = None
    ) -> list[AuditEntry]:
        """GetPatientAuditTrail: who accessed the patient's data on this hub."""
        self._require(permit)
        select: dict[str, Any] = {"patient": patient_id(permit.patient_ssin)}
        if since is not None:
            select["begindate"] = since
        answer = await self.endpoint.call(
            actor,
            "GetPatientAuditTrail",
            idempotent=True,
            request=self._request(actor, permit),
            select=select,
        )
        check_acknowledge(answer, system=self.name, operation="GetPatientAuditTrail")
        accesses = (
            answer.transactionaccesslist.transactionaccess
            if answer.transactionaccesslist is not None
            else []
        )
        return [
            AuditEntry(
                _first(a.hcparty.id, "ID-HCPARTY"),
                _moment(a.date, a.time),
                str(a.cd._value_1),
                _first(a.transaction.id, "LOCAL") if a.transaction is not None else None,
            )
            for a in accesses
        ]

    async def get_exclusions(self, patient_ssin: str, actor: Actor) -> list[Exclusion]:
        """GetTherapeuticLink for the patient's exclusions (negative links) on this hub."""
        answer = await self.endpoint.call(
            actor,
            "GetTherapeuticLink",
            idempotent=True,
            request=self._request(actor),
            select={"patient": patient_id(patient_ssin), "cd": [kmehr_id(*EXCLUSION)]},
        )
        check_acknowledge(answer, system=self.name, operation="GetTherapeuticLink")
        found = answer.therapeuticlinklist.therapeuticlink if answer.therapeuticlinklist else []
        return [
            Exclusion(patient_ssin, nihii, link.startdate)
            for link in found
            if (link.cd.S, link.cd._value_1) == EXCLUSION
            and (nihii := _first(link.hcparty.id, "ID-HCPARTY")) is not None
        ]


@dataclass(frozen=True, slots=True)
class GatheredRecords:
    """What the configured hubs answered: references found and, per failing hub, the error."""

    transactions: tuple[TransactionRef, ...]
    failures: Mapping[str, HubError]


class HubRecords:
    """Asks every configured hub concurrently; one hub's failure never fails the whole read."""

    def __init__(self, hubs: Sequence[IntraHubClient]) -> None:
        self.hubs = {hub.name: hub for hub in hubs}

    async def list_transactions(
        self, permit: Permit, actor: Actor, *, types: tuple[str, ...], since: date | None = None
    ) -> GatheredRecords:
        names = list(self.hubs)
        results = await asyncio.gather(
            *(
                self.hubs[n].list_transactions(permit, actor, types=types, since=since)
                for n in names
            ),
            return_exceptions=True,
        )
        found: list[TransactionRef] = []
        failures: dict[str, HubError] = {}
        denied = next((r for r in results if isinstance(r, ConsentDenied)), None)
        if denied is not None:
            raise denied
        for name, result in zip(names, results, strict=True):
            if isinstance(result, HubError):
                failures[name] = result
                _log.warning("hub.list_failed", hub=name, error=result.as_dict())
            elif isinstance(result, BaseException):
                raise result
            else:
                found.extend(result)
        return GatheredRecords(tuple(found), failures)

    async def get_transaction(self, permit: Permit, actor: Actor, ref: TransactionRef) -> bytes:
        """The KMEHR of ``ref`` from the hub that listed it."""
        return await self.hubs[ref.source].get_transaction(permit, actor, ref)


class HubExclusions:
    """An :class:`~ehealth_hub.connectors.ports.ExclusionPort` over every configured hub.

    Fails closed: when one hub cannot answer, the exclusions cannot be known and the error is
    raised (the gate then refuses), rather than reading an unanswered hub as "no exclusion".
    """

    def __init__(self, hubs: Sequence[IntraHubClient]) -> None:
        self.hubs = list(hubs)

    async def get_exclusions(self, patient_ssin: str, actor: Actor) -> list[Exclusion]:
        answers = await asyncio.gather(
            *(hub.get_exclusions(patient_ssin, actor) for hub in self.hubs), return_exceptions=True
        )
        seen: dict[str, Exclusion] = {}
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
            for exclusion in answer:
                seen.setdefault(exclusion.hcparty_nihii, exclusion)
        return list(seen.values())
