"""Sumehr -> FHIR document Bundle: one test per mapping rule."""

from __future__ import annotations

from datetime import datetime

import pytest

from ehealth_hub.core.errors import MappingError
from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import IdFactory, Json, full_url, kmehr_table_system
from ehealth_hub.fhir.bundle import validate_bundle
from ehealth_hub.mappings.kmehr_to_fhir import translate_kmehr
from tests.mappings._support import kmehr_doc, only, resources

ITEMS = """
<item><id S="ID-KMEHR" SV="1.0">1</id><cd S="CD-ITEM" SV="1.11">gmdmanager</cd>
  <content><hcparty><id S="ID-HCPARTY" SV="1.0">23456776003</id>
  <cd S="CD-HCPARTY" SV="1.0">persphysician</cd><firstname>Jan</firstname>
  <familyname>Janssens</familyname></hcparty></content></item>
<item><id S="ID-KMEHR" SV="1.0">2</id><cd S="CD-ITEM" SV="1.11">contactperson</cd>
  <cd S="CD-CONTACT-PERSON" SV="1.0">mother</cd>
  <content><person><id S="INSS" SV="1.0">62030022135</id><firstname>Mia</firstname>
  <familyname>Peeters</familyname><sex><cd S="CD-SEX" SV="1.1">female</cd></sex>
  <telecom><cd S="CD-ADDRESS" SV="1.1">home</cd><cd S="CD-TELECOM" SV="1.0">mobile</cd>
  <telecomnumber> 0470 12 34 56
  </telecomnumber></telecom></person></content></item>
<item><id S="ID-KMEHR" SV="1.0">3</id><cd S="CD-ITEM" SV="1.11">problem</cd>
  <content><cd S="CD-CLINICAL" SV="1.0">10015202</cd>
  <cd S="ICPC" SV="2" DN="Lymfoom" L="nl">B72</cd>
  <cd S="ICD" SV="10">C82.9</cd></content><content><text L="nl">Brill-Symmers</text></content>
  <beginmoment><date>1980-05-12</date></beginmoment><endmoment><date>1985-12-31</date></endmoment>
  <lifecycle><cd S="CD-LIFECYCLE" SV="1.0">inactive</cd></lifecycle></item>
<item><id S="ID-KMEHR" SV="1.0">4</id><cd S="CD-ITEM" SV="1.11">healthissue</cd>
  <content><cd S="ICPC" SV="2">K86</cd></content>
  <beginmoment><date>2012-04-02</date></beginmoment></item>
<item><id S="ID-KMEHR" SV="1.0">5</id><cd S="CD-ITEM" SV="1.11">risk</cd>
  <content><cd S="ICPC" SV="2">P15</cd></content>
  <content><text L="nl">Alcoholmisbruik</text></content></item>
<item><id S="ID-KMEHR" SV="1.0">6</id><cd S="CD-ITEM" SV="1.11">socialrisk</cd>
  <content><cd S="ICPC" SV="2">Z04</cd></content></item>
<item><id S="ID-KMEHR" SV="1.0">7</id><cd S="CD-ITEM" SV="1.11">allergy</cd>
  <content><cd S="ICPC" SV="2">A92</cd></content>
  <content><text L="fr">Allergie pénicilline</text></content>
  <beginmoment><date>2018-09-10</date></beginmoment><recorddatetime>2018-10-01</recorddatetime></item>
<item><id S="ID-KMEHR" SV="1.0">8</id><cd S="CD-ITEM" SV="1.11">adr</cd>
  <content><cd S="ICD" SV="10">T88.7</cd></content></item>
<item><id S="ID-KMEHR" SV="1.0">9</id><cd S="CD-ITEM" SV="1.11">medication</cd>
  <content><medicinalproduct><intendedcd S="CD-DRUG-CNK" SV="1999">0895540</intendedcd>
  <intendedname>MEDROL COMP
     20X32MG</intendedname></medicinalproduct></content>
  <beginmoment><date>1992-01-27</date></beginmoment>
  <dayperiod><cd SV="1.0" S="CD-DAYPERIOD">afterbreakfast</cd></dayperiod>
  <posology><text L="en">0.5 tab</text><unit><cd SV="1.0" S="CD-ADMINISTRATION-UNIT">tbl</cd></unit>
  <takes><high>0.5</high></takes></posology></item>
<item><id S="ID-KMEHR" SV="1.0">10</id><cd S="CD-ITEM" SV="1.11">vaccine</cd>
  <content><medicinalproduct><intendedcd S="CD-DRUG-CNK" SV="1999">1149939</intendedcd>
  <intendedname>HAVRIX 1440</intendedname></medicinalproduct></content>
  <content><cd SV="1.0" S="CD-VACCINEINDICATION">hepatitisa</cd>
  <cd SV="1.0" S="CD-VACCINEINDICATION">hepatitisb</cd></content>
  <text L="en">First injection</text><beginmoment><date>2016-03-28</date></beginmoment>
  <batch>AB12</batch></item>
<item><id S="ID-KMEHR" SV="1.0">11</id><cd S="CD-ITEM" SV="1.11">patientwill</cd>
  <content><cd S="CD-PATIENTWILL" SV="1.0">ntbr</cd></content>
  <beginmoment><date>2020-10-06</date></beginmoment></item>
<item><id S="ID-KMEHR" SV="1.0">12</id><cd S="CD-ITEM" SV="1.11">parameter</cd>
  <content><text L="nl">Rookt niet meer</text></content></item>
"""


