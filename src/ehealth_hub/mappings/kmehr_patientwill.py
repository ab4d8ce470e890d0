"""KMEHR patientwill items -> FHIR R4 Consent (HL7-BE be-patientwill).

Mapping decisions:

- ``patientwill`` -> Consent (be-patientwill): it is a standing decision of the patient about care
  (resuscitation, euthanasia, organ donation...), which is what be-patientwill models; the KMEHR
  CD-PATIENTWILL* code is the provision code and chooses the category; the policy is the law on
  patients' rights (FHIR invariant ppc-1 asks for one).
"""

from __future__ import annotations

from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import Json, coding, concept, resource
from ehealth_hub.mappings.kmehr_items import ItemContext, Parsed, item_identifier, to_coding
from ehealth_hub.mappings.kmehr_read import fail

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
        policy=[{"uri": prof.PATIENT_RIGHTS_LAW}],
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
