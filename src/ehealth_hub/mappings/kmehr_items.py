"""KMEHR clinical items (CD-ITEM) -> Belgian FHIR R4 resources (HL7-BE core-clinical, allergy,
vaccination, patientwill): what every item mapping shares.

One resource per KMEHR item, so counts scale exactly with the input. This module reads an item
once (:func:`parse_item`), turns KMEHR codes into Codings (:func:`to_coding`) and maps the
fallback; each item family has its own module with its mapping decisions:

- problems, risks, allergies and adverse drug reactions: :mod:`.kmehr_problems`;
- vaccines: :mod:`.kmehr_vaccines`;
- patient wills: :mod:`.kmehr_patientwill`;
- medications: :mod:`.kmehr_medication`.

- any other item type -> Observation (be-observation): :mod:`.kmehr_observation`.

Texts keep their language (``note`` with the FHIR ``language`` extension on ``text``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import (
    Json,
    coding,
    identifier,
    kmehr_id_system,
    kmehr_table_system,
    language_text,
)
from ehealth_hub.mappings.kmehr_read import (
    Cd,
    Element,
    Reader,
    Text,
    fail,
    spaced,
    squeezed,
    to_fhir_datetime,
)

_SYSTEMS = {
    "ICPC": prof.ICPC2_SYSTEM,
    "ICD": prof.ICD10_SYSTEM,
    "CD-DRUG-CNK": prof.CNK_SYSTEM,
    "CD-ATC": "http://www.whocc.no/atc",
    "CD-SNOMED": prof.SNOMED_SYSTEM,
    "SNOMED": prof.SNOMED_SYSTEM,
    "LOINC": prof.LOINC_SYSTEM,
}
_VERSIONLESS = frozenset({"ICPC", "ICD", "CD-DRUG-CNK", "CD-ATC", "LOINC"})


def to_coding(c: Cd) -> Json:
    """A KMEHR cd as a FHIR Coding (known terminologies by their FHIR URI)."""
    table = c.sl if c.s.startswith("LOCAL") and c.sl else c.s
    system = _SYSTEMS.get(c.s) or kmehr_table_system(table)
    version = None if c.s in _VERSIONLESS else c.sv
    return coding(system, c.value, c.dn, version)


@dataclass(frozen=True, slots=True)
class ItemContext:
    """What every item of one transaction shares."""

    r: Reader
    patient: Json
    recorder: Json
    recorded: str
    seed: str
    """``<message id>/<transaction id>``: prefix of the items' KMEHR identifiers."""


class Parsed(NamedTuple):
    """The parts of an item every mapping needs (read once)."""

    element: Element
    kind: Cd
    item_id: str
    codes: list[Cd]
    texts: list[Text]
    begin: str | None
    end: str | None
    lifecycle: str | None
    recorded: str | None
    item_codes: list[Cd]
    """The item's own ``cd`` elements (CD-ITEM first, then e.g. CD-CONTACT-PERSON)."""


@dataclass(slots=True)
class _Children:
    """What one pass over an item's children collects (see :func:`parse_item`)."""

    codes: list[Cd] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    item_texts: list[Text] = field(default_factory=list)
    item_codes: list[Cd] = field(default_factory=list)
    kmehr_id: str | None = None
    found: dict[str, Element] = field(default_factory=dict)


def _scan(r: Reader, item: Element) -> _Children:
    # One pass over the children instead of one lookup per part: items are the bulk of a SUMEHR.
    seen = _Children()
    content, text, cd, id_ = r.t("content"), r.t("text"), r.t("cd"), r.t("id")
    for child in item:
        tag = child.tag
        if tag == content:
            _scan_content(seen, child, cd, text)
        elif tag == cd:
            if value := squeezed(child.text):
                get = child.get
                seen.item_codes.append(Cd(get("S", ""), get("SV", ""), value, get("SL"), get("DN")))
        elif tag == text:
            if value := spaced(child.text):
                seen.item_texts.append(Text(value, child.get("L")))
        elif tag == id_:
            if seen.kmehr_id is None and child.get("S") == "ID-KMEHR":
                seen.kmehr_id = squeezed(child.text) or None
        elif isinstance(tag, str) and tag not in seen.found:
            seen.found[tag] = child
    return seen


def _scan_content(seen: _Children, content: Element, cd: str, text: str) -> None:
    """The codes and texts of one ``content`` in one pass (as Reader.cds and Reader.texts)."""
    for child in content:
        tag = child.tag
        if tag == cd:
            if value := squeezed(child.text):
                get = child.get
                seen.codes.append(
                    Cd(get("S", ""), get("SV", ""), value, get("SL"), get("DN"), get("L"))
                )
        elif tag == text and (value := spaced(child.text)):
            seen.texts.append(Text(value, child.get("L")))


def parse_item(r: Reader, item: Element, seed: str) -> Parsed:
    """Read the common parts of a KMEHR item in one pass over its children.

    Raises MappingError (rule ``kmehr.item-type``) for an item without a CD-ITEM code.
    """
    seen = _scan(r, item)
    found = seen.found
    kind = next((c for c in seen.item_codes if c.s == "CD-ITEM"), None)
    if kind is None:
        raise fail(item, "kmehr.item-type", "item without a CD-ITEM code")
    life = r.cd(found.get(r.t("lifecycle")), "CD-LIFECYCLE")
    return Parsed(
        item,
        kind,
        seen.kmehr_id or seed,
        seen.codes,
        seen.texts + seen.item_texts,
        r.moment(found.get(r.t("beginmoment"))),
        r.moment(found.get(r.t("endmoment"))),
        life.value if life else None,
        _recorded(r, item, found.get(r.t("recorddatetime"))),
        seen.item_codes,
    )


def _recorded(r: Reader, item: Element, element: Element | None) -> str | None:
    value = r.text(element)
    if value is None:
        return None
    day, _, time = value.partition("T")
    return to_fhir_datetime(item, day, time or None)


def notes(texts: list[Text]) -> list[Json]:
    return [language_text(t.value, t.lang) for t in texts]


def item_identifier(ctx: ItemContext, p: Parsed) -> list[Json]:
    return [identifier(kmehr_id_system("ID-KMEHR"), f"{ctx.seed}/{p.item_id}")]


def products(r: Reader, item: Element) -> tuple[list[Json], str | None]:
    """The CNK/INN codings of the ``medicinalproduct``/``substanceproduct`` contents of an item,
    and the first intended name (the product's display name)."""
    out: list[Json] = []
    first_name: str | None = None
    wanted = (r.t("medicinalproduct"), r.t("substanceproduct"))
    for content in r.children(item, "content"):
        for product in content:
            if product.tag not in wanted:
                continue
            name = r.text(product, "intendedname")
            first_name = first_name or name
            delivered = r.text(product, "deliveredname")
            for c in r.cds(product, "intendedcd"):
                out.append(to_coding(Cd(c.s, c.sv, c.value, c.sl, c.dn or name, c.lang)))
            for c in r.cds(product, "deliveredcd"):
                out.append(to_coding(Cd(c.s, c.sv, c.value, c.sl, c.dn or delivered, c.lang)))
    return out, first_name