@pytest.fixture
def bundle(now: datetime, ids: IdFactory) -> Json:
    return translate_kmehr(kmehr_doc(ITEMS), now=now, new_id=ids)


def _by_category(bundle: Json, code: str) -> list[Json]:
    return [
        c
        for c in resources(bundle, "Condition")
        if any(cd["code"] == code for cat in c["category"] for cd in cat["coding"])
    ]


def test_makes_a_document_bundle_with_the_composition_first(bundle: Json, now: datetime) -> None:
    assert bundle["type"] == "document"
    assert bundle["timestamp"] == now.isoformat()
    assert bundle["identifier"]["value"] == "11530231003.1"
    assert bundle["entry"][0]["resource"]["resourceType"] == "Composition"


def test_sections_reference_every_clinical_entry(bundle: Json) -> None:
    composition = bundle["entry"][0]["resource"]
    referenced = {e["reference"] for s in composition["section"] for e in s["entry"]}
    clinical = {
        e["fullUrl"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"]
        not in {"Composition", "Patient", "Practitioner", "PractitionerRole"}
    }
    assert referenced == clinical
    titles = [s["title"] for s in composition["section"]]
    assert titles[:3] == ["Allergies and intolerances", "Problems", "Risks"]


def test_sets_meta_profile_on_every_resource(bundle: Json) -> None:
    assert all(e["resource"]["meta"]["profile"] for e in bundle["entry"])


def test_every_resource_loads_with_fhir_resources(bundle: Json) -> None:
    validate_bundle(bundle)


def test_keeps_patient_ssin_language_and_birth_date(bundle: Json) -> None:
    patient = only(bundle, "Patient")
    assert patient["meta"]["profile"] == [prof.BE_PATIENT]
    assert patient["identifier"][0] == {"system": prof.SSIN_SYSTEM, "value": "85031212362"}
    assert patient["communication"][0]["language"]["coding"][0]["code"] == "nl"
    assert patient["gender"] == "female"


def test_makes_the_gmd_manager_the_general_practitioner(bundle: Json) -> None:
    gp_ref = only(bundle, "Patient")["generalPractitioner"][0]["reference"]
    gp = next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == gp_ref)
    assert gp["identifier"] == [{"system": prof.NIHDI_SYSTEM, "value": "23456776003"}]


def test_lists_each_nihii_once(bundle: Json) -> None:
    nihiis = [p["identifier"][0]["value"] for p in resources(bundle, "Practitioner")]
    assert sorted(nihiis) == ["11530231003", "23456776003"]


def test_maps_contact_persons_to_related_persons_with_ssin_and_relationship(bundle: Json) -> None:
    person = only(bundle, "RelatedPerson")
    assert person["identifier"][0] == {"system": prof.SSIN_SYSTEM, "value": "62030022135"}
    assert person["relationship"][0]["coding"][0]["code"] == "mother"
    assert person["telecom"] == [{"system": "phone", "value": "0470 12 34 56", "use": "mobile"}]


def test_lists_contact_persons_on_the_patient_too(bundle: Json) -> None:
    contact = only(bundle, "Patient")["contact"][0]
    assert contact["relationship"][0]["coding"][0]["code"] == "mother"
    assert contact["name"] == {"family": "Peeters", "given": ["Mia"]}


def test_keeps_every_problem_coding(bundle: Json) -> None:
    lymphoma = _by_category(bundle, "problem")[0]
    systems = [(c["system"], c["code"]) for c in lymphoma["code"]["coding"]]
    assert systems == [
        (prof.KMEHR_TABLE_BASE + "cd-clinical", "10015202"),
        (prof.ICPC2_SYSTEM, "B72"),
        (prof.ICD10_SYSTEM, "C82.9"),
    ]
    assert lymphoma["code"]["coding"][1]["display"] == "Lymfoom"
    assert lymphoma["meta"]["profile"] == [prof.BE_PROBLEM]


