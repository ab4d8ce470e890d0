"""The regional hubs' IntraHub v3 TransactionService (RSW, Abrumet/BHN, CoZo, Vitalink) and the
hubservices v3 message helpers the national Consent connector shares.

Contract: eHealth hubservices v3 (XSD specification 3.5; namespaces
``http://www.ehealth.fgov.be/hubservices/protocol/v3`` and ``.../core/v3``), SOAP 1.1
document/literal, business calls signed with the actor's SAML holder-of-key token. The project's
own WSDL is ``wsdl/intrahub_v3.wsdl``; acceptance/production may load the official one instead.

Every request carries the hubservices header (``request``: KMEHR id, author = the actor as
``hcparty`` with ID-HCPARTY and CD-HCPARTY, date, time, optional ``breaktheglass``). A hub that
understood but refused answers ``acknowledge/iscomplete = false`` with KMEHR ``error`` elements:
these become :class:`~ehealth_hub.core.errors.BusinessRejection` (code = the CD-ERROR value).

Operations: GetTransactionList (patient, period, CD-TRANSACTION types), GetTransaction (one KMEHR
message), GetTherapeuticLink (the patient's exclusions: negative links). The record service asks
every configured hub concurrently (each hub is one record source); :class:`HubExclusions` asks
them all for exclusions and fails closed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Final

import structlog
from lxml import etree

from ehealth_hub.connectors.hubservices_xml import (
    add,
    check_acknowledge,
    child,
    children,
    coded,
    moment,
    path,
    request,
    scheme_value,
    select_patient,
)
from ehealth_hub.core.errors import DownstreamProtocolError
from ehealth_hub.core.permit import Action, Permit, require
from ehealth_hub.core.ports import Actor, Exclusion, TransactionRef
from ehealth_hub.core.xml import KMEHR_NS
from ehealth_hub.trust.protected import ProtectedSoap

_log = structlog.get_logger(__name__)
EXCLUSION: Final = ("LOCAL", "EHEALTH-HUB-EXCLUSION", "therapeuticexclusion")
"""How the sandbox hubs code a patient's exclusion of a care provider (a negative link): S, SL
and value of the link's ``cd``, which admits CD-THERAPEUTICLINKTYPE or LOCAL (hubservices core 3.5
``TherapeuticLinkType``, KMEHR ``CD-THERAPEUTICLINK``); that table has no exclusion type."""
ACTIONS: Final = {
    op: f"urn:be:fgov:ehealth:intrahub:{op}"
    for op in (
        "GetTransactionList",
        "GetTransaction",
        "GetTherapeuticLink",
    )
}
"""SOAPAction of each operation the hub calls (``wsdl/intrahub_v3.wsdl``)."""


def _patient_of(permit: object) -> str:
    """The permit's patient, read only once ``require`` can judge the object (no AttributeError)."""
    return permit.patient_ssin if isinstance(permit, Permit) else ""


