"""The sandbox KMEHR generator writes XSD-valid KMEHR 1.38 that the reader maps back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime

import pytest
from lxml import etree

from ehealth_hub.fhir.builders import IdFactory
from ehealth_hub.fhir.bundle import validate_bundle
from ehealth_hub.fixtures import kmehr_samples as ks
from ehealth_hub.fixtures import sandbox
from ehealth_hub.mappings.kmehr_to_fhir import translate_kmehr
from tests.mappings._support import assert_valid, only, resources

Generator = Callable[..., bytes]


@pytest.mark.corpus
@pytest.mark.parametrize("generate", [ks.sumehr, ks.medication_scheme, ks.vaccinations])
@pytest.mark.parametrize(("patient_key", "author_key"), [("an", "jan"), ("emma", "koen")])
def test_generates_valid_kmehr_that_maps_to_valid_fhir(
    generate: Generator,
    patient_key: str,
    author_key: str,
    now: datetime,
    ids: IdFactory,
    kmehr_schema: etree.XMLSchema,
) -> None:
    patient = ks.person_from_sandbox(sandbox.patient(patient_key))
    author = ks.party_from_sandbox(sandbox.practitioner(author_key))
    kmehr = generate(patient, author, now=now)
    assert_valid(kmehr_schema, kmehr)
    bundle = translate_kmehr(kmehr, now=now, new_id=ids)
    validate_bundle(bundle)
    assert only(bundle, "Patient")["identifier"][0]["value"] == patient.ssin


def test_sumehr_sample_holds_every_section(now: datetime, ids: IdFactory) -> None:
    patient = ks.person_from_sandbox(sandbox.patient("an"))
    author = ks.party_from_sandbox(sandbox.practitioner("jan"))
    bundle = translate_kmehr(ks.sumehr(patient, author, now=now), now=now, new_id=ids)
    counts = Counter(e["resource"]["resourceType"] for e in bundle["entry"])
    assert counts == Counter(
        Composition=1,
        Patient=1,
        Practitioner=1,
        PractitionerRole=1,
        Condition=4,
        AllergyIntolerance=1,
        MedicationStatement=3,
        Immunization=2,
        Consent=1,
    )
    cnks = [
        s["medicationCodeableConcept"]["coding"][0]["code"]
        for s in resources(bundle, "MedicationStatement")
    ]
    assert cnks == ["0482554", "3303948", "3153665"]


def test_scheme_sample_writes_the_requested_lines(now: datetime, ids: IdFactory) -> None:
    patient = ks.person_from_sandbox(sandbox.patient("luc"))
    author = ks.party_from_sandbox(sandbox.practitioner("marie"))
    line = ks.MedicationLine("0012345", "Test 5 mg", now.date(), ("evening",), dose="2")
    kmehr = ks.medication_scheme(patient, author, now=now, lines=[line], version=7)
    statement = only(translate_kmehr(kmehr, now=now, new_id=ids), "MedicationStatement")
    assert statement["medicationCodeableConcept"]["coding"][0]["code"] == "0012345"
    assert statement["dosage"][0]["timing"]["repeat"]["when"] == ["EVE"]
    assert statement["dosage"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 2


def test_generates_the_same_bytes_for_the_same_description(now: datetime) -> None:
    patient = ks.person_from_sandbox(sandbox.patient("an"))
    author = ks.party_from_sandbox(sandbox.practitioner("jan"))
    assert ks.sumehr(patient, author, now=now) == ks.sumehr(patient, author, now=now)
