"""Corpus tests over ../shared/kmehr-corpus (skipped when absent).

Every KMEHR file maps to a Bundle that loads with fhir.resources R4B, or fails with a MappingError
for one of the listed reasons; the medication schemes equal the HL7-BE FHIR outputs paired with
them on product codes and dosage; the TTC Sumehr inputs scale exactly with their size.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from ehealth_hub.core.errors import MappingError
from ehealth_hub.fhir.builders import IdFactory, Json
from ehealth_hub.fhir.bundle import validate_bundle
from ehealth_hub.mappings.kmehr_to_fhir import translate_kmehr
from tests.mappings._support import resources

pytestmark = pytest.mark.corpus

REFUSED = {
    "freehealth-connector/recipe/": "kmehr.transaction-supported",  # Recip-e orders, not records
    "smals-jy-KMEHR-tests/output/pcdh/": "kmehr.message-present",  # APB SMOA, not KMEHR
    "smals-jy-KMEHR-tests/TEMPLATES/PCDH_getData.xml": "kmehr.message-present",  # idem
}
"""Files that are not KMEHR record messages, and the rule that refuses them."""
NOT_KMEHR = ("xslt-posology/complex-regimen-i18n.xml",)  # i18n labels, not a message
TTC_SIZES = (1, 10, 100, 1000)


def _kmehr_files(corpus: Path) -> list[Path]:
    files = sorted([*corpus.rglob("*.xml"), *corpus.rglob("*.kmehr")])
    return [f for f in files if not str(f).endswith(NOT_KMEHR) and "1000" not in f.name]


def _refusal(relative: str) -> str | None:
    return next((rule for prefix, rule in REFUSED.items() if relative.startswith(prefix)), None)


def test_every_kmehr_file_maps_or_is_refused_for_a_listed_reason(
    corpus: Path, now: datetime, ids: IdFactory
) -> None:
    mapped = 0
    for path in _kmehr_files(corpus):
        relative = str(path.relative_to(corpus))
        expected_rule = _refusal(relative)
        if expected_rule:
            with pytest.raises(MappingError) as caught:
                translate_kmehr(path.read_bytes(), now=now, new_id=ids)
            assert caught.value.rule == expected_rule, relative
            continue
        bundle = translate_kmehr(path.read_bytes(), now=now, new_id=ids)
        validate_bundle(bundle)
        assert resources(bundle, "Patient"), relative
        mapped += 1
    assert mapped >= 30


def _product_codes(statement: Json) -> list[str]:
    codings = statement.get("medicationCodeableConcept", {}).get("coding", [])
    return sorted(c["code"] for c in codings if "medication-type" not in c["system"])


def _ucum_doses(statement: Json) -> Counter[tuple[object, object]]:
    """(value, UCUM code) of every dose that carries a UCUM unit (``l`` and ``L`` are both UCUM
    for litre, so the code is compared case-insensitively)."""
    return Counter(
        (q.get("value"), str(q.get("code")).lower())
        for dosage in statement.get("dosage", [])
        for d in dosage.get("doseAndRate", [])
        if (q := d.get("doseQuantity") or {}).get("system") == "http://unitsofmeasure.org"
    )


def _dosage(statement: Json) -> list[tuple[object, ...]]:
    out = []
    for dosage in statement.get("dosage", []):
        repeat = dosage.get("timing", {}).get("repeat", {})
        doses = tuple(
            (d.get("doseQuantity") or {}).get("value") for d in dosage.get("doseAndRate", [])
        )
        out.append(
            (
                doses,
                tuple(sorted(repeat.get("when", []))),
                tuple(repeat.get("timeOfDay", [])),
                repeat.get("frequency"),
                repeat.get("period"),
                repeat.get("periodUnit"),
                tuple(sorted(repeat.get("dayOfWeek", []))),
            )
        )
    return sorted(out, key=repr)


KNOWN_DOSAGE_DIFFERENCES = {
    ("TS-02-posologies", 10),
    ("TS-04-CD-DAYPERIOD", 0),
    ("TS-11-Unexpected_Scenarios", 18),
}
"""The HL7-BE outputs put a 'during meal' EventTiming on KMEHR 'between meals' day periods
(betweenbreakfastandlunch...); the hub keeps the KMEHR day period as a coded
additionalInstruction instead, so these lines differ only in that ``when``."""


def test_medication_schemes_match_the_hl7_be_outputs_on_products_and_dosage(
    corpus: Path, now: datetime, ids: IdFactory
) -> None:
    folder = corpus / "smals-jy-KMEHR-tests" / "output"
    compared = 0
    for kmehr in sorted((folder / "ms").glob("*.xml")):
        expected_bundle = json.loads((folder / "fhir-ms" / f"{kmehr.stem}.json").read_text())
        expected = resources(expected_bundle, "MedicationStatement")
        mine = [
            s
            for s in resources(
                translate_kmehr(kmehr.read_bytes(), now=now, new_id=ids), "MedicationStatement"
            )
            if "partOf" not in s  # suspensions: the HL7-BE outputs leave them out
        ]
        assert len(mine) == len(expected), kmehr.stem
        for index, (got, want) in enumerate(zip(mine, expected, strict=True)):
            assert _product_codes(got) == _product_codes(want), (kmehr.stem, index)
            # Where HL7-BE gives a UCUM unit, the hub gives the same one (HL7-BE sometimes drops
            # the unit of a KMEHR 00001 dose; the hub keeps it).
            assert _ucum_doses(want) <= _ucum_doses(got), (kmehr.stem, index)
            if (kmehr.stem, index) in KNOWN_DOSAGE_DIFFERENCES:
                assert _dosage(got) != _dosage(want)
                assert any("additionalInstruction" in d for d in got["dosage"])
                continue
            assert _dosage(got) == _dosage(want), (kmehr.stem, index)
            compared += 1
    assert compared == 318


def _ttc(corpus: Path, size: int) -> bytes:
    name = "sumehr_example.kmehr" if size == 1 else f"sumehr_example{size}.kmehr"
    return (corpus / "ttc2023-kmehr2fhir" / "models" / name).read_bytes()


def test_ttc_resource_counts_scale_exactly_with_the_size(
    corpus: Path, now: datetime, ids: IdFactory
) -> None:
    counts = {
        size: Counter(
            e["resource"]["resourceType"]
            for e in translate_kmehr(_ttc(corpus, size), now=now, new_id=ids)["entry"]
        )
        for size in TTC_SIZES
    }
    # One author (NIHII 14296612004, persphysician) for every block: one Practitioner and one
    # PractitionerRole in all, whatever the size; the per-block counts do not change.
    fixed = {"Composition": 1, "Patient": 1, "Practitioner": 1, "PractitionerRole": 1}
    per_step = {
        "RelatedPerson": 1,
        "Condition": 9,
        "MedicationStatement": 4,
        "Immunization": 5,
        "AllergyIntolerance": 2,
    }
    for size, count in counts.items():
        assert count == Counter({**fixed, **{k: v * size for k, v in per_step.items()}}), size
        # 21 n + 4 like the TTC oracle, whose 4th fixed entry is the recipient organisation (left
        # out by the hub: transport data) where the hub's is the author's PractitionerRole.
        assert sum(count.values()) == 21 * size + 4


@pytest.mark.parametrize("size", [1, 10, 100])
def test_ttc_outputs_load_with_fhir_resources(
    size: int, corpus: Path, now: datetime, ids: IdFactory
) -> None:
    validate_bundle(translate_kmehr(_ttc(corpus, size), now=now, new_id=ids))


def test_medication_scheme_in_a_soap_put_transaction_set_maps(
    corpus: Path, now: datetime, ids: IdFactory
) -> None:
    data = (corpus / "freehealth-connector" / "medicationScheme.xml").read_bytes()
    bundle = translate_kmehr(data, now=now, new_id=ids)
    assert len(resources(bundle, "MedicationStatement")) == 2
