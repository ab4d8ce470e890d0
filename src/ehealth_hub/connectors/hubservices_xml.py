"""hubservices v3 messages (the IntraHub TransactionService) built and read with lxml.

Contract: eHealth hubservices v3 (XSD specification 3.5): requests are
``{protocol/v3}<Operation>Request`` holding ``{core/v3}request`` (the KMEHR-style header: id,
author as ``{kmehr}hcparty``, date, time, optional breaktheglass) and ``{core/v3}select``;
answers hold ``response``, ``acknowledge`` (``iscomplete`` and KMEHR ``error`` elements) and the
operation's part. The shapes are exactly those zeep produced from the project's XSD before
lxml replaced it on this path (the IntraHub simulator and the contract tests check
them). Readers find children by local name within the hubservices/KMEHR elements and raise
:class:`~ehealth_hub.core.errors.DownstreamProtocolError` for anything they need and do not find.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Final
from zoneinfo import ZoneInfo

from lxml import etree

from ehealth_hub.core.errors import BusinessRejection, DownstreamProtocolError
from ehealth_hub.core.ports import Actor
from ehealth_hub.core.xml import KMEHR_NS

PROTOCOL: Final = "http://www.ehealth.fgov.be/hubservices/protocol/v3"
CORE: Final = "http://www.ehealth.fgov.be/hubservices/core/v3"
BRUSSELS: Final = ZoneInfo("Europe/Brussels")
HCPARTY_QUALITY: Final = {
    "doctor": "persphysician",
    "clinical_psychologist": "persclinicalpsychologist",
    "nurse": "persnurse",
    "physiotherapist": "persphysiotherapist",
}
"""eHealth quality -> CD-HCPARTY code of the author."""


def add(
    parent: etree._Element, name: str, value: str | None = None, *, ns: str = CORE, **attrs: str
) -> etree._Element:
    """Append ``{ns}name`` (text ``value``, attributes ``attrs``) to ``parent``."""
    node = etree.SubElement(parent, f"{{{ns}}}{name}", attrs)
    if value is not None:
        node.text = value
    return node


def coded(
    parent: etree._Element, name: str, value: str, scheme: str, *, ns: str = CORE, sv: str = "1.0"
) -> etree._Element:
    """A KMEHR ``id``/``cd``: ``<name S=scheme SV=sv>value</name>``."""
    return add(parent, name, value, ns=ns, S=scheme, SV=sv)


def request(
    operation: str, actor: Actor, *, now: datetime, request_id: str, glass: str | None = None
) -> etree._Element:
    """``<operation>Request`` with its ``request`` header filled in for ``actor``."""
    root = etree.Element(f"{{{PROTOCOL}}}{operation}Request", nsmap={"p": PROTOCOL, "c": CORE})
    header = add(root, "request")
    coded(header, "id", f"{actor.nihii}.{request_id}", "ID-KMEHR")
    party = add(add(header, "author"), "hcparty", ns=KMEHR_NS)
    coded(party, "id", actor.nihii, "ID-HCPARTY", ns=KMEHR_NS)
    quality = HCPARTY_QUALITY.get(actor.quality, actor.quality)
    coded(party, "cd", quality, "CD-HCPARTY", ns=KMEHR_NS, sv="1.1")
    local = now.astimezone(BRUSSELS)
    add(header, "date", local.date().isoformat())
    add(header, "time", local.strftime("%H:%M:%S"))
    if glass:
        add(header, "breaktheglass", glass)
    return root


def select_patient(root: etree._Element, ssin: str) -> etree._Element:
    """Append ``select`` with the patient's SSIN; return the select element."""
    select = add(root, "select")
    coded(add(select, "patient"), "id", ssin, "ID-PATIENT")
    return select


# ------------------------------------------------------------------------------------ readers


def child(node: etree._Element, name: str) -> etree._Element | None:
    """The first child called ``name`` (any namespace)."""
    return node.find(f"{{*}}{name}")


def children(node: etree._Element | None, name: str) -> Iterator[etree._Element]:
    """The children called ``name`` (any namespace)."""
    return iter(()) if node is None else node.iterfind(f"{{*}}{name}")


def path(node: etree._Element | None, *names: str) -> etree._Element | None:
    """``node/names[0]/names[1]/...`` by local names; None when a step is missing."""
    for name in names:
        if node is None:
            return None
        node = child(node, name)
    return node


def scheme_value(nodes: Iterator[etree._Element], scheme: str) -> str | None:
    """The text of the first ``id``/``cd`` whose S is ``scheme``."""
    return next(((n.text or "").strip() for n in nodes if n.get("S") == scheme), None)


def check_acknowledge(answer: etree._Element, *, system: str, operation: str) -> None:
    """BusinessRejection when the hub answered ``iscomplete = false`` (with its CD-ERROR code)."""
    ack = child(answer, "acknowledge")
    complete = path(ack, "iscomplete")
    if ack is None or complete is None:
        raise DownstreamProtocolError(
            "answer without acknowledge", system=system, operation=operation
        )
    if (complete.text or "").strip() in ("true", "1"):
        return
    errors = list(children(ack, "error"))
    code = scheme_value(children(errors[0], "cd"), "CD-ERROR") if errors else None
    detail = "; ".join(d for d in (_text(e, "description") for e in errors) if d)
    raise BusinessRejection(
        detail or "refused without reason",
        system=system,
        operation=operation,
        code=code or "unknown",
    )


def _text(node: etree._Element, name: str) -> str:
    found = child(node, name)
    return (found.text or "").strip() if found is not None else ""


def required_text(node: etree._Element, name: str, *, system: str, operation: str) -> str:
    """The text of child ``name``; DownstreamProtocolError when it is missing or empty."""
    value = _text(node, name)
    if not value:
        raise DownstreamProtocolError(f"answer without {name}", system=system, operation=operation)
    return value


def instant(node: etree._Element, name: str, *, system: str, operation: str) -> datetime:
    """An ``xsd:dateTime`` child; one without an offset is read as Brussels time."""
    raw = required_text(node, name, system=system, operation=operation)
    try:
        found = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise DownstreamProtocolError(
            f"unreadable {name}: {exc}", system=system, operation=operation
        ) from exc
    return found if found.tzinfo is not None else found.replace(tzinfo=BRUSSELS)


def moment(node: etree._Element, *, system: str, operation: str) -> datetime:
    """``date`` + ``time`` children as a Brussels-local moment (how hubservices dates them)."""
    try:
        day = date.fromisoformat(required_text(node, "date", system=system, operation=operation))
        at = time.fromisoformat(_text(node, "time")[:8] or "00:00:00")
    except ValueError as exc:
        raise DownstreamProtocolError(
            f"unreadable date or time: {exc}", system=system, operation=operation
        ) from exc
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=BRUSSELS)
