"""Writing KMEHR 1.38 (eHealth KMEHR schema ``kmehr_elements-1_38.xsd``): the element order of
the schema's sequences is followed here so that every message the hub writes validates.

Used by the consultation note mapping (:mod:`~ehealth_hub.mappings.note_to_kmehr`) and by the
sandbox sample generator (:mod:`ehealth_hub.fixtures.kmehr_samples`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from lxml import etree

from ehealth_hub.core.xml import KMEHR_NS
from ehealth_hub.mappings.kmehr_read import BRUSSELS

Element = etree._Element
STANDARD: Final = "20161201"
"""CD-STANDARD of the messages the hub writes (KMEHR 2016-12-01, Sumehr 2.0 generation; listed
in the 1.38 schema and accepted by the regional hubs and GP software)."""
_P: Final = f"{{{KMEHR_NS}}}"


@dataclass(frozen=True, slots=True)
class Party:
    """A KMEHR ``hcparty``: a care provider (``pers*``), an organisation, or an application."""

    kind: str
    """CD-HCPARTY value: ``persphysician``, ``application``, ``orghospital``..."""
    nihii: str | None = None
    ssin: str | None = None
    firstname: str | None = None
    familyname: str | None = None
    name: str | None = None
    """Organisation or application name (instead of first/family name)."""
    local_id: tuple[str, str] | None = None
    """``(SL, value)`` of a LOCAL id (e.g. the hub application's own id)."""


@dataclass(frozen=True, slots=True)
class Person:
    """A KMEHR ``patient`` (or contact ``person``)."""

    ssin: str
    firstnames: tuple[str, ...]
    familyname: str
    sex: str
    """CD-SEX: male, female, unknown, undefined, changed."""
    birthdate: date | None = None
    language: str | None = None


def el(parent: Element, name: str, text: str | None = None, **attrs: str) -> Element:
    """A KMEHR child element (attributes in the given order)."""
    child = etree.SubElement(parent, _P + name)
    for key, value in attrs.items():
        child.set(key, value)
    if text is not None:
        child.text = text
    return child


def cd(
    parent: Element, s: str, value: str, sv: str = "1.0", tag: str = "cd", **more: str
) -> Element:
    """A ``cd`` (or ``id``/``intendedcd``...) with its S and SV attributes."""
    return el(parent, tag, value, S=s, SV=sv, **more)


def local_datetime(moment: datetime) -> tuple[str, str]:
    """KMEHR ``date`` and ``time`` of an aware datetime, in Brussels time."""
    local = moment.astimezone(BRUSSELS)
    return local.date().isoformat(), local.strftime("%H:%M:%S")


def hcparty(parent: Element, party: Party) -> Element:
    """An ``hcparty`` in schema order: id*, cd+, (name | firstname familyname)?."""
    h = el(parent, "hcparty")
    if party.nihii:
        cd(h, "ID-HCPARTY", party.nihii, tag="id")
    if party.ssin:
        cd(h, "INSS", party.ssin, tag="id")
    if party.local_id:
        cd(h, "LOCAL", party.local_id[1], tag="id", SL=party.local_id[0])
    cd(h, "CD-HCPARTY", party.kind)
    if party.name:
        el(h, "name", party.name)
    elif party.firstname and party.familyname:
        el(h, "firstname", party.firstname)
        el(h, "familyname", party.familyname)
    return h


def person(parent: Element, who: Person, tag: str = "patient") -> Element:
    """A ``patient``/``person`` in schema order: id+, firstname+, familyname, birthdate?, sex."""
    p = el(parent, tag)
    cd(p, "INSS", who.ssin, tag="id")
    for first in who.firstnames:
        el(p, "firstname", first)
    el(p, "familyname", who.familyname)
    if who.birthdate:
        el(el(p, "birthdate"), "date", who.birthdate.isoformat())
    cd(el(p, "sex"), "CD-SEX", who.sex)
    if who.language:
        el(p, "usuallanguage", who.language)
    return p


def message(
    message_id: str, now: datetime, senders: list[Party], recipients: list[Party]
) -> Element:
    """A ``kmehrmessage`` with its header; add folders with :func:`folder`."""
    root = etree.Element(_P + "kmehrmessage", nsmap={None: KMEHR_NS})
    header = el(root, "header")
    cd(el(header, "standard"), "CD-STANDARD", STANDARD)
    cd(header, "ID-KMEHR", message_id, tag="id")
    day, time = local_datetime(now)
    el(header, "date", day)
    el(header, "time", time)
    sender = el(header, "sender")
    for party in senders:
        hcparty(sender, party)
    for party in recipients:
        hcparty(el(header, "recipient"), party)
    return root


def folder(root: Element, patient: Person) -> Element:
    """A ``folder`` with id 1 and the patient; add transactions with :func:`transaction`."""
    f = el(root, "folder")
    cd(f, "ID-KMEHR", "1", tag="id")
    person(f, patient)
    return f


def transaction(
    folder_el: Element, tx_id: str, kind: str, moment: datetime, authors: list[Party]
) -> Element:
    """A complete, validated ``transaction`` header (content is added by the caller)."""
    tx = el(folder_el, "transaction")
    cd(tx, "ID-KMEHR", tx_id, tag="id")
    cd(tx, "CD-TRANSACTION", kind)
    day, time = local_datetime(moment)
    el(tx, "date", day)
    el(tx, "time", time)
    author = el(tx, "author")
    for party in authors:
        hcparty(author, party)
    el(tx, "iscomplete", "true")
    el(tx, "isvalidated", "true")
    return tx


def serialize(root: Element) -> bytes:
    """UTF-8 bytes with an XML declaration."""
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
