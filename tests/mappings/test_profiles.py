"""Profile conformance: what the hub emits against the HL7-BE StructureDefinitions, read in place
from ../shared/be-fhir-examples/packages (skipped when absent), with tests.mappings.profile_check.

Violations that cannot be fixed in the mappings are listed in :data:`KNOWN`, with the reason; any
other violation fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ehealth_hub.consent.resource import with_meta
from ehealth_hub.core.mycarenet_types import (
    CareProvider,
    CareReceiver,
    InsurabilityFacts,
    TeleconsultationClaim,
)
from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import IdFactory, Json
from ehealth_hub.fixtures import kmehr_samples as ks
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import consultation_consent, consultation_note
from ehealth_hub.mappings import mycarenet_attest
from ehealth_hub.mappings.kmehr_to_fhir import translate_kmehr
from tests.mappings.conftest import GOLDEN
from tests.mappings.profile_check import Packages, Report, check, check_all, load_packages
from tests.mappings.test_corpus import _kmehr_files, _refusal
from tests.mappings.test_note_to_kmehr import make_note

KNOWN: frozenset[str] = frozenset()
"""None left: the vaccineCode binding gap closed when vaccineCode took the be-vs-vaccine-code
SNOMED CT product of the item's indications (the CNK moved to be-ext-administeredProduct)."""


def _unknown(report: Report) -> list[str]:
    """Violations not in :data:`KNOWN` (indices and resource ids stripped for the comparison)."""
    out = []
    for violation in report.violations:
        bare = re.sub(r"\[\d+\]", "", violation.split(" ", 1)[1])
        bare = bare.replace("Bundle.entry:claim.resource.", "Claim.")
        if not any(bare.startswith(k) for k in KNOWN):
            out.append(violation)
    return out


@pytest.fixture(scope="module")
def packages(shared_dir: Path) -> Packages:
    """The HL7-BE packages, loaded in place."""
    root = shared_dir / "be-fhir-examples" / "packages"
    if not root.is_dir():
        pytest.skip("be-fhir-examples/packages not present")
    return load_packages(root)


def _entries(bundle: Json) -> list[Json]:
    return [e["resource"] for e in bundle["entry"]]


@pytest.mark.corpus
def test_corpus_outputs_conform_to_their_profiles(
    corpus: Path, packages: Packages, now: datetime, ids: IdFactory
) -> None:
    checked = 0
    for path in _kmehr_files(corpus):
        if _refusal(str(path.relative_to(corpus))):
            continue
        resources = _entries(translate_kmehr(path.read_bytes(), now=now, new_id=ids))
        assert _unknown(check_all(resources, packages)) == [], path.name
        checked += len(resources)
    assert checked > 1000


@pytest.mark.parametrize("generate", [ks.sumehr, ks.medication_scheme, ks.vaccinations])
@pytest.mark.parametrize(("patient_key", "author_key"), [("an", "jan"), ("emma", "koen")])
def test_sandbox_sample_outputs_conform_to_their_profiles(
    generate: Callable[..., bytes],
    patient_key: str,
    author_key: str,
    packages: Packages,
    now: datetime,
    ids: IdFactory,
) -> None:
    patient = ks.person_from_sandbox(sandbox.patient(patient_key))
    author = ks.party_from_sandbox(sandbox.practitioner(author_key))
    bundle = translate_kmehr(generate(patient, author, now=now), now=now, new_id=ids)
    assert _unknown(check_all(_entries(bundle), packages)) == []


def test_practitioner_roles_conform_to_be_practitionerrole(
    packages: Packages, now: datetime, ids: IdFactory
) -> None:
    patient = ks.person_from_sandbox(sandbox.patient("an"))
    author = ks.party_from_sandbox(sandbox.practitioner("jan"))
    bundle = translate_kmehr(ks.sumehr(patient, author, now=now), now=now, new_id=ids)
    roles = [r for r in _entries(bundle) if r["resourceType"] == "PractitionerRole"]
    assert roles
    assert check_all(roles, packages).violations == []


def test_consultation_note_inputs_conform(packages: Packages, now: datetime) -> None:
    golden = json.loads((GOLDEN / "note_an.json").read_bytes())
    sandbox_note = consultation_note(
        sandbox.patient("an"), sandbox.practitioner("sarah"), "Controle.", now=now
    )
    documents = [
        *(e["resource"] for e in [*make_note()["entry"], *golden["entry"]]),
        sandbox_note,
        *sandbox_note["contained"],
    ]
    profiled = [d for d in documents if d.get("meta", {}).get("profile")]
    kinds = [d["resourceType"] for d in profiled]
    assert kinds.count("DocumentReference") == 3
    assert kinds.count("Practitioner") == 2
    assert check_all(profiled, packages).violations == []


def test_stored_consultation_consent_conforms_to_be_consent(
    packages: Packages, now: datetime
) -> None:
    consent = consultation_consent(sandbox.patient("an"), sandbox.practitioner("sarah"), start=now)
    stored = with_meta(consent, "consent-1", 1, now)
    assert stored["meta"]["profile"] == [prof.BE_CONSENT]
    assert check(stored, packages).violations == []


