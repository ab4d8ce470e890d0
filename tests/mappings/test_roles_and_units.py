"""PractitionerRole per author with a CD-HCPARTY role, and CD-ADMINISTRATIONUNIT to UCUM/SNOMED CT
as the HL7-BE outputs paired with the corpus map them (the KMEHR unit kept alongside)."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path

from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import IdFactory, Json, full_url, kmehr_table_system
from ehealth_hub.mappings.kmehr_to_fhir import translate_kmehr
from ehealth_hub.mappings.kmehr_units import PQ_TRANSLATION
from tests.mappings._support import kmehr_doc, only, resources

WITH_ORGANIZATION = """<transaction>
  <id S="ID-KMEHR" SV="1.0">2</id>
  <cd S="CD-TRANSACTION" SV="1.0">contactreport</cd>
  <date>2026-07-02</date><time>11:00:00</time>
  <author>
    <hcparty><id S="ID-HCPARTY" SV="1.0">11530231003</id>
      <cd S="CD-HCPARTY" SV="1.0">persphysician</cd>
      <firstname>Sarah</firstname><familyname>Vermeulen</familyname></hcparty>
    <hcparty><id S="ID-HCPARTY" SV="1.0">71000436000</id>
      <cd S="CD-HCPARTY" SV="1.0">orghospital</cd><name>AZ Sint-Jan</name></hcparty>
  </author>
  <iscomplete>true</iscomplete><isvalidated>true</isvalidated>
</transaction>"""


def test_emits_one_practitioner_role_per_author_role(now: datetime, ids: IdFactory) -> None:
    bundle = translate_kmehr(kmehr_doc(), now=now, new_id=ids)
    role = only(bundle, "PractitionerRole")
    practitioner = only(bundle, "Practitioner")
    assert role["meta"]["profile"] == [prof.BE_PRACTITIONER_ROLE]
    assert role["practitioner"]["reference"] == full_url(practitioner["id"])
    assert role["code"][0]["coding"][0] == {
        "system": prof.CD_HCPARTY_SYSTEM,
        "code": "persphysician",
        "version": "1.0",
    }
    assert "organization" not in role


def test_links_the_role_to_the_organisation_of_the_same_author(
    now: datetime, ids: IdFactory
) -> None:
    bundle = translate_kmehr(kmehr_doc(extra_transactions=WITH_ORGANIZATION), now=now, new_id=ids)
    organization = only(bundle, "Organization")
    roles = resources(bundle, "PractitionerRole")
    # the same NIHII appears once as a Practitioner, with one role alone and one at the hospital
    assert len(resources(bundle, "Practitioner")) == 1
    assert [r.get("organization", {}).get("reference") for r in roles] == [
        None,
        full_url(organization["id"]),
    ]


def test_repeated_authors_add_no_role(now: datetime, ids: IdFactory) -> None:
    twice = WITH_ORGANIZATION + WITH_ORGANIZATION.replace(">2</id>", ">3</id>")
    bundle = translate_kmehr(kmehr_doc(extra_transactions=twice), now=now, new_id=ids)
    assert len(resources(bundle, "PractitionerRole")) == 2
    assert len(resources(bundle, "Organization")) == 1


def _dose_item(unit: str) -> str:
    return f"""<item><id S="ID-KMEHR" SV="1.0">1</id><cd S="CD-ITEM" SV="1.0">medication</cd>
  <content><medicinalproduct><intendedcd S="CD-DRUG-CNK" SV="1.0">0895540</intendedcd>
  <intendedname>MEDROL</intendedname></medicinalproduct></content>
  <beginmoment><date>2026-01-01</date></beginmoment>
  <posology><takes><low>2</low></takes>
  <unit><cd S="CD-ADMINISTRATIONUNIT" SV="1.0">{unit}</cd></unit></posology></item>"""


def _dose(unit: str, now: datetime, ids: IdFactory) -> Json:
    bundle = translate_kmehr(kmehr_doc(_dose_item(unit)), now=now, new_id=ids)
    dose: Json = only(bundle, "MedicationStatement")["dosage"][0]["doseAndRate"][0]
    return dose["doseQuantity"]


def test_maps_administration_units_to_snomed_keeping_the_kmehr_code(
    now: datetime, ids: IdFactory
) -> None:
    dose = _dose("00005", now, ids)
    assert (dose["value"], dose["system"], dose["code"]) == (2, prof.SNOMED_SYSTEM, "336624003")
    assert dose["extension"] == [
        {
            "url": PQ_TRANSLATION,
            "valueQuantity": {
                "value": 2,
                "unit": "00005",
                "system": kmehr_table_system("CD-ADMINISTRATIONUNIT"),
                "code": "00005",
            },
        }
    ]


def test_keeps_units_without_a_published_mapping_as_kmehr(now: datetime, ids: IdFactory) -> None:
    dose = _dose("ampoule", now, ids)
    assert (dose["system"], dose["code"]) == (
        kmehr_table_system("CD-ADMINISTRATIONUNIT"),
        "ampoule",
    )
    assert "extension" not in dose


def _coded_doses(bundle: Json) -> list[tuple[object, str, str]]:
    out = []
    for entry in bundle["entry"]:
        resource = entry.get("resource", {})
        if resource.get("resourceType") != "MedicationStatement":
            continue
        for dosage in resource.get("dosage", []):
            for d in dosage.get("doseAndRate", []):
                q = d.get("doseQuantity", {})
                if q.get("system") in (prof.UCUM_SYSTEM, prof.SNOMED_SYSTEM):
                    out.append((q["value"], q["system"], q["code"].lower()))
    return out


def test_units_equal_the_hl7_be_outputs_of_the_administration_unit_test(
    corpus: Path, now: datetime, ids: IdFactory
) -> None:
    base = corpus / "smals-jy-KMEHR-tests" / "output"
    kmehr = (base / "ms" / "TS-03-CD-ADMINISTRATIONUNIT.xml").read_bytes()
    expected = json.loads((base / "fhir-ms" / "TS-03-CD-ADMINISTRATIONUNIT.json").read_bytes())
    mine = Counter(_coded_doses(translate_kmehr(kmehr, now=now, new_id=ids)))
    theirs = Counter(_coded_doses(expected))
    assert sum(theirs.values()) > 80
    # every unit HL7-BE codes, the hub codes the same way (UCUM case-insensitively: ml/h)
    assert theirs - mine == Counter()
    units = set(re.findall(rb'S="CD-ADMINISTRATIONUNIT"[^>]*>\s*([^<\s]+)', kmehr))
    assert len(units) > 50
