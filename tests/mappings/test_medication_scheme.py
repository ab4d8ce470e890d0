"""Medication scheme (Vitalink style) -> MedicationStatements with structured dosage."""

from __future__ import annotations

from datetime import datetime

import pytest

from ehealth_hub.core.errors import MappingError
from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import IdFactory, Json
from ehealth_hub.mappings import kmehr_medline
from ehealth_hub.mappings.kmehr_medication import WHEN, periodicity
from ehealth_hub.mappings.kmehr_to_fhir import translate_kmehr
from tests.mappings._support import kmehr_doc, resources

LINE = """<item><id S="ID-KMEHR" SV="1.0">1</id><cd S="CD-ITEM" SV="1.4">medication</cd>
  <content><substanceproduct><intendedcd S="CD-INNCLUSTER" SV="1.0">0030957</intendedcd>
  <intendedname>simvastatine 40 mg</intendedname></substanceproduct></content>
  <beginmoment><date>2020-06-10</date></beginmoment>
  <temporality><cd S="CD-TEMPORALITY" SV="1.0">chronic</cd></temporality>
  <frequency><periodicity><cd S="CD-PERIODICITY" SV="1.0">W</cd></periodicity></frequency>
  <regimen>
    <weekday><cd S="CD-WEEKDAY" SV="1.0">monday</cd></weekday>
    <daytime><dayperiod><cd S="CD-DAYPERIOD" SV="1.0">duringbreakfast</cd></dayperiod></daytime>
    <quantity><decimal>1.5</decimal>
      <unit><cd S="CD-ADMINISTRATIONUNIT" SV="1.2">00005</cd></unit></quantity>
    <daynumber>2</daynumber>
    <daytime><dayperiod>
      <cd S="CD-DAYPERIOD" SV="1.0">betweenbreakfastandlunch</cd></dayperiod></daytime>
    <quantity><decimal>1</decimal></quantity>
    <daytime><time>21:30:00</time></daytime>
    <quantity><decimal>2</decimal></quantity>
  </regimen>
  <route><cd S="CD-DRUG-ROUTE" SV="2.0">00064</cd></route>
  <instructionforpatient L="nl">Met water</instructionforpatient>
</item>
<item><id S="ID-KMEHR" SV="1.0">2</id><cd S="CD-ITEM" SV="1.4">healthcareelement</cd>
  <content><cd S="CD-ITEM-MS" SV="1.0">medicationuse</cd></content>
  <content><text L="nl">Cholesterol</text></content></item>
<item><id S="ID-KMEHR" SV="1.0">3</id><cd S="CD-ITEM" SV="1.4">healthcareelement</cd>
  <content><cd S="CD-ITEM-MS" SV="1.0">endcondition</cd></content>
  <content><text L="nl">Na controle</text></content></item>"""

SUSPENSION = """<transaction><id S="ID-KMEHR" SV="1.0">2</id>
  <cd S="CD-TRANSACTION" SV="1.4">treatmentsuspension</cd>
  <date>2026-07-02</date><time>08:00:00</time>
  <author><hcparty><id S="ID-HCPARTY" SV="1.0">11530231003</id>
  <cd S="CD-HCPARTY" SV="1.0">persphysician</cd><firstname>Sarah</firstname>
  <familyname>Vermeulen</familyname></hcparty></author>
  <iscomplete>true</iscomplete><isvalidated>true</isvalidated>
  <item><id S="ID-KMEHR" SV="1.0">1</id><cd S="CD-ITEM" SV="1.14">transactionreason</cd>
    <content><text L="nl">Operatie</text></content></item>
  <item><id S="ID-KMEHR" SV="1.0">2</id><cd S="CD-ITEM" SV="1.4">medication</cd>
    <content><compoundprescription L="nl">simvastatine</compoundprescription></content>
    <beginmoment><date>2026-07-04</date></beginmoment><endmoment><date>2026-07-10</date></endmoment>
    <lifecycle><cd SV="1.3" S="CD-LIFECYCLE">suspended</cd></lifecycle>
    <lnk TYPE="isplannedfor" URL="//transaction[id[@S='ID-KMEHR']='1']"/></item>
</transaction>"""


@pytest.fixture
def scheme(now: datetime, ids: IdFactory) -> Json:
    doc = kmehr_doc(LINE, transaction="medicationschemeelement", extra_transactions=SUSPENSION)
    return translate_kmehr(doc, now=now, new_id=ids)


