"""KMEHR 1.x message -> Belgian FHIR R4 Bundle (Sumehr 2.0, medication scheme, vaccinations).

Entry point: :func:`translate_kmehr` (bytes in, FHIR JSON dict out; pure: ``now`` and the id
factory are passed in). What comes out:

- a message with a ``sumehr`` transaction -> a FHIR *document* Bundle: Composition first (the
  layout of :mod:`ehealth_hub.fhir.composition`, shared with ``$summary``), then Patient,
  Practitioner/PractitionerRole/Organization, and one resource per item (see
  :mod:`~ehealth_hub.mappings.kmehr_items` and :mod:`~ehealth_hub.mappings.kmehr_medication`
  for the decisions per item type);
- any other message (medication scheme: ``medicationscheme`` + ``medicationschemeelement``;
  ``vaccination``; contact reports...) -> a ``collection`` Bundle of the same resources.

Other decisions: ``gmdmanager`` items become ``Patient.generalPractitioner`` (no resource of their
own; their person gets a PractitionerRole like any author); ``contactperson`` items become
RelatedPerson (keeps their SSIN) and are repeated, with their relationship, name, telecom and
gender, in ``Patient.contact``; the transaction author is the recorder of its items; header
sender/recipient are transport data and are not mapped (the TTC oracle counts the recipient
organisation among its 21 n + 4 entries; the hub's 21 n + 4 count the author's PractitionerRole
instead); the
``medicationscheme`` header transaction carries no item; ``medicationschemeelement`` and
``treatmentsuspension`` transactions are folded as :mod:`~ehealth_hub.mappings.kmehr_scheme`
says. Refused, with a MappingError naming the element and the rule: more than one folder
(``kmehr.single-patient``), prescriptions (``kmehr.transaction-supported``: Recip-e prescriptions
are orders, not statements), items without CD-ITEM (``kmehr.item-type``), and the per-item rules
of the item mappings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from ehealth_hub.core.xml import DEFAULT_LIMITS, XmlLimits, parse_xml
from ehealth_hub.fhir.builders import (
    IdFactory,
    Json,
    full_url,
    identifier,
    kmehr_id_system,
    ref,
    uuid5_ids,
)
from ehealth_hub.fhir.composition import composition
from ehealth_hub.mappings import kmehr_items as items
from ehealth_hub.mappings.kmehr_medication import medication_statement
from ehealth_hub.mappings.kmehr_observation import CodeTables, observation
from ehealth_hub.mappings.kmehr_outcome import Issues
from ehealth_hub.mappings.kmehr_parties import Parties, patient, related_person
from ehealth_hub.mappings.kmehr_patientwill import patient_will
from ehealth_hub.mappings.kmehr_problems import allergy, condition
from ehealth_hub.mappings.kmehr_read import Element, Reader, fail, locate_message
from ehealth_hub.mappings.kmehr_scheme import (
    SCHEME_TRANSACTIONS,
    Folded,
    fold,
    line_version,
    merge_suspension,
)
from ehealth_hub.mappings.kmehr_vaccines import immunization

Mapper = Callable[[items.ItemContext, items.Parsed, str], Json]

_MAPPERS: Final[dict[str, Mapper]] = {
    "allergy": allergy,
    "adr": allergy,
    "problem": condition,
    "healthissue": condition,
    "healthcareelement": condition,
    "risk": condition,
    "socialrisk": condition,
    "medication": medication_statement,
    "vaccine": immunization,
    "patientwill": patient_will,
}
"""CD-ITEM -> mapper; the Composition section follows from the resource
(:func:`ehealth_hub.fhir.composition.section_of`)."""
_REFUSED: Final = frozenset({"pharmaceuticalprescription"})
_CONTACT: Final = ("relationship", "name", "telecom", "gender")
"""RelatedPerson fields repeated in ``Patient.contact`` (Patient readers see the contacts too)."""


@dataclass
class _Build:
    r: Reader
    new_id: IdFactory
    parties: Parties
    patient_ref: Json
    patient: Json
    entries: list[Json] = field(default_factory=list)
    sumehr: list[tuple[Element, list[Json]]] = field(default_factory=list)
    """Sumehr transactions and their authors (the first one heads the Composition)."""
    message_id: str = ""
    lines: dict[str, Json] = field(default_factory=dict)
    """Medication-scheme lines by the ``ID-KMEHR`` of their transaction."""
    suspensions: list[Folded] = field(default_factory=list)
    issues: Issues = field(default_factory=Issues)
    tables: CodeTables | None = None


def translate_kmehr(
    data: bytes,
    *,
    now: datetime,
    new_id: IdFactory | None = None,
    limits: XmlLimits = DEFAULT_LIMITS,
) -> Json:
    """Translate one KMEHR document (bare, SOAP- or hub-wrapped) into a FHIR Bundle (JSON dict).

    ``now`` stamps ``Bundle.timestamp``; ``new_id`` makes resource ids (default: uuid5 over a
    SHA-256 of ``data``, so the same input yields the same Bundle). Raises ``HostileXmlError`` or
    ``MappingError`` (field = element path and line, rule = the rule broken).
    """
    root = parse_xml(data, limits=limits)
    message, r = locate_message(root)
    ids = new_id or uuid5_ids(hashlib.sha256(data).hexdigest())
    return message_to_bundle(message, r, now=now, new_id=ids)


def message_to_bundle(message: Element, r: Reader, *, now: datetime, new_id: IdFactory) -> Json:
    """Map a located ``kmehrmessage`` element (see :func:`translate_kmehr`)."""
    folders = r.children(message, "folder")
    if not folders:
        raise fail(message, "kmehr.folder", "the message has no folder")
    if len(folders) > 1:
        raise fail(folders[1], "kmehr.single-patient", "more than one folder (patient)")
    folder = folders[0]
    patient_el = r.child(folder, "patient")
    if patient_el is None:
        raise fail(folder, "kmehr.patient", "the folder has no patient")
    pid = new_id("patient")
    build = _Build(r, new_id, Parties(new_id), ref(pid), patient(r, patient_el, pid))
    build.message_id = _message_id(r, message) or "kmehr"
    for t_index, tx in enumerate(r.children(folder, "transaction")):
        _transaction(build, tx, t_index)
    return _bundle(build, message, now)


def _transaction(b: _Build, tx: Element, t_index: int) -> None:
    r = b.r
    kind = r.cd(tx, "CD-TRANSACTION")
    if kind is None:
        raise fail(tx, "kmehr.transaction-type", "transaction without a CD-TRANSACTION code")
    if kind.value in _REFUSED:
        raise fail(tx, "kmehr.transaction-supported", f"{kind.value} is not a record transaction")
    authors = [ref for author in r.children(tx, "author") for ref in b.parties.parties(r, author)]
    if not authors:
        raise fail(tx, "kmehr.transaction-author", "transaction without an author hcparty")
    recorded = r.moment(tx)
    if recorded is None:
        raise fail(tx, "kmehr.transaction-date", "transaction without a date")
    tx_id = next((i.value for i in r.cds(tx, "id") if i.s == "ID-KMEHR"), str(t_index))
    ctx = items.ItemContext(r, b.patient_ref, authors[0], recorded, f"{b.message_id}/{tx_id}")
    indexed = list(enumerate(_items(r, tx)))
    if kind.value in SCHEME_TRANSACTIONS:
        indexed = _scheme_line(b, ctx, tx, indexed, kind.value, t_index, tx_id)
    for i_index, item in indexed:
        _item(b, ctx, item, f"tx{t_index}/item{i_index}")
    if kind.value == "sumehr":
        b.sumehr.append((tx, authors))


def _scheme_line(
    b: _Build,
    ctx: items.ItemContext,
    tx: Element,
    indexed: list[tuple[int, Element]],
    kind: str,
    t_index: int,
    tx_id: str,
) -> list[tuple[int, Element]]:
    """Fold a medication-scheme transaction into one statement; return the items left to map."""
    version = line_version(b.r, tx)
    folded = fold(b.r, ctx, indexed, kind, b.new_id(f"tx{t_index}/line"), version)
    if folded is None:
        return indexed
    if folded.suspension is None:
        _add(b, folded.statement)
        b.lines[tx_id] = folded.statement
    else:
        b.suspensions.append(folded)
    return folded.remaining


def _items(r: Reader, tx: Element) -> list[Element]:
    found = r.children(tx, "item")
    for heading in r.children(tx, "heading"):
        found.extend(_items(r, heading))
    return found


def _item(b: _Build, ctx: items.ItemContext, item: Element, seed: str) -> None:
    r = b.r
    parsed = items.parse_item(r, item, ctx.seed)
    kind = parsed.kind.value
    if kind == "gmdmanager":
        _gmd_manager(b, item)
        return
    rid = b.new_id(seed)
    if kind == "contactperson":
        person = _content_child(r, item, "person")
        if person is None:
            raise fail(item, "sumehr.contactperson", "contactperson item without a person")
        relation = next((c for c in parsed.item_codes if c.s == "CD-CONTACT-PERSON"), None)
        related = related_person(r, person, relation, rid, b.patient_ref)
        _add(b, related)
        contact = {
            k: related[k][0] if k == "name" else related[k] for k in _CONTACT if k in related
        }
        b.patient.setdefault("contact", []).append(contact)
        return
    if kind in _MAPPERS:
        _add(b, _MAPPERS[kind](ctx, parsed, rid))
        return
    b.tables = b.tables or CodeTables.load()
    _add(b, observation(ctx, parsed, rid, b.issues, b.tables))


def _content_child(r: Reader, item: Element, name: str) -> Element | None:
    for content in r.children(item, "content"):
        found = r.child(content, name)
        if found is not None:
            return found
    return None


def _gmd_manager(b: _Build, item: Element) -> None:
    content = next(
        (c for c in b.r.children(item, "content") if b.r.child(c, "hcparty") is not None), None
    )
    if content is None:
        raise fail(item, "sumehr.gmdmanager", "gmdmanager item without an hcparty")
    b.patient.setdefault("generalPractitioner", []).append(b.parties.parties(b.r, content)[0])


def _add(b: _Build, res: Json) -> None:
    b.entries.append(res)


def _bundle(b: _Build, message: Element, now: datetime) -> Json:
    msg_id = _message_id(b.r, message)
    for folded in b.suspensions:
        _suspend(b, folded)
    resources = [b.patient, *b.parties.resources, *b.entries]
    if (outcome := b.issues.outcome(b.new_id("outcome"))) is not None:
        resources.append(outcome)
    bundle_type = "collection"
    if b.sumehr:
        resources.insert(0, _composition(b, resources))
        bundle_type = "document"
    bundle: Json = {
        "resourceType": "Bundle",
        "id": b.new_id("bundle"),
        "type": bundle_type,
        "timestamp": now.isoformat(),
        "entry": [{"fullUrl": full_url(res["id"]), "resource": res} for res in resources],
    }
    if msg_id:
        bundle["identifier"] = identifier(kmehr_id_system("ID-KMEHR"), msg_id)
    elif bundle_type == "document":
        bundle["identifier"] = identifier(kmehr_id_system("ID-KMEHR"), bundle["id"])
    return bundle


def _suspend(b: _Build, folded: Folded) -> None:
    """Fold a suspension into its line; one whose line is not in the message stays a statement."""
    line = b.lines.get(folded.suspends or "")
    if line is not None:
        merge_suspension(line, folded)
        return
    target = folded.suspends or "?"
    statement = folded.statement
    statement["partOf"] = [{"identifier": identifier(kmehr_id_system("ID-KMEHR"), target)}]
    _add(b, statement)
    b.issues.warn(
        folded.element,
        "scheme.suspension-line",
        f"the suspended line (transaction {target}) is not in the message: kept as a statement",
    )


def _message_id(r: Reader, message: Element) -> str | None:
    header = r.child(message, "header")
    return next((i.value for i in r.cds(header, "id")), None) if header is not None else None


def _composition(b: _Build, resources: list[Json]) -> Json:
    tx, authors = b.sumehr[0]
    return composition(
        b.new_id("composition"),
        resources,
        subject=b.patient_ref,
        date=b.r.moment(tx),
        author=authors,
        title="Sumehr",
    )