def test_takes_clinical_status_from_the_lifecycle(bundle: Json) -> None:
    lymphoma, hypertension = _by_category(bundle, "problem")
    assert lymphoma["clinicalStatus"]["coding"][0]["code"] == "inactive"
    assert lymphoma["abatementDateTime"] == "1985-12-31"
    assert hypertension["clinicalStatus"]["coding"][0]["code"] == "active"


def test_maps_risks_and_social_risks_to_risk_conditions(bundle: Json) -> None:
    risks = _by_category(bundle, "risk")
    codings = [[(c["system"], c["code"]) for c in r["category"][0]["coding"]] for r in risks]
    be_risk = (prof.PROBLEM_CATEGORY_SYSTEM, "risk")
    problem_list = ("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item")
    # a social risk keeps its KMEHR item type: no official category says "social risk"
    assert codings == [
        [be_risk, problem_list],
        [be_risk, problem_list, (kmehr_table_system("CD-ITEM"), "socialrisk")],
    ]
    assert risks[0]["note"][0]["text"] == "Alcoholmisbruik"


def test_maps_allergies_and_adverse_reactions(bundle: Json) -> None:
    allergy, adr = resources(bundle, "AllergyIntolerance")
    types = [r["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] for r in (allergy, adr)]
    assert types == ["609328004", "782197009"]  # SNOMED allergy, intolerance to substance
    assert "type" not in allergy  # be-allergyintolerance forbids it (max 0)
    assert adr["category"] == ["medication"]
    assert allergy["recordedDate"] == "2018-10-01"
    assert allergy["meta"]["profile"] == [prof.BE_ALLERGY_INTOLERANCE]


def test_keeps_the_language_of_texts(bundle: Json) -> None:
    allergy = resources(bundle, "AllergyIntolerance")[0]
    note = allergy["note"][0]
    assert note["text"] == "Allergie pénicilline"
    assert note["_text"]["extension"][0]["valueCode"] == "fr"


def test_keeps_cnk_leading_zeros_and_posology(bundle: Json) -> None:
    statement = only(bundle, "MedicationStatement")
    coding = statement["medicationCodeableConcept"]["coding"][0]
    assert (coding["system"], coding["code"]) == (prof.CNK_SYSTEM, "0895540")
    assert statement["medicationCodeableConcept"]["text"] == "MEDROL COMP 20X32MG"
    dosage = statement["dosage"][0]
    assert dosage["timing"]["repeat"]["when"] == ["PCM"]
    assert dosage["doseAndRate"][0]["doseQuantity"] == {
        "value": 0.5,
        "unit": "tbl",
        "system": prof.UCUM_SYSTEM,
        "code": "{TBL}",
        "extension": [  # the KMEHR unit kept alongside
            {
                "url": "http://hl7.org/fhir/StructureDefinition/iso21090-PQ-translation",
                "valueQuantity": {
                    "value": 0.5,
                    "unit": "tbl",
                    "system": kmehr_table_system("CD-ADMINISTRATION-UNIT"),
                    "code": "tbl",
                },
            }
        ],
    }
    assert dosage["text"] == "0.5 tab"


def test_maps_vaccines_with_product_and_every_indication(bundle: Json) -> None:
    immunization = only(bundle, "Immunization")
    # be-vaccination binds vaccineCode (required) to SNOMED CT vaccine products; the CNK is the
    # administered product (be-ext-administeredProduct.coded)
    assert immunization["vaccineCode"]["coding"] == [
        {
            "system": prof.SNOMED_SYSTEM,
            "code": "871803007",
            "display": "Vaccine product containing only Hepatitis A and Hepatitis B virus "
            "antigens (medicinal product)",
        }
    ]
    # the SNOMED CT product says the indications: no KMEHR CD-VACCINEINDICATION beside it
    assert "reasonCode" not in immunization
    assert immunization["occurrenceDateTime"] == "2016-03-28"
    product = immunization["extension"][1]
    assert product["url"].endswith("/be-ext-administeredProduct")
    assert product["extension"][0]["valueCodeableConcept"]["coding"][0] == {
        "system": prof.CNK_SYSTEM,
        "code": "1149939",
    } | (
        {"display": d}
        if (d := product["extension"][0]["valueCodeableConcept"]["coding"][0].get("display"))
        else {}
    )
    assert product["extension"][1] == {"url": "lotNumber", "valueString": "AB12"}
    assert "lotNumber" not in immunization  # be-vaccination forbids it (max 0)
    assert immunization["meta"]["profile"] == [prof.BE_VACCINATION]


def test_maps_patient_wills_to_be_patientwill_consents(bundle: Json) -> None:
    will = only(bundle, "Consent")
    assert will["meta"]["profile"] == [prof.BE_PATIENT_WILL]
    assert will["category"][0]["coding"][0]["code"] == "resuscitation"
    assert will["provision"]["code"][0]["coding"][0]["code"] == "noresuscitation"
    assert will["provision"]["period"] == {"start": "2020-10-06"}
    # the BE code only: "ntbr" means what be-cs-patientwill-code "noresuscitation" means
    assert len(will["provision"]["code"][0]["coding"]) == 1


@pytest.mark.parametrize(
    ("table", "code", "be_code", "category", "system"),
    [
        ("CD-PATIENTWILL-RES", "dnr2", "dnr2", "resuscitation", prof.PATIENT_WILL_CODE_SYSTEM),
        ("CD-PATIENTWILL-HOSP", "hos2", "hos2", "hospitalisation", prof.PATIENT_WILL_CODE_SYSTEM),
        ("CD-PATIENTWILL-HOSP", "hos1", "hos1", "hospitalisation", None),
    ],
)
def test_a_patient_will_takes_the_be_code_where_one_means_the_same(
    now: datetime, table: str, code: str, be_code: str, category: str, system: str | None
) -> None:
    item = f"""
<item><id S="ID-KMEHR" SV="1.0">1</id><cd S="CD-ITEM" SV="1.11">patientwill</cd>
  <content><cd S="{table}" SV="1.0">{code}</cd></content></item>"""
    will = only(translate_kmehr(kmehr_doc(item), now=now), "Consent")
    assert will["category"][0]["coding"][0]["code"] == category
    assert will["provision"]["code"][0]["coding"] == [
        {"system": system or kmehr_table_system(table), "code": be_code}
        | ({} if system else {"version": "1.0"})
    ]


def test_keeps_other_item_types_as_observations(bundle: Json) -> None:
    observation = only(bundle, "Observation")
    assert observation["code"]["coding"][0]["code"] == "parameter"
    assert observation["valueString"] == "Rookt niet meer"


def test_gives_the_same_bundle_for_the_same_input(now: datetime, ids: IdFactory) -> None:
    first = translate_kmehr(kmehr_doc(ITEMS), now=now, new_id=ids)
    assert first == translate_kmehr(kmehr_doc(ITEMS), now=now, new_id=ids)


def test_default_ids_are_unique_and_referenced(now: datetime) -> None:
    bundle = translate_kmehr(kmehr_doc(ITEMS), now=now)
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(set(urls)) == len(urls)
    assert all(e["fullUrl"] == full_url(e["resource"]["id"]) for e in bundle["entry"])


@pytest.mark.parametrize(
    ("item", "rule"),
    [
        (
            '<cd S="CD-ITEM" SV="1">vaccine</cd><content><text L="nl">x</text></content>',
            "vaccine.occurrence",
        ),
        ('<cd S="CD-ITEM" SV="1">problem</cd>', "sumehr.problem-code"),
        (
            '<cd S="CD-ITEM" SV="1">medication</cd><content><text L="nl">x</text></content>',
            "medication.product",
        ),
        (
            '<cd S="CD-ITEM" SV="1">patientwill</cd><content><text L="nl">x</text></content>',
            "patientwill.code",
        ),
        ('<cd S="CD-ITEM" SV="1">contactperson</cd>', "sumehr.contactperson"),
    ],
)
def test_refuses_items_that_cannot_be_mapped_faithfully(
    item: str, rule: str, now: datetime, ids: IdFactory
) -> None:
    xml = f'<item><id S="ID-KMEHR" SV="1.0">1</id>{item}</item>'
    with pytest.raises(MappingError) as caught:
        translate_kmehr(kmehr_doc(xml), now=now, new_id=ids)
    assert caught.value.rule == rule
    assert "/item" in caught.value.field


def test_a_vaccine_no_bound_product_covers_keeps_its_indications(now: datetime) -> None:
    item = """
<item><id S="ID-KMEHR" SV="1.0">1</id><cd S="CD-ITEM" SV="1.11">vaccine</cd>
  <content><cd S="CD-VACCINEINDICATION" SV="1.0">rabies</cd>
    <cd S="CD-VACCINEINDICATION" SV="1.0">hepatitisa</cd></content>
  <content><medicinalproduct><intendedname>Test vaccine</intendedname></medicinalproduct></content>
  <beginmoment><date>2020-01-01</date></beginmoment></item>"""
    immunization = only(translate_kmehr(kmehr_doc(item), now=now), "Immunization")
    assert immunization["vaccineCode"]["coding"][0]["code"] == "787859002"
    assert [r["coding"][0]["code"] for r in immunization["reasonCode"]] == ["rabies", "hepatitisa"]
