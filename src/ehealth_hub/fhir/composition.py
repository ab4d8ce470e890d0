"""The one Composition layout of the hub's documents (``translate`` of a Sumehr and ``$summary``).

Sections by clinical topic, coded with the LOINC section codes of the HL7 International Patient
Summary (IPS, hl7.fhir.uv.ips 1.1.0, Composition-uv-ips): no Belgian Sumehr/IPS document profile
is published in the HL7-BE packages at hand (../shared/be-fhir-examples/packages), and the BE
profiles the entries claim (be-problem, be-allergyintolerance, be-medicationline, be-vaccination,
be-patientwill) say nothing about the section that holds them. Sections with no LOINC code of
their own (contact persons, other items, missing information) carry a title only: FHIR R4
``Composition.section.code`` is optional and a private code would say nothing a title does not.

The topic of a resource follows from the resource itself (:func:`section_of`), so a Sumehr, a
medication scheme and a vaccination list sort the same way whoever assembles them. The three
sections IPS requires (problems, allergies, medications) are always present: empty, they say why
(``emptyReason``) in a narrative too (FHIR cmp-1).
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Final

from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import Json, coding, concept, full_url, resource

SECTIONS: Final[dict[str, tuple[str, str | None]]] = {
    "allergies": ("Allergies and intolerances", "48765-2"),
    "problems": ("Problems", "11450-4"),
    "risks": ("Risks", "75310-3"),
    "medications": ("Medications", "10160-0"),
    "immunizations": ("Immunizations", "11369-6"),
    "patientwills": ("Patient wills", "42348-3"),
    "contacts": ("Contact persons", None),
    "other": ("Other items", None),
    "missing": ("Missing information", None),
}
"""Section key -> (title, LOINC code or None), in document order."""
REQUIRED: Final = ("problems", "allergies", "medications")
"""The IPS sections present even when empty (Composition-uv-ips, min 1)."""
_EMPTY_REASON: Final = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
_TYPES: Final = {
    "AllergyIntolerance": "allergies",
    "MedicationStatement": "medications",
    "Immunization": "immunizations",
    "Consent": "patientwills",
    "RelatedPerson": "contacts",
    "Observation": "other",
    "OperationOutcome": "missing",
}


def section_of(res: Json) -> str | None:
    """The section key of a resource; None for what no section lists (Patient, parties,
    Provenance). A Condition of the be-problem category ``risk`` is a health concern."""
    kind = res["resourceType"]
    if kind == "Condition":
        risk = any(
            c.get("system") == prof.PROBLEM_CATEGORY_SYSTEM and c.get("code") == "risk"
            for cat in res.get("category", [])
            for c in cat.get("coding", [])
        )
        return "risks" if risk else "problems"
    return _TYPES.get(kind)


def _narrative(text: str) -> Json:
    div = f'<div xmlns="http://www.w3.org/1999/xhtml">{html.escape(text)}</div>'
    return {"status": "generated", "div": div}


def sections(resources: Iterable[Json], *, empty_reason: str = "nilknown") -> list[Json]:
    """The sections listing ``resources`` (each in the section of :func:`section_of`)."""
    listed: dict[str, list[Json]] = {}
    for res in resources:
        key = section_of(res)
        if key is not None:
            listed.setdefault(key, []).append({"reference": full_url(res["id"])})
    out: list[Json] = []
    for key, (title, loinc) in SECTIONS.items():
        if key not in listed and key not in REQUIRED:
            continue
        section: Json = {"title": title}
        if loinc is not None:
            section["code"] = concept([coding(prof.LOINC_SYSTEM, loinc)])
        if key in listed:
            section["entry"] = listed[key]
        else:
            section["emptyReason"] = concept([coding(_EMPTY_REASON, empty_reason)])
            section["text"] = _narrative(f"{title}: none recorded ({empty_reason})")
        out.append(section)
    return out


def composition(
    rid: str,
    resources: Iterable[Json],
    *,
    subject: Json,
    date: str | None,
    author: list[Json],
    title: str,
    empty_reason: str = "nilknown",
) -> Json:
    """A Patient summary Composition (LOINC 60591-5) sectioning ``resources`` by topic."""
    return resource(
        "Composition",
        rid,
        "http://hl7.org/fhir/StructureDefinition/Composition",
        status="final",
        type=concept([coding(prof.LOINC_SYSTEM, "60591-5", "Patient summary Document")]),
        subject=subject,
        date=date,
        author=author,
        title=title,
        section=sections(resources, empty_reason=empty_reason),
    )
