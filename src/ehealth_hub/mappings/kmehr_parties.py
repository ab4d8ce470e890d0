"""KMEHR people and organisations -> be-patient, be-practitioner, be-organization, RelatedPerson.

KMEHR 1.38 ``patient``, ``hcparty`` and ``person`` (contact persons) to HL7-BE core 2.x:

- ``INSS`` and ``ID-PATIENT`` ids become the SSIN identifier; ``ID-HCPARTY`` the NIHDI identifier;
  ``ID-CBE`` the CBE identifier; ``LOCAL`` ids keep their ``SL`` in the identifier system.
- an ``hcparty`` whose CD-HCPARTY starts with ``pers`` (or that has a first/family name) is a
  Practitioner (be-practitioner) with the CD-HCPARTY code as its qualification; any other hcparty
  is an Organization (be-organization) typed by CD-HCPARTY. The same NIHII (or the same name when
  there is no id) yields one resource per Bundle, however often it appears.
- a person hcparty with a CD-HCPARTY code also yields a PractitionerRole (be-practitionerrole):
  ``code`` = that CD-HCPARTY code, ``practitioner`` = the Practitioner and, when the same
  ``author`` (or ``content``) names an organisation hcparty beside the person, ``organization`` =
  that Organization. One role per (practitioner, code, organisation): repeated authors add none.
  References elsewhere (recorder, Composition.author, generalPractitioner) keep pointing at the
  Practitioner, so readers that only know Practitioner still find the person.
- contact persons (``contactperson`` items) become RelatedPerson: unlike ``Patient.contact`` it
  keeps their own SSIN; the CD-CONTACT-PERSON code is the relationship.
- ``usuallanguage`` is ``Patient.communication`` (preferred); CD-SEX ``changed`` -> ``other``,
  ``undefined`` -> ``unknown``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import (
    IdFactory,
    Json,
    coding,
    concept,
    identifier,
    kmehr_id_system,
    ref,
    resource,
)
from ehealth_hub.mappings.kmehr_read import Cd, Element, Reader, fail

_GENDER = {"male": "male", "female": "female", "changed": "other", "undefined": "unknown"}
_ADDRESS_USE = {"home": "home", "work": "work", "vacation": "temp", "careaddress": "temp"}
_TELECOM_SYSTEM = {"phone": "phone", "mobile": "phone", "fax": "fax", "email": "email"}
_PATIENT_IDS = ("INSS", "ID-PATIENT")


def _identifiers(ids: list[Cd]) -> list[Json]:
    out = []
    for i in ids:
        if i.s in _PATIENT_IDS:
            out.append(identifier(prof.SSIN_SYSTEM, i.value))
        elif i.s == "ID-HCPARTY":
            out.append(identifier(prof.NIHDI_SYSTEM, i.value))
        elif i.s == "ID-CBE":
            out.append(identifier(prof.CBE_SYSTEM, i.value))
        else:
            out.append(identifier(kmehr_id_system(i.s, i.sl), i.value))
    return out


def _name(r: Reader, el: Element) -> Json | None:
    given = [t for c in r.children(el, "firstname") if (t := r.text(c))]
    family = r.text(el, "familyname")
    if not given and not family:
        return None
    out: Json = {}
    if family:
        out["family"] = family
    if given:
        out["given"] = given
    return out


def addresses(r: Reader, el: Element) -> list[Json]:
    """KMEHR ``address`` children -> FHIR Address."""
    out = []
    for a in r.children(el, "address"):
        use = r.cd(a, "CD-ADDRESS")
        line = " ".join(x for x in (r.text(a, "street"), r.text(a, "housenumber")) if x)
        box = r.text(a, "postboxnumber")
        country_el = r.child(a, "country")
        country = r.cd(country_el, "CD-FED-COUNTRY") if country_el is not None else None
        item: Json = {}
        if use and use.value in _ADDRESS_USE:
            item["use"] = _ADDRESS_USE[use.value]
        lines = [x for x in (line, f"bus {box}" if box else "") if x]
        if lines:
            item["line"] = lines
        for key, name in (("city", "city"), ("postalCode", "zip")):
            if value := r.text(a, name):
                item[key] = value
        if country:
            item["country"] = country.value.upper()
        if item:
            out.append(item)
    return out


def telecoms(r: Reader, el: Element) -> list[Json]:
    """KMEHR ``telecom`` children -> FHIR ContactPoint (mobile -> phone with use mobile)."""
    out = []
    for t in r.children(el, "telecom"):
        kind = r.cd(t, "CD-TELECOM")
        number = r.text(t, "telecomnumber")
        if kind is None or number is None:
            continue
        point: Json = {"system": _TELECOM_SYSTEM.get(kind.value, "other"), "value": number}
        use = r.cd(t, "CD-ADDRESS")
        if kind.value == "mobile":
            point["use"] = "mobile"
        elif use and use.value in ("home", "work"):
            point["use"] = use.value
        out.append(point)
    return out


def patient(r: Reader, el: Element, rid: str) -> Json:
    """KMEHR ``patient`` -> be-patient (an SSIN or another id is required)."""
    ids = r.cds(el, "id")
    if not ids:
        raise fail(el, "kmehr.patient-id", "the patient has no id (INSS or ID-PATIENT expected)")
    sex = r.cd(r.child(el, "sex"), "CD-SEX")
    lang = r.text(el, "usuallanguage")
    name = _name(r, el)
    return resource(
        "Patient",
        rid,
        prof.BE_PATIENT,
        identifier=_identifiers(ids),
        name=[name] if name else None,
        gender=_GENDER.get(sex.value) if sex else None,
        birthDate=r.moment(r.child(el, "birthdate")),
        deceasedDateTime=r.moment(r.child(el, "deathdate")),
        address=addresses(r, el),
        telecom=telecoms(r, el),
        communication=[{"language": concept([coding("urn:ietf:bcp:47", lang)]), "preferred": True}]
        if lang
        else None,
    )


@dataclass
class Parties:
    """The practitioners/organisations of one Bundle, one resource per NIHII (or name)."""

    new_id: IdFactory
    resources: list[Json] = field(default_factory=list)
    _by_key: dict[str, str] = field(default_factory=dict)

    def parties(self, r: Reader, holder: Element) -> list[Json]:
        """References to the ``hcparty`` children of ``holder`` (an ``author`` or a ``content``);
        each person's PractitionerRole gets the first organisation of ``holder``, if any."""
        found = r.children(holder, "hcparty")
        org_el = next((h for h in found if not _is_person(r, h)), None)
        org = self.hcparty(r, org_el) if org_el is not None else None
        return [self.hcparty(r, h, organization=org) for h in found]

    def hcparty(self, r: Reader, el: Element, *, organization: Json | None = None) -> Json:
        """A reference to the Practitioner/Organization of a KMEHR ``hcparty`` (deduplicated),
        adding the person's PractitionerRole (see the module docstring)."""
        ids = r.cds(el, "id")
        kind = r.cd(el, "CD-HCPARTY")
        name = _name(r, el)
        org_name = r.text(el, "name")
        nihii = next((i.value for i in ids if i.s == "ID-HCPARTY"), None)
        given = " ".join([*(name or {}).get("given", []), (name or {}).get("family", "")]).strip()
        display = given or org_name
        key = nihii or "|".join([given, org_name or "", kind.value if kind else ""])
        rid = self._by_key.get(key)
        if rid is None:
            rid = self._by_key[key] = self.new_id(f"hcparty|{key}")
            self.resources.append(_party_resource(r, el, rid, ids, kind, name, org_name))
        if kind is not None and _is_person(r, el):
            self._role(rid, display, kind, organization)
        return ref(rid, display)

    def _role(self, rid: str, display: str | None, kind: Cd, organization: Json | None) -> None:
        org = organization["reference"] if organization else ""
        key = f"role|{rid}|{kind.value}|{org}"
        if key in self._by_key:
            return
        role_id = self._by_key[key] = self.new_id(key)
        code = concept([coding(prof.CD_HCPARTY_SYSTEM, kind.value, version=kind.sv)])
        self.resources.append(
            resource(
                "PractitionerRole",
                role_id,
                prof.BE_PRACTITIONER_ROLE,
                practitioner=ref(rid, display),
                organization=organization,
                code=[code],
            )
        )


