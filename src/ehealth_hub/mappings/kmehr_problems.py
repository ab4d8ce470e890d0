"""KMEHR problem, risk, allergy and adverse-drug-reaction items -> FHIR R4 Condition
(HL7-BE be-problem) and AllergyIntolerance (be-allergyintolerance).

Mapping decisions:

- ``problem``, ``healthissue``, ``healthcareelement`` -> Condition (be-problem), category
  ``problem``; every code of the item is kept as a coding (ICPC-2, ICD-10, CD-CLINICAL/IBUI,
  anything else under the hub's kmehr table system); clinicalStatus from CD-LIFECYCLE (``active``,
  ``inactive``, ``resolved``; ``notpresent``/``excluded`` -> inactive + verificationStatus
  ``refuted``); without a lifecycle: ``resolved`` when an endmoment exists, else ``active``.
- ``risk`` and ``socialrisk`` -> Condition (be-problem) with the be-problem category ``risk``;
  a ``socialrisk`` keeps its KMEHR CD-ITEM coding too (neither be-cs-problem-category nor HL7's
  condition-category has a "social risk"). Every category also carries HL7's
  ``problem-list-item`` (a Sumehr lists the problems the GP keeps on the patient's list).
  Why not RiskAssessment: KMEHR risks are coded facts about the patient (ICPC Z04, P15), not
  predictions; be-problem has a ``risk`` category made for them, and GP software lists them with
  the problems.
- ``allergy`` -> AllergyIntolerance (be-allergyintolerance) of type SNOMED 609328004 "Allergy";
  ``adr`` (adverse drug reaction) -> type 782197009 "Intolerance to substance", category
  ``medication``. be-allergyintolerance forbids ``AllergyIntolerance.type`` (max 0): the type goes
  to its ``be-ext-allergy-type`` extension (value set be-vs-allergyintolerance-type).
"""

from __future__ import annotations

from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import Json, coding, concept, resource
from ehealth_hub.mappings.kmehr_items import (
    ItemContext,
    Parsed,
    item_identifier,
    notes,
    products,
    to_coding,
)
from ehealth_hub.mappings.kmehr_read import fail

_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"


def condition(ctx: ItemContext, p: Parsed, rid: str) -> Json:
    """problem/healthissue/healthcareelement/risk/socialrisk -> Condition (be-problem)."""
    if not p.codes and not p.texts:
        raise fail(p.element, "sumehr.problem-code", f"{p.kind.value} item without code or text")
    category_code = "risk" if p.kind.value in ("risk", "socialrisk") else "problem"
    category = concept(
        [
            coding(prof.PROBLEM_CATEGORY_SYSTEM, category_code),
            coding(_CATEGORY, "problem-list-item", "Problem List Item"),
            *([to_coding(p.kind)] if p.kind.value == "socialrisk" else []),
        ],
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