@pytest.fixture
def line(scheme: Json) -> Json:
    return resources(scheme, "MedicationStatement")[0]


def test_makes_a_collection_of_one_statement_per_line(scheme: Json) -> None:
    # The suspension is part of its line (statusReason), as HL7-BE models it.
    assert scheme["type"] == "collection"
    assert len(resources(scheme, "MedicationStatement")) == 1
    assert resources(scheme, "Condition") == []


def test_keeps_inn_cluster_codes_as_strings(line: Json) -> None:
    coding = line["medicationCodeableConcept"]["coding"][0]
    assert coding["code"] == "0030957"
    assert coding["system"].endswith("kmehr-cd-inncluster")


def test_maps_one_dosage_per_regimen_quantity(line: Json) -> None:
    monday, day_two, evening = line["dosage"]
    assert monday["timing"]["repeat"] == {
        "frequency": 1,
        "period": 1,
        "periodUnit": "wk",
        "dayOfWeek": ["mon"],
        "when": ["CM"],
    }
    assert monday["doseAndRate"][0]["doseQuantity"]["value"] == 1.5
    dose = monday["doseAndRate"][0]["doseQuantity"]
    # CD-ADMINISTRATIONUNIT 00005 -> SNOMED CT 336624003 as HL7-BE maps it; KMEHR kept alongside
    assert (dose["system"], dose["code"]) == (prof.SNOMED_SYSTEM, "336624003")
    translation = dose["extension"][0]["valueQuantity"]
    assert (translation["code"], translation["value"]) == ("00005", 1.5)
    assert day_two["additionalInstruction"][0] == {"text": "Day 2 of treatment cycle"}
    assert evening["timing"]["repeat"]["timeOfDay"] == ["21:30:00"]


def test_keeps_day_periods_without_event_timing_as_coded_instructions(line: Json) -> None:
    day_two = line["dosage"][1]
    assert "when" not in day_two["timing"]["repeat"]
    assert day_two["additionalInstruction"][1]["coding"][0]["code"] == "betweenbreakfastandlunch"


def test_puts_route_and_patient_instruction_on_every_dosage(line: Json) -> None:
    assert all(d["route"]["coding"][0]["code"] == "00064" for d in line["dosage"])
    assert all(d["patientInstruction"] == "Met water" for d in line["dosage"])


def test_folds_scheme_healthcare_elements_into_the_line(line: Json) -> None:
    assert line["reasonCode"] == [{"text": "Cholesterol"}]
    assert line["note"][-1]["text"] == "endcondition: Na controle"
    assert line["category"]["coding"][0]["code"] == "chronic"


def test_records_a_suspension_on_the_suspended_line(line: Json) -> None:
    assert line["status"] == "unknown"  # a temporary suspension does not stop the line
    assert line["statusReason"] == [
        {
            "extension": [
                {
                    "url": kmehr_medline.SUSPENSION,
                    "valuePeriod": {"start": "2026-07-04", "end": "2026-07-10"},
                },
                {"url": kmehr_medline.SUSPENSION_REASON, "valueString": "Operatie"},
            ],
            "text": "Temporary suspension from 2026-07-04 to 2026-07-10",
        }
    ]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("D", (1, "d")),
        ("DT", (2, "d")),
        ("O1", (2, "d")),
        ("W", (1, "wk")),
        ("WT", (2, "wk")),
        ("M", (1, "mo")),
        ("MD", (3, "mo")),
        ("UW", (12, "h")),
        ("UH", (0.5, "h")),
        ("JH2", (0.5, "a")),
        ("J", (1, "a")),
        ("JV", (4, "a")),
    ],
)
def test_reads_cd_periodicity(code: str, expected: tuple[float, str]) -> None:
    assert periodicity(code) == expected


def test_refuses_an_unknown_periodicity(now: datetime, ids: IdFactory) -> None:
    doc = kmehr_doc(LINE.replace(">W</cd>", ">XQ</cd>"), transaction="medicationschemeelement")
    with pytest.raises(MappingError) as caught:
        translate_kmehr(doc, now=now, new_id=ids)
    assert caught.value.rule == "posology.periodicity"


def test_maps_every_meal_related_day_period_to_event_timing() -> None:
    assert {"afterbreakfast", "beforedinner", "duringlunch", "thehourofsleep"} <= WHEN.keys()