def test_eattest_message_conforms_apart_from_the_known_gap(
    packages: Packages, now: datetime
) -> None:
    an, sarah = sandbox.patient("an"), sandbox.practitioner("sarah")
    claim = TeleconsultationClaim(
        "c-1",
        CareReceiver(an.ssin, an.given, an.family, "female"),
        sarah.nihii,
        "101673",
        date(2026, 11, 19),
        Decimal("25.40"),
    )
    facts = InsurabilityFacts(
        an.ssin, date(2026, 11, 19), True, "134", "13400012345", "110", "110", True
    )
    provider = CareProvider(sarah.nihii, "doctor", sarah.given, sarah.family)
    message = mycarenet_attest.create_request(
        claim, provider, facts, message_id="6d1f0a5e-3c0e-4c55-9a62-0e8d7c1a2b3c", now=now
    )
    report = check_all([message, *_entries(message)], packages)
    assert _unknown(report) == []
    assert not any("be-eattestation-request" in u for u in report.unchecked)


# -- the checker itself, on the real profiles ------------------------------------------------


def _immunization(**fields: object) -> Json:
    return {
        "resourceType": "Immunization",
        "id": "i1",
        "meta": {"profile": [prof.BE_VACCINATION]},
        "extension": [
            {"url": prof.BE_EXT_RECORDER, "valueReference": {"reference": "Practitioner/p"}}
        ],
        "status": "completed",
        "vaccineCode": {"coding": [{"system": prof.SNOMED_SYSTEM, "code": "787859002"}]},
        "patient": {"reference": "Patient/p"},
        "occurrenceDateTime": "2026-01-01",
        "recorded": "2026-01-01",
        **fields,
    }


def test_checker_accepts_a_conformant_immunization(packages: Packages) -> None:
    assert check(_immunization(), packages).violations == []


def test_checker_finds_a_missing_required_extension(packages: Packages) -> None:
    report = check(_immunization(extension=[]), packages)
    assert any("Immunization.extension:recorder: min" in v for v in report.violations)


def test_checker_finds_an_element_the_profile_forbids(packages: Packages) -> None:
    report = check(_immunization(lotNumber="AB12"), packages)
    assert any("Immunization.lotNumber: max: 1 > 0" in v for v in report.violations)


def test_checker_finds_a_missing_required_element(packages: Packages) -> None:
    resource = _immunization()
    del resource["recorded"]
    report = check(resource, packages)
    assert any("Immunization.recorded: min" in v for v in report.violations)


def test_checker_finds_a_code_outside_a_required_value_set(packages: Packages) -> None:
    report = check(_immunization(vaccineCode={"coding": [{"code": "x"}]}), packages)
    assert any("Immunization.vaccineCode: binding" in v for v in report.violations)


# -- the checker's fixed/pattern/slice semantics, on a profile of our own ---------------------

_OWN = "urn:test:StructureDefinition/own-patient"
_OWN_PROFILE: Json = {
    "resourceType": "StructureDefinition",
    "url": _OWN,
    "type": "Patient",
    "snapshot": {
        "element": [
            {"id": "Patient", "path": "Patient", "min": 0, "max": "*"},
            {
                "id": "Patient.identifier",
                "path": "Patient.identifier",
                "min": 1,
                "max": "*",
                "slicing": {"discriminator": [{"type": "value", "path": "system"}]},
            },
            {"id": "Patient.identifier:ssin", "path": "Patient.identifier", "min": 1, "max": "1"},
            {
                "id": "Patient.identifier:ssin.system",
                "path": "Patient.identifier.system",
                "min": 1,
                "max": "1",
                "fixedUri": prof.SSIN_SYSTEM,
            },
            {
                "id": "Patient.identifier:ssin.value",
                "path": "Patient.identifier.value",
                "min": 1,
                "max": "1",
            },
            {"id": "Patient.gender", "path": "Patient.gender", "min": 0, "max": "1",
             "fixedCode": "female"},
            {
                "id": "Patient.maritalStatus",
                "path": "Patient.maritalStatus",
                "min": 0,
                "max": "1",
                "patternCodeableConcept": {"coding": [{"system": "urn:s", "code": "M"}]},
            },
        ]
    },
}  # fmt: skip
_OWN_PACKAGES = Packages({_OWN: _OWN_PROFILE}, {}, {})


def _own(**fields: object) -> Json:
    base: Json = {
        "resourceType": "Patient",
        "meta": {"profile": [_OWN]},
        "identifier": [{"system": prof.SSIN_SYSTEM, "value": "85031212362"}],
        "gender": "female",
        "maritalStatus": {"coding": [{"system": "urn:s", "code": "M", "display": "Married"}]},
    }
    return {**base, **fields}


def test_checker_accepts_values_that_contain_the_pattern() -> None:
    assert check(_own(), _OWN_PACKAGES).violations == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"gender": "male"}, "Patient.gender: fixed"),
        (
            {"maritalStatus": {"coding": [{"system": "urn:s", "code": "S"}]}},
            "maritalStatus: pattern",
        ),
        ({"identifier": [{"system": "urn:other", "value": "1"}]}, "identifier:ssin: min: 0 < 1"),
        ({"identifier": [{"system": prof.SSIN_SYSTEM}]}, "identifier:ssin.value: min: 0 < 1"),
        (
            {"identifier": [{"system": prof.SSIN_SYSTEM, "value": "1"}] * 2},
            "identifier:ssin: max: 2 > 1",
        ),
    ],
)
def test_checker_finds_fixed_pattern_and_slice_violations(fields: Json, expected: str) -> None:
    report = check(_own(**fields), _OWN_PACKAGES)
    assert any(expected in v for v in report.violations), report.violations