class IntraHubClient:
    """One regional hub's TransactionService (a ``RecordSourcePort``)."""

    def __init__(
        self,
        name: str,
        hub_id: str,
        endpoint: ProtectedSoap,
        *,
        clock: Callable[[], datetime],
        ids: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.name, self.hub_id, self.endpoint, self.clock, self.ids = (
            name,
            hub_id,
            endpoint,
            clock,
            ids,
        )

    def _request(
        self, operation: str, actor: Actor, permit: Permit | None = None
    ) -> etree._Element:
        glass = "break-the-glass: emergency access" if permit and permit.break_the_glass else None
        return request(operation, actor, now=self.clock(), request_id=self.ids(), glass=glass)

    async def _call(
        self, actor: Actor, operation: str, payload: etree._Element, *, idempotent: bool
    ) -> etree._Element:
        answer: etree._Element = await self.endpoint.call(
            actor, operation, idempotent=idempotent, payload=payload
        )
        check_acknowledge(answer, system=self.name, operation=operation)
        return answer

    def _require(self, permit: Permit, action: Action = "read-dossier") -> None:
        require(permit, action=action, patient_ssin=_patient_of(permit), now=self.clock())

    async def list_transactions(
        self, permit: Permit, actor: Actor, *, types: tuple[str, ...], since: date | None = None
    ) -> list[TransactionRef]:
        """GetTransactionList for the permit's patient, these CD-TRANSACTION types, since a date."""
        self._require(permit)
        payload = self._request("GetTransactionList", actor, permit)
        period = add(select_patient(payload, permit.patient_ssin), "transaction")
        for kind in types:
            coded(period, "cd", kind, "CD-TRANSACTION")
        if since is not None:
            add(period, "begindate", since.isoformat())
        answer = await self._call(actor, "GetTransactionList", payload, idempotent=True)
        found = children(path(answer, "kmehrheader", "folder"), "transaction")
        return [self._ref(summary) for summary in found]

    def _ref(self, summary: etree._Element) -> TransactionRef:
        ids = list(children(summary, "id"))
        tx_id = scheme_value(iter(ids), "LOCAL") or scheme_value(iter(ids), "ID-KMEHR")
        kind = scheme_value(children(summary, "cd"), "CD-TRANSACTION")
        if not tx_id or not kind:
            raise DownstreamProtocolError(
                "transaction summary without id or type",
                system=self.name,
                operation="GetTransactionList",
            )
        parties = children(path(summary, "author"), "hcparty")
        author = next(
            (n for p in parties if (n := scheme_value(children(p, "id"), "ID-HCPARTY"))), None
        )
        when = moment(summary, system=self.name, operation="GetTransactionList")
        recorded = child(summary, "recorddatetime")
        version = (recorded.text or "").strip() or None if recorded is not None else None
        return TransactionRef(self.name, tx_id, kind, when, author, version=version)

    async def get_transaction(self, permit: Permit, actor: Actor, ref: TransactionRef) -> bytes:
        """GetTransaction: the KMEHR message of one transaction, as bytes."""
        self._require(permit)
        payload = self._request("GetTransaction", actor, permit)
        wanted = add(select_patient(payload, permit.patient_ssin), "transaction")
        add(wanted, "id", ref.transaction_id, S="LOCAL", SV="1.0", SL=self.hub_id)
        answer = await self._call(actor, "GetTransaction", payload, idempotent=True)
        found = child(answer, "kmehrmessage")
        if found is None:
            raise DownstreamProtocolError(
                "acknowledged without kmehrmessage", system=self.name, operation="GetTransaction"
            )
        message = etree.Element(f"{{{KMEHR_NS}}}kmehrmessage", nsmap={None: KMEHR_NS})
        message.extend(list(found))
        return etree.tostring(message, xml_declaration=True, encoding="UTF-8")

    async def get_exclusions(self, patient_ssin: str, actor: Actor) -> list[Exclusion]:
        """GetTherapeuticLink for the patient's exclusions (negative links) on this hub."""
        payload = self._request("GetTherapeuticLink", actor)
        scheme, local_scheme, value = EXCLUSION
        coded(select_patient(payload, patient_ssin), "cd", value, scheme).set("SL", local_scheme)
        answer = await self._call(actor, "GetTherapeuticLink", payload, idempotent=True)
        found: list[Exclusion] = []
        for link in children(child(answer, "therapeuticlinklist"), "therapeuticlink"):
            cd = child(link, "cd")
            nihii = scheme_value(children(child(link, "hcparty"), "id"), "ID-HCPARTY")
            code = None if cd is None else (cd.get("S"), cd.get("SL"), (cd.text or "").strip())
            if code != EXCLUSION or not nihii:
                continue
            found.append(Exclusion(patient_ssin, nihii, _start(link, self.name)))
        return found


def _start(link: etree._Element, system: str) -> date | None:
    found = child(link, "startdate")
    if found is None or not (found.text or "").strip():
        return None
    try:
        return date.fromisoformat((found.text or "").strip())
    except ValueError as exc:
        raise DownstreamProtocolError(
            f"unreadable startdate: {exc}", system=system, operation="GetTherapeuticLink"
        ) from exc


class HubExclusions:
    """An :class:`~ehealth_hub.core.ports.ExclusionPort` over every configured hub.

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