def _is_person(r: Reader, el: Element) -> bool:
    kind = r.cd(el, "CD-HCPARTY")
    return _name(r, el) is not None or bool(kind and kind.value.startswith("pers"))


def _party_resource(
    r: Reader,
    el: Element,
    rid: str,
    ids: list[Cd],
    kind: Cd | None,
    name: Json | None,
    org: str | None,
) -> Json:
    codes = [coding(prof.CD_HCPARTY_SYSTEM, kind.value, version=kind.sv)] if kind else []
    is_person = bool(name) or bool(kind and kind.value.startswith("pers"))
    return resource(
        "Practitioner" if is_person else "Organization",
        rid,
        prof.BE_PRACTITIONER if is_person else prof.BE_ORGANIZATION,
        identifier=_identifiers(ids),
        name=([name] if name else ([{"text": org}] if org else None)) if is_person else org,
        type=None if is_person or not codes else [concept(codes)],
        telecom=telecoms(r, el),
        address=addresses(r, el),
        qualification=[{"code": concept(codes)}] if is_person and codes else None,
    )


def related_person(r: Reader, person: Element, relation: Cd | None, rid: str, pat: Json) -> Json:
    """A contact person (KMEHR ``person`` in a ``contactperson`` item) -> RelatedPerson."""
    sex = r.cd(r.child(person, "sex"), "CD-SEX")
    name = _name(r, person)
    rel = (
        [concept([coding(prof.CD_CONTACT_PERSON_SYSTEM, relation.value, version=relation.sv)])]
        if relation
        else None
    )
    return resource(
        "RelatedPerson",
        rid,
        "http://hl7.org/fhir/StructureDefinition/RelatedPerson",
        identifier=_identifiers(r.cds(person, "id")),
        patient=pat,
        relationship=rel,
        name=[name] if name else None,
        gender=_GENDER.get(sex.value) if sex else None,
        birthDate=r.moment(r.child(person, "birthdate")),
        address=addresses(r, person),
        telecom=telecoms(r, person),
    )
