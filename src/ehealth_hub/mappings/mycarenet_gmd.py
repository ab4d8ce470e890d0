"""The KMEHR of MyCareNet's GlobalMedicalFile consultation (who holds the patient's GMD/DMG).

Request: a ``kmehrmessage`` whose header names the requesting care provider (sender hcparty with
its NIHII) and MyCareNet (recipient), and one folder: the patient (``ID-PATIENT`` = SSIN) and one
transaction ``CD-TRANSACTION-MYCARENET`` = ``GMD-CONSULT-HCP`` dated on the reference date.

Answer: the same header turned around, and one transaction ``GMD-CONSULT-HCP`` with an item
``gmdmanager`` (content: the holder's hcparty, ``ID-HCPARTY`` = NIHII, names, ``CD-HCPARTY``) whose
``beginmoment``/``endmoment`` give the GMD period, and an item ``payment`` (content boolean: the
GMD fee was paid, as MyCareNet flags it). A transaction without ``gmdmanager`` = no GMD holder.

Not verified (the GlobalMedicalFile XSDs and the reference connector's GMD builder are not in
../shared): the transaction code spelling ``GMD-CONSULT-HCP`` as a CD-TRANSACTION-MYCARENET value,
the item codes ``gmdmanager`` and ``payment`` (CD-ITEM-MYCARENET), the place of the GMD period on
the ``gmdmanager`` item, and the recipient hcparty (``application`` MYCARENET). The hub and its
simulator share this module, so they agree; the real service's spelling is to be checked on
acceptance.

Pure: ids and times are passed in; answers are read with the hardened parser's output.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final

from lxml import etree

from ehealth_hub.core.errors import MappingError
from ehealth_hub.core.mycarenet_types import GmdFacts, GmdHolder

KMEHR: Final = "http://www.ehealth.fgov.be/standards/kmehr/schema/v1"
TRANSACTION: Final = "GMD-CONSULT-HCP"
HOLDER_ITEM: Final = "gmdmanager"
PAYMENT_ITEM: Final = "payment"
_NS: Final = {"k": KMEHR}


def _el(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    node = etree.SubElement(parent, f"{{{KMEHR}}}{name}", attrs)
    if text is not None:
        node.text = text
    return node


def _hcparty(parent: etree._Element, nihii: str, kind: str, name: str = "") -> etree._Element:
    party = _el(parent, "hcparty")
    _el(party, "id", nihii, S="ID-HCPARTY", SV="1.0")
    _el(party, "cd", kind, S="CD-HCPARTY", SV="1.1")
    if name:
        _el(party, "name", name)
    return party


def _message(
    message_id: str, sender: tuple[str, str], recipient: tuple[str, str], now: datetime
) -> etree._Element:
    root = etree.Element(f"{{{KMEHR}}}kmehrmessage", nsmap={None: KMEHR})
    header = _el(root, "header")
    _el(_el(header, "standard"), "cd", "20161201", S="CD-STANDARD", SV="1.0")
    _el(header, "id", message_id, S="ID-KMEHR", SV="1.0")
    _el(header, "date", now.date().isoformat())
    _el(header, "time", now.strftime("%H:%M:%S"))
    _hcparty(_el(header, "sender"), *sender)
    _hcparty(_el(header, "recipient"), *recipient, name="MyCareNet")
    return root


def _folder(root: etree._Element, ssin: str, on: date) -> etree._Element:
    folder = _el(root, "folder")
    _el(folder, "id", "1", S="ID-KMEHR", SV="1.0")
    _el(_el(folder, "patient"), "id", ssin, S="ID-PATIENT", SV="1.0")
    transaction = _el(folder, "transaction")
    _el(transaction, "id", "1", S="ID-KMEHR", SV="1.0")
    _el(transaction, "cd", TRANSACTION, S="CD-TRANSACTION-MYCARENET", SV="1.0")
    _el(transaction, "date", on.isoformat())
    return transaction


def consult_request(
    ssin: str, *, requester: str, quality_kind: str, on: date, message_id: str, now: datetime
) -> etree._Element:
    """The GMD-CONSULT-HCP request of ``requester`` (NIHII) for patient ``ssin`` on ``on``."""
    root = _message(message_id, (requester, quality_kind), ("MYCARENET", "application"), now)
    _folder(root, ssin, on)
    return root


def read_request(root: etree._Element) -> tuple[str, str, date]:
    """(patient SSIN, requester NIHII, reference date) of a request; MappingError if not one."""
    ssin = _text(root, "k:folder/k:patient/k:id")
    requester = _text(root, "k:header/k:sender/k:hcparty/k:id")
    code = _text(root, "k:folder/k:transaction/k:cd")
    if code != TRANSACTION or not ssin or not requester:
        raise MappingError(
            "not a GMD-CONSULT-HCP request", field="kmehrmessage", rule="gmd.request-shape"
        )
    return ssin, requester, _date(_text(root, "k:folder/k:transaction/k:date"), "date")


def answer(request: etree._Element, facts: GmdFacts, *, message_id: str, now: datetime) -> bytes:
    """MyCareNet's answer to ``request`` (the simulator's side)."""
    requester = _text(request, "k:header/k:sender/k:hcparty/k:id")
    root = _message(message_id, ("MYCARENET", "application"), (requester, "persphysician"), now)
    transaction = _folder(root, facts.ssin, facts.reference_date)
    if facts.holder is not None:
        item = _el(transaction, "item")
        _el(item, "id", "1", S="ID-KMEHR", SV="1.0")
        _el(item, "cd", HOLDER_ITEM, S="CD-ITEM-MYCARENET", SV="1.0")
        holder = facts.holder
        party = _hcparty(_el(item, "content"), holder.nihii, holder.kind)
        _el(party, "firstname", holder.given)
        _el(party, "familyname", holder.family)
        if facts.start:
            _el(_el(item, "beginmoment"), "date", facts.start.isoformat())
        if facts.end:
            _el(_el(item, "endmoment"), "date", facts.end.isoformat())
    payment = _el(transaction, "item")
    _el(payment, "id", "2", S="ID-KMEHR", SV="1.0")
    _el(payment, "cd", PAYMENT_ITEM, S="CD-ITEM-MYCARENET", SV="1.0")
    _el(_el(payment, "content"), "boolean", "true" if facts.payment else "false")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def read_answer(root: etree._Element, *, ssin: str, on: date) -> GmdFacts:
    """The GMD facts of an answer for ``ssin``; MappingError when it is not one or not theirs."""
    if _text(root, "k:folder/k:transaction/k:cd") != TRANSACTION:
        raise MappingError("not a GMD-CONSULT-HCP answer", field="kmehrmessage", rule="gmd.answer")
    if _text(root, "k:folder/k:patient/k:id") != ssin:
        raise MappingError(
            "the GMD answer is about another patient", field="patient", rule="gmd.patient"
        )
    items = root.findall("k:folder/k:transaction/k:item", _NS)
    payment = next((i for i in items if _text(i, "k:cd") == PAYMENT_ITEM), None)
    paid = payment is not None and _text(payment, "k:content/k:boolean") == "true"
    manager = next((i for i in items if _text(i, "k:cd") == HOLDER_ITEM), None)
    if manager is None:
        return GmdFacts(ssin, on, payment=paid)
    party = "k:content/k:hcparty"
    holder = GmdHolder(
        _text(manager, f"{party}/k:id"),
        _text(manager, f"{party}/k:firstname"),
        _text(manager, f"{party}/k:familyname"),
        _text(manager, f"{party}/k:cd") or "persphysician",
    )
    if not holder.nihii:
        raise MappingError("GMD holder without NIHII", field="gmdmanager", rule="gmd.holder")
    start = _text(manager, "k:beginmoment/k:date")
    end = _text(manager, "k:endmoment/k:date")
    return GmdFacts(
        ssin,
        on,
        holder,
        _date(start, "beginmoment") if start else None,
        _date(end, "endmoment") if end else None,
        paid,
    )


def _text(node: etree._Element, path: str) -> str:
    found = node.find(path, _NS)
    return (found.text or "").strip() if found is not None else ""


def _date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise MappingError(f"{field} must be YYYY-MM-DD", field=field, rule="gmd.date") from exc
