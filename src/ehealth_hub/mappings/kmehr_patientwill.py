"""KMEHR patientwill items -> FHIR R4 Consent (HL7-BE be-patientwill).

Mapping decisions:

- ``patientwill`` -> Consent (be-patientwill): it is a standing decision of the patient about care
  (resuscitation, euthanasia, organ donation...), which is what be-patientwill models; the KMEHR
  CD-PATIENTWILL* code chooses the category and is the provision code: the HL7-BE
  be-cs-patientwill-code where the meaning is the same, else the KMEHR code; the policy is the law
  on patients' rights (FHIR invariant ppc-1 asks for one).
"""

from __future__ import annotations

import csv
import importlib.resources
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import Json, coding, concept, resource
from ehealth_hub.mappings.kmehr_items import ItemContext, Parsed, item_identifier, to_coding
from ehealth_hub.mappings.kmehr_read import fail


def _will_codes() -> Mapping[str, tuple[str, str]]:
    path = importlib.resources.files("ehealth_hub.mappings") / "data"
    text = (path / "cd_patientwill_be.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(line for line in text.splitlines() if line[:1] != "#"))[1:]
    return MappingProxyType({row[1]: (row[2], row[3]) for row in rows if row})


WILL_CODES: Final = _will_codes()
"""Read-only table (``data/cd_patientwill_be.csv``, read once at import): KMEHR patient-will
code -> (be-cs-patientwill-code or "", be-cs-patientwill-category)."""


def patient_will(ctx: ItemContext, p: Parsed, rid: str) -> Json:
    """patientwill -> Consent (be-patientwill)."""
    will = next((c for c in p.codes if c.s.startswith("CD-PATIENTWILL")), None)
    if will is None:
        raise fail(p.element, "patientwill.code", "patientwill item without a CD-PATIENTWILL code")
    be_code, category = WILL_CODES.get(will.value, ("", "patientwill"))
    start = p.begin or p.recorded or ctx.recorded
    return resource(
        "Consent",
        rid,
        prof.BE_PATIENT_WILL,
        extension=[{"url": prof.BE_EXT_RECORDER, "valueReference": ctx.recorder}],
        identifier=item_identifier(ctx, p),
        status="active" if p.lifecycle in (None, "active") else "inactive",
        scope=concept([coding(prof.SNOMED_SYSTEM, "385432009")]),
        category=[concept([coding(prof.PATIENT_WILL_CATEGORY_SYSTEM, category)])],
        patient=ctx.patient,
        dateTime=p.recorded or ctx.recorded,
        policy=[{"uri": prof.PATIENT_RIGHTS_LAW}],
        provision={
            "period": {k: v for k, v in (("start", start), ("end", p.end)) if v},
            "code": [
                concept(
                    [
                        coding(prof.PATIENT_WILL_CODE_SYSTEM, be_code)
                        if be_code
                        else to_coding(will)
                    ],
                    p.texts[0].value if p.texts else None,
                )
            ],
        },
    )
