"""KMEHR clinical items (CD-ITEM) -> Belgian FHIR R4 resources (HL7-BE core-clinical, allergy,
vaccination, patientwill). Medication items are in :mod:`ehealth_hub.mappings.kmehr_medication`.

Mapping decisions (one resource per KMEHR item, so counts scale exactly with the input):

- ``problem``, ``healthissue``, ``healthcareelement`` -> Condition (be-problem), category
  ``problem``; every code of the item is kept as a coding (ICPC-2, ICD-10, CD-CLINICAL/IBUI,
  anything else under the hub's kmehr table system); clinicalStatus from CD-LIFECYCLE (``active``,
  ``inactive``, ``resolved``; ``notpresent``/``excluded`` -> inactive + verificationStatus
  ``refuted``); without a lifecycle: ``resolved`` when an endmoment exists, else ``active``.
- ``risk`` and ``socialrisk`` -> Condition (be-problem) with the be-problem category ``risk``
  plus the KMEHR CD-ITEM coding (so a social risk stays distinguishable). Why not RiskAssessment:
  KMEHR risks are coded facts about the patient (ICPC Z04, P15), not predictions; be-problem has a
  ``risk`` category made for them, and GP software lists them with the problems.
- ``allergy`` -> AllergyIntolerance (be-allergyintolerance) of type SNOMED 609328004 "Allergy";
  ``adr`` (adverse drug reaction) -> type 782197009 "Intolerance to substance", category
  ``medication``. be-allergyintolerance forbids ``AllergyIntolerance.type`` (max 0): the type goes
  to its ``be-ext-allergy-type`` extension (value set be-vs-allergyintolerance-type).
- ``vaccine`` -> Immunization (be-vaccination): product CNK (string, zeros kept) + name as
  vaccineCode and, as be-vaccination means it, as the ``coded`` part of the
  ``be-ext-administeredProduct`` extension; ``batch`` -> that extension's ``lotNumber``
  (be-vaccination forbids ``Immunization.lotNumber``). Known gap: be-vaccination binds
  vaccineCode (required) to be-vs-vaccine-code (SNOMED CT vaccine types), and no published
  CNK -> SNOMED CT table is at hand, so vaccineCode keeps the CNK (once such a table exists, the
  SNOMED code replaces it there while the product stays in the extension). Every
  CD-VACCINEINDICATION is a ``reasonCode`` (KMEHR gives no dose number, so ``protocolApplied``
  would need an invented one); lifecycle
  ``notadministered`` -> ``not-done``. A vaccine without a date is refused
  (rule ``vaccine.occurrence``).
- ``patientwill`` -> Consent (be-patientwill): it is a standing decision of the patient about care
  (resuscitation, euthanasia, organ donation...), which is what be-patientwill models; the KMEHR
  CD-PATIENTWILL* code is the provision code and chooses the category.
- any other item type -> Observation (be-observation) coded with its CD-ITEM, value from its
  content codes or text: kept rather than dropped.

Texts keep their language (``note`` with the FHIR ``language`` extension on ``text``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import (
    Json,
    coding,
    concept,
    identifier,
    kmehr_id_system,
    kmehr_table_system,
    language_text,
    resource,
)
from ehealth_hub.mappings.kmehr_read import Cd, Element, Reader, Text, fail, to_fhir_datetime

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
_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
_BE_WILL_CODES = {
    "ntbr": "noresuscitation",
    **{
        c: c
        for c in (
            "bloodtransfusionrefusal",
            "intubationrefusal",
            "euthanasiarequest",
            "vaccinationrefusal",
            "datareuseforclinicalresearchconsent",
            "datareuseforclinicaltrialsconsent",
            "clinicaltrialparticipationconsent",
            "omissionofmedicaldata",
        )
    },
}
"""KMEHR CD-PATIENTWILL -> HL7-BE be-cs-patientwill-code where the meaning is the same."""
_PATIENTWILL_CATEGORIES = (
    ("dnr", "resuscitation"),
    ("noresuscitation", "resuscitation"),
    ("ntbr", "resuscitation"),
    ("hos", "hospitalisation"),
    ("euthanasia", "euthanasia"),
    ("organdonation", "organdonation"),
    ("bodydonation", "bodydonation"),
)


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


def parse_item(r: Reader, item: Element, seed: str) -> Parsed:
    """Read the common parts of a KMEHR item in one pass over its children.

    Raises MappingError (rule ``kmehr.item-type``) for an item without a CD-ITEM code.
    """
    codes: list[Cd] = []
    texts: list[Text] = []
    item_texts: list[Text] = []
    item_codes: list[Cd] = []
    kmehr_id: str | None = None
    found: dict[str, Element] = {}
    content, text, cd, id_ = r.t("content"), r.t("text"), r.t("cd"), r.t("id")
    for child in item:
        tag = child.tag
        if tag == content:
            codes.extend(r.cds(child))
            texts.extend(r.texts(child))
        elif tag == cd:
            if value := "".join((child.text or "").split()):
                get = child.get
                item_codes.append(Cd(get("S", ""), get("SV", ""), value, get("SL"), get("DN")))
        elif tag == text:
            if value := " ".join((child.text or "").split()):
                item_texts.append(Text(value, child.get("L")))
        elif tag == id_:
            if kmehr_id is None and child.get("S") == "ID-KMEHR":
                kmehr_id = "".join((child.text or "").split()) or None
        elif isinstance(tag, str) and tag not in found:
            found[tag] = child
    kind = next((c for c in item_codes if c.s == "CD-ITEM"), None)
    if kind is None:
        raise fail(item, "kmehr.item-type", "item without a CD-ITEM code")
    life = r.cd(found.get(r.t("lifecycle")), "CD-LIFECYCLE")
    return Parsed(
        item,
        kind,
        kmehr_id or seed,
        codes,
        texts + item_texts,
        r.moment(found.get(r.t("beginmoment"))),
        r.moment(found.get(r.t("endmoment"))),
        life.value if life else None,
        _recorded(r, item, found.get(r.t("recorddatetime"))),
        item_codes,
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


def condition(ctx: ItemContext, p: Parsed, rid: str) -> Json:
    """problem/healthissue/healthcareelement/risk/socialrisk -> Condition (be-problem)."""
    if not p.codes and not p.texts:
        raise fail(p.element, "sumehr.problem-code", f"{p.kind.value} item without code or text")
    category_code = "risk" if p.kind.value in ("risk", "socialrisk") else "problem"
    category = concept(
        [coding(prof.PROBLEM_CATEGORY_SYSTEM, category_code), to_coding(p.kind)],
    )
    status, verification = _condition_status(p)
    return resource(
        "Condition",
        rid,
        prof.BE_PROBLEM,
        identifier=item_identifier(ctx, p),
        clinicalStatus=concept([coding(_CLINICAL, status)]),
        verificationStatus=concept([coding(_VERIFICATION, verification)]) if verification else None,
        category=[category],
        code=concept([to_coding(c) for c in p.codes], p.texts[0].value if p.texts else None),
        subject=ctx.patient,
        onsetDateTime=p.begin,
        abatementDateTime=p.end,
        recordedDate=p.recorded or ctx.recorded,
        recorder=ctx.recorder,
        note=notes(p.texts),
    )


def _condition_status(p: Parsed) -> tuple[str, str | None]:
    life = p.lifecycle
    if life in ("active", "inactive", "resolved"):
        return life, None
    if life in ("notpresent", "excluded"):
        return "inactive", "refuted"
    return ("resolved" if p.end else "active"), None


def allergy(ctx: ItemContext, p: Parsed, rid: str) -> Json:
    """allergy/adr -> AllergyIntolerance (be-allergyintolerance)."""
    codes = [to_coding(c) for c in p.codes]
    codes.extend(products(ctx.r, p.element)[0])
    if not codes and not p.texts:
        raise fail(p.element, "sumehr.allergy-code", f"{p.kind.value} item without code or text")
    is_adr = p.kind.value == "adr"
    clinical = "inactive" if p.lifecycle == "inactive" or p.end else "active"
    return resource(
        "AllergyIntolerance",
        rid,
        prof.BE_ALLERGY_INTOLERANCE,
        identifier=item_identifier(ctx, p),
        clinicalStatus=concept([coding(_ALLERGY_CLINICAL, clinical)]),
        extension=[_allergy_type(is_adr)],
        category=["medication"] if is_adr else None,
        code=concept(codes, p.texts[0].value if p.texts else None),
        patient=ctx.patient,
        onsetDateTime=p.begin,
        recordedDate=p.recorded or ctx.recorded,
        recorder=ctx.recorder,
        note=notes(p.texts),
    )


_ALLERGY_TYPE_EXT = prof.BE_ALLERGY_INTOLERANCE.replace(
    "be-allergyintolerance", "be-ext-allergy-type"
)
_ALLERGY_TYPES = {
    False: coding(prof.SNOMED_SYSTEM, "609328004", "Allergy"),
    True: coding(prof.SNOMED_SYSTEM, "782197009", "Intolerance to substance"),
}


def _allergy_type(is_adr: bool) -> Json:
    return {
        "url": _ALLERGY_TYPE_EXT,
        "valueCodeableConcept": concept([dict(_ALLERGY_TYPES[is_adr])]),
    }


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
                out.append(to_coding(c._replace(dn=c.dn or name)))
            for c in r.cds(product, "deliveredcd"):
                out.append(to_coding(c._replace(dn=c.dn or delivered)))
    return out, first_name


_ADMINISTERED_PRODUCT = prof.BE_VACCINATION.replace("be-vaccination", "be-ext-administeredProduct")


def immunization(ctx: ItemContext, p: Parsed, rid: str) -> Json:
    """vaccine -> Immunization (be-vaccination)."""
    if p.begin is None:
        raise fail(p.element, "vaccine.occurrence", "vaccine item without a beginmoment")
    codings, name = products(ctx.r, p.element)
    if not codings and not name:
        raise fail(p.element, "vaccine.product", "vaccine item without a product")
    indications = [c for c in p.codes if c.s == "CD-VACCINEINDICATION"]
    product = [{"url": "coded", "valueCodeableConcept": concept(codings, name)}]
    if batch := ctx.r.text(p.element, "batch"):
        product.append({"url": "lotNumber", "valueString": batch})
    return resource(
        "Immunization",
        rid,
        prof.BE_VACCINATION,
        extension=[
            {"url": prof.BE_EXT_RECORDER, "valueReference": ctx.recorder},
            {"url": _ADMINISTERED_PRODUCT, "extension": product},
        ],
        identifier=item_identifier(ctx, p),
        status="not-done" if p.lifecycle == "notadministered" else "completed",
        vaccineCode=concept(codings, name),
        patient=ctx.patient,
        occurrenceDateTime=p.begin,
        recorded=p.recorded or ctx.recorded,
        reasonCode=[concept([to_coding(c)]) for c in indications],
        note=notes(p.texts),
    )


def patient_will(ctx: ItemContext, p: Parsed, rid: str) -> Json:
    """patientwill -> Consent (be-patientwill)."""
    will = next((c for c in p.codes if c.s.startswith("CD-PATIENTWILL")), None)
    if will is None:
        raise fail(p.element, "patientwill.code", "patientwill item without a CD-PATIENTWILL code")
    category = next((c for pre, c in _PATIENTWILL_CATEGORIES if will.value.startswith(pre)), None)
    start = p.begin or p.recorded or ctx.recorded
    be_code = _BE_WILL_CODES.get(will.value)
    return resource(
        "Consent",
        rid,
        prof.BE_PATIENT_WILL,
        extension=[{"url": prof.BE_EXT_RECORDER, "valueReference": ctx.recorder}],
        identifier=item_identifier(ctx, p),
        status="active" if p.lifecycle in (None, "active") else "inactive",
        scope=concept([coding(prof.SNOMED_SYSTEM, "385432009")]),
        category=[concept([coding(prof.PATIENT_WILL_CATEGORY_SYSTEM, category or "patientwill")])],
        patient=ctx.patient,
        dateTime=p.recorded or ctx.recorded,
        provision={
            "period": {k: v for k, v in (("start", start), ("end", p.end)) if v},
            "code": [
                concept(
                    [
                        *([coding(prof.PATIENT_WILL_CODE_SYSTEM, be_code)] if be_code else []),
                        to_coding(will),
                    ],
                    p.texts[0].value if p.texts else None,
                )
            ],
        },
    )


def observation(ctx: ItemContext, p: Parsed, rid: str) -> Json:
    """Any other item type -> Observation (be-observation), so nothing is dropped."""
    value: Json = {}
    if p.codes:
        value["valueCodeableConcept"] = concept([to_coding(c) for c in p.codes])
    elif p.texts:
        value["valueString"] = p.texts[0].value
    return resource(
        "Observation",
        rid,
        prof.BE_OBSERVATION,
        identifier=item_identifier(ctx, p),
        status="final",
        code=concept([to_coding(p.kind)]),
        subject=ctx.patient,
        effectiveDateTime=p.begin,
        performer=[ctx.recorder],
        note=notes(p.texts),
        **value,
    )
