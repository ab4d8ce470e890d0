"""Tolerant reading of KMEHR 1.x messages (eHealth KMEHR standard, schema 1.38 and earlier).

What real messages do, and what this reader accepts (see ../shared/kmehr-corpus/SOURCES.md):

- the ``kmehrmessage`` may be the root, or wrapped in a SOAP 1.1/1.2 envelope or an IntraHub /
  Vitalink response at any depth; more than one message in one document is refused
  (rule ``kmehr.single-message``);
- the KMEHR namespace may be missing (older GP software): the reader follows whatever namespace
  the ``kmehrmessage`` element has;
- ``CD-STANDARD`` values from 2013 to 2023 (1.40 ``20231110`` included) are read the same way;
- patient ids in ``INSS`` or ``ID-PATIENT``; codes and names with padding and newlines are
  whitespace-normalised (``" C82.9\\n "`` -> ``"C82.9"``); CNK codes stay strings (leading zeros).

Dates: a KMEHR ``date`` alone stays a FHIR ``date``; ``date`` + ``time`` becomes a ``dateTime``
with the Europe/Brussels offset of that day (zoneinfo) unless the time carries its own zone.
Errors name the element (its path and source line) and the rule broken, as ``MappingError``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo

from lxml import etree

from ehealth_hub.core.errors import MappingError
from ehealth_hub.core.xml import KMEHR_NS, local_name

BRUSSELS: Final = ZoneInfo("Europe/Brussels")
Element = etree._Element


class Cd(NamedTuple):
    """One KMEHR ``cd`` (or ``id``) element: table ``S``, version ``SV``, local table ``SL``.

    A NamedTuple, not a frozen dataclass: a large Sumehr reads 100,000 of them and tuples are built
    several times faster."""

    s: str
    sv: str
    value: str
    sl: str | None = None
    dn: str | None = None
    lang: str | None = None


class Text(NamedTuple):
    """A KMEHR text with its language (``L``)."""

    value: str
    lang: str | None


def squeezed(text: str | None) -> str:
    """``text`` without any whitespace (a code); "" for None.

    The split/join is only paid for the rare code with inner whitespace: reading codes is the
    bulk of reading a Sumehr."""
    if not text:
        return ""
    value = text.strip()
    if " " in value or "\n" in value or "\t" in value or "\r" in value:
        return "".join(value.split())
    return value


def spaced(text: str | None) -> str:
    """``text`` with its whitespace runs collapsed to one space and trimmed; "" for None."""
    if not text:
        return ""
    value = text.strip()
    if "  " in value or "\n" in value or "\t" in value or "\r" in value:
        return " ".join(value.split())
    return value


def where(element: Element) -> str:
    """A readable location of ``element``: ``/kmehrmessage/folder[1]/... (line N)``."""
    parts: list[str] = []
    node: Element | None = element
    while node is not None:
        parent = node.getparent()
        name = local_name(node)
        if parent is not None:
            same = [c for c in parent if local_name(c) == name]
            name = f"{name}[{same.index(node) + 1}]" if len(same) > 1 else name
        parts.append(name)
        node = parent
    return "/" + "/".join(reversed(parts)) + f" (line {element.sourceline})"


def fail(element: Element, rule: str, detail: str) -> MappingError:
    """A MappingError naming ``element`` and ``rule``."""
    return MappingError(detail, field=where(element), rule=rule, operation="kmehr")


class Reader:
    """Reads one KMEHR message in its namespace (``""`` when the default namespace is missing)."""

    __slots__ = ("ns", "p")

    def __init__(self, ns: str) -> None:
        self.ns = ns
        self.p = f"{{{ns}}}" if ns else ""

    def t(self, name: str) -> str:
        """The qualified tag of a KMEHR element."""
        return self.p + name

    def child(self, el: Element, name: str) -> Element | None:
        """The first child named ``name`` (``iterchildren`` is twice as fast as ``find``)."""
        return next(el.iterchildren(self.p + name), None)

    def children(self, el: Element, name: str) -> list[Element]:
        """All children named ``name`` in document order."""
        return list(el.iterchildren(self.p + name))

    def text(self, el: Element | None, name: str | None = None) -> str | None:
        """Whitespace-normalised text of ``el`` (or of its child ``name``); None when empty."""
        if el is not None and name is not None:
            el = next(el.iterchildren(self.p + name), None)
        if el is None:
            return None
        return spaced(el.text) or None

    def cds(self, el: Element, name: str = "cd") -> list[Cd]:
        """The ``cd`` (or ``id``) children of ``el``, codes normalised."""
        out = []
        for c in el.iterchildren(self.p + name):
            value = squeezed(c.text)
            if value:
                get = c.get
                out.append(Cd(get("S", ""), get("SV", ""), value, get("SL"), get("DN"), get("L")))
        return out

    def cd(self, el: Element | None, s: str, tag: str = "cd") -> Cd | None:
        """The first ``cd`` (or ``id``...) child of ``el`` in table ``s`` with a non-blank code."""
        if el is None:
            return None
        for c in el.iterchildren(self.p + tag):
            get = c.get
            if get("S") == s and (value := squeezed(c.text)):
                return Cd(s, get("SV", ""), value, get("SL"), get("DN"), get("L"))
        return None

    def texts(self, el: Element, name: str = "text") -> list[Text]:
        """The ``text`` children of ``el`` with their language."""
        out = []
        for c in el.iterchildren(self.p + name):
            value = spaced(c.text)
            if value:
                out.append(Text(value, c.get("L")))
        return out

    def moment(self, el: Element | None) -> str | None:
        """A KMEHR moment (``date``[+``time``], ``yearmonth``, ``year``) as a FHIR date/dateTime."""
        if el is None:
            return None
        day = self.text(el, "date")
        if day is None:
            yearmonth = self.text(el, "yearmonth")
            year = self.text(el, "year")
            if yearmonth:
                return _checked(el, yearmonth[:7], "%Y-%m")
            return _checked(el, year[:4], "%Y") if year else None
        return to_fhir_datetime(el, day, self.text(el, "time"))


def _checked(el: Element, value: str, fmt: str) -> str:
    try:
        datetime.strptime(value, fmt)
    except ValueError as exc:
        raise fail(el, "kmehr.date", f"not a valid date: {value!r}") from exc
    return value


def to_fhir_datetime(el: Element, day: str, time: str | None) -> str:
    """``date`` (+ ``time``) -> FHIR; date-only stays date-only, times get Brussels' offset."""
    day10 = day[:10]
    try:
        parsed_day = date.fromisoformat(day10)
    except ValueError as exc:
        raise fail(el, "kmehr.date", f"not a valid date: {day!r}") from exc
    if time is None:
        return parsed_day.isoformat()
    try:
        moment = datetime.fromisoformat(f"{day10}T{time}")
    except ValueError as exc:
        raise fail(el, "kmehr.time", f"not a valid time: {time!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BRUSSELS)
    return moment.isoformat()


def locate_message(root: Element) -> tuple[Element, Reader]:
    """Find the one ``kmehrmessage`` in ``root`` (bare, in SOAP, or in a hub response).

    Hub requests/responses may wrap a namespace-less envelope ``kmehrmessage`` around the real one;
    the message that holds a ``folder`` wins. Two such messages are refused.
    """
    if local_name(root) == "kmehrmessage" and _has_folder(root):
        return root, Reader(etree.QName(root).namespace or "")
    found = list(root.iter(f"{{{KMEHR_NS}}}kmehrmessage", "kmehrmessage"))
    if not found:
        found = [e for e in root.iter() if local_name(e) == "kmehrmessage"]
    if not found:
        raise fail(root, "kmehr.message-present", "no kmehrmessage element in the document")
    with_folder = [e for e in found if _has_folder(e)]
    if len(with_folder) > 1:
        raise fail(
            with_folder[1], "kmehr.single-message", "more than one kmehrmessage with a folder"
        )
    message = with_folder[0] if with_folder else found[0]
    return message, Reader(etree.QName(message).namespace or "")


def _has_folder(message: Element) -> bool:
    return any(local_name(c) == "folder" for c in message)
