"""The patient's GP as FHIR: the GMD holder MyCareNet names, as ``GET /fhir/Patient`` answers it.

A ``searchset`` Bundle: the be-patient (SSIN identifier; search mode ``match``) whose
``generalPractitioner`` is the GMD holder: a Reference to the included resource with the NIHII
identifier and a display ``<name> (GMD holder)``; the GMD period is carried by the extension
:data:`GMD_PERIOD_EXT` (``valuePeriod``) on that Reference, not in the display. A patient without
GMD holder has no ``generalPractitioner`` and an OperationOutcome entry (search mode ``outcome``)
says so. With ``_include=Patient:general-practitioner`` (search mode ``include``): a holder who is
a person gives a be-practitioner (NIHII, name) and a be-practitionerrole (the practitioner, the
CD-HCPARTY code, the eHealthBox address from the AddressBook as an identifier of
:data:`EHEALTHBOX_SYSTEM` whose ``type.text`` is the box's id type); a holder that is an
organisation (a medical house, CD-HCPARTY ``org*``) gives a be-organization with its NIHII and
eHealthBox.

Pure: ids are uuid5 of the NIHII / SSIN; entries and references are ``urn:uuid:<id>``.
"""

from __future__ import annotations

import uuid
from typing import Final

from ehealth_hub.core.mycarenet_types import GmdFacts, GmdHolder
from ehealth_hub.core.ports import ProviderEntry
from ehealth_hub.fhir import profiles as p
from ehealth_hub.fhir.builders import Json, coding, concept, identifier

GMD_PERIOD_EXT: Final = f"{p.HUB_SYSTEM_BASE}/StructureDefinition/gmd-period"
EHEALTHBOX_SYSTEM: Final = f"{p.HUB_SYSTEM_BASE}/NamingSystem/ehealthbox"
INCLUDE: Final = "Patient:general-practitioner"
BIM_EXT: Final = f"{p.HUB_SYSTEM_BASE}/StructureDefinition/increased-reimbursement"
GMD_RELATIONSHIP_EXT: Final = f"{p.HUB_SYSTEM_BASE}/StructureDefinition/gmd-treatment-relationship"


def _id(kind: str, value: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ehealth-hub:{kind}:{value}"))


def _name(holder: GmdHolder, entry: ProviderEntry | None) -> tuple[str, str]:
    if entry is not None:
        return entry.given, entry.family
    return holder.given, holder.family


def _box(entry: ProviderEntry | None) -> list[Json]:
    if entry is None or not entry.ehbox_id:
        return []
    box = identifier(EHEALTHBOX_SYSTEM, entry.ehbox_id)
    box["type"] = {"text": entry.ehbox_id_type}
    return [box]


def holder_reference(facts: GmdFacts, entry: ProviderEntry | None) -> Json:
    """Patient.generalPractitioner for the GMD holder (``facts.holder`` must be set)."""
    holder = facts.holder
    assert holder is not None  # the caller only asks for a holder that exists
    org = holder.kind.startswith("org")
    given, family = _name(holder, entry)
    kind = "Organization" if org else "Practitioner"
    period = {
        k: v.isoformat() for k, v in (("start", facts.start), ("end", facts.end)) if v is not None
    }
    return {
        "extension": [{"url": GMD_PERIOD_EXT, "valuePeriod": period}],
        "reference": f"urn:uuid:{_id(kind, holder.nihii)}",
        "type": kind,
        "identifier": identifier(p.NIHDI_SYSTEM, holder.nihii),
        "display": f"{given} {family} (GMD holder)".strip(),
    }


def included(facts: GmdFacts, entry: ProviderEntry | None) -> list[Json]:
    """The resources ``_include=Patient:general-practitioner`` adds."""
    holder = facts.holder
    if holder is None:
        return []
    given, family = _name(holder, entry)
    nihii = [identifier(p.NIHDI_SYSTEM, holder.nihii)]
    if holder.kind.startswith("org"):
        org: Json = {
            "resourceType": "Organization",
            "id": _id("Organization", holder.nihii),
            "meta": {"profile": [p.BE_ORGANIZATION]},
            "identifier": nihii + _box(entry),
            "name": f"{given} {family}".strip(),
        }
        return [org]
    practitioner_id = _id("Practitioner", holder.nihii)
    practitioner = {
        "resourceType": "Practitioner",
        "id": practitioner_id,
        "meta": {"profile": [p.BE_PRACTITIONER]},
        "identifier": nihii,
        "name": [{"family": family, "given": [given] if given else []}],
    }
    role = {
        "resourceType": "PractitionerRole",
        "id": _id("PractitionerRole", holder.nihii),
        "meta": {"profile": [p.BE_PRACTITIONER_ROLE]},
        "identifier": _box(entry),
        "practitioner": {"reference": f"urn:uuid:{practitioner_id}"},
        "code": [concept([coding(p.CD_HCPARTY_SYSTEM, holder.kind)])],
    }
    return [practitioner, role]


def searchset(ssin: str, facts: GmdFacts, entry: ProviderEntry | None, *, include: bool) -> Json:
    """The searchset answering ``GET /fhir/Patient?identifier=<ssin>`` with the GMD holder."""
    patient: Json = {
        "resourceType": "Patient",
        "id": _id("Patient", ssin),
        "meta": {"profile": [p.BE_PATIENT]},
        "identifier": [identifier(p.SSIN_SYSTEM, ssin)],
    }
    entries: list[Json] = []
    if facts.holder is not None:
        patient["generalPractitioner"] = [holder_reference(facts, entry)]
    else:
        entries.append(_no_holder())
    entries.insert(0, _entry(patient, "match"))
    if include:
        entries += [_entry(r, "include") for r in included(facts, entry)]
    return {"resourceType": "Bundle", "type": "searchset", "total": 1, "entry": entries}


def _entry(resource: Json, mode: str) -> Json:
    return {
        "fullUrl": f"urn:uuid:{resource['id']}",
        "resource": resource,
        "search": {"mode": mode},
    }


def _no_holder() -> Json:
    outcome = {
        "resourceType": "OperationOutcome",
        "id": _id("OperationOutcome", "no-gmd"),
        "issue": [
            {
                "severity": "information",
                "code": "not-found",
                "diagnostics": "MyCareNet names no holder of the patient's global medical file",
            }
        ],
    }
    return _entry(outcome, "outcome")


def eligibility_extensions(*, bim: bool, gmd: GmdFacts, requestor_nihii: str) -> list[Json]:
    """What ``CoverageEligibilityRequest/$submit`` adds to its answer: the BIM status (hub
    extension ``increased-reimbursement``) and whether the requesting doctor has a treatment
    relationship through the GMD on the serviced date (``gmd-treatment-relationship``, with the
    holder's NIHII when there is one)."""
    held = gmd.held_by(requestor_nihii, gmd.reference_date)
    relationship: Json = {
        "url": GMD_RELATIONSHIP_EXT,
        "extension": [{"url": "exists", "valueBoolean": held}],
    }
    if gmd.holder is not None:
        relationship["extension"].append(
            {"url": "holder", "valueIdentifier": identifier(p.NIHDI_SYSTEM, gmd.holder.nihii)}
        )
    return [{"url": BIM_EXT, "valueBoolean": bim}, relationship]
