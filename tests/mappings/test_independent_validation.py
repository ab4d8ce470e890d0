"""Every resource the hub emits, validated by validators the project did not write (FHIR.js and
@medplum/core from npm, see tests.mappings.independent_validator) against the HL7-BE profiles it
claims in ``meta.profile`` (the base R4 definition when it claims none): 0 errors. Warnings are
counted and printed (``pytest -s``), not failed.

The first tests prove the validators catch what they must on a deliberately broken resource.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest

from ehealth_hub.audit.events import to_fhir
from ehealth_hub.audit.log import AuditRecord
from ehealth_hub.consent.resource import with_meta
from ehealth_hub.core.mycarenet_types import InsurabilityFacts
from ehealth_hub.delivery.outbox import OutboxItem, Status, TaskInfo
from ehealth_hub.delivery.task import task_resource
from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import IdFactory, Json, uuid5_ids
from ehealth_hub.fixtures import kmehr_samples as ks
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import consultation_consent
from ehealth_hub.mappings.kmehr_medication import _MEDICATION_TYPE as MEDICATION_TYPE
from ehealth_hub.mappings.kmehr_medication import _TYPE_SYSTEM as MEDICATION_TYPE_SYSTEM
from ehealth_hub.mappings.kmehr_to_fhir import translate_kmehr
from ehealth_hub.mappings.mycarenet_fhir import EATTEST_CLAIMRESPONSE
from ehealth_hub.mappings.mycarenet_insurability import eligibility_response
from ehealth_hub.services.summary import SourceResult, assemble
from tests.fakes.records import sandbox_source
from tests.mappings.independent_validator import Outcome, unavailable, validate
from tests.mappings.test_corpus import _kmehr_files, _refusal
from tests.mycarenet.claim_responses import every_path

AN = sandbox.patient("an")

VALIDATOR_LIMITS = {
    "Incorrect number of values provided for slice 'medication-type'": (
        "@medplum/core 4.5.2 counts the BeExtMedicationType extension slice, which "
        "be-medicationline nests under the medicationCodeableConcept type slice of medication[x], "
        "at the medication[x] level, so it finds 0 even when the extension is there (see "
        "test_the_medication_type_limit_is_a_false_positive); FHIR.js and "
        "tests.mappings.profile_check check that extension"
    ),
}
"""Errors that are the validator's, not the resource's: message fragment -> why."""


@pytest.fixture(scope="module")
def packages(shared_dir: Path) -> Path:
    """The HL7-BE packages folder, used in place; skips when the validator cannot run."""
    root = shared_dir / "be-fhir-examples" / "packages"
    if reason := unavailable(root):
        pytest.skip(reason)
    return root


def _errors(outcome: Outcome, resources: list[Json]) -> list[str]:
    found = [
        (i, x) for i, x in outcome.of("error") if not any(k in x.message for k in VALIDATOR_LIMITS)
    ]
    return [f"{resources[i]['resourceType']}/{resources[i].get('id')}: {x}" for i, x in found]


def _report(title: str, outcome: Outcome, resources: list[Json]) -> None:
    warnings = Counter(
        f"{resources[i]['resourceType']} {x.location}: {x.message[:90]}"
        for i, x in outcome.of("warning")
    )
    print(
        f"\n{title}: {len(resources)} resources, {sum(warnings.values())} warnings, "
        f"{len(outcome.unchecked)} codes/invariants not checkable offline"
    )
    for line, count in warnings.most_common():
        print(f"  {count:5d} x {line}")


# -- the validators catch a broken resource ------------------------------------------------


def _example(shared: Path, name: str) -> Json:
    path = shared / "be-fhir-examples" / "examples" / "hl7.fhir.be.vaccination" / name
    return json.loads(path.read_bytes())


def test_the_official_be_vaccination_example_passes(packages: Path, shared_dir: Path) -> None:
    example = _example(shared_dir, "Immunization-othercode.json")
    assert _errors(validate([example], packages), [example]) == []


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (
            lambda r: r.update(vaccineCode={"coding": [{"system": "urn:x", "code": "zz"}]}),
            'vaccineCode: Code "zz" (urn:x) not found in value set',
        ),
        (lambda r: r.pop("recorded"), "Immunization.recorded: Missing required property"),
        (
            lambda r: r.update(extension=r["extension"][1:]),
            "Incorrect number of values provided for slice 'recorder'",
        ),
        (lambda r: r.update(lotNumber="L1"), "lotNumber"),
        (lambda r: r.update(status="done"), 'Immunization.status: Code "done"'),
    ],
    ids=["binding", "cardinality", "slice", "forbidden-element", "base-binding"],
)
def test_the_validators_find_a_broken_immunization(
    packages: Path, shared_dir: Path, breakage: object, expected: str
) -> None:
    broken = copy.deepcopy(_example(shared_dir, "Immunization-othercode.json"))
    breakage(broken)  # type: ignore[operator]
    errors = _errors(validate([broken], packages), [broken])
    assert any(expected in e for e in errors), errors


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda r: r.update(identifier=r["identifier"][1:]), "slice 'eattestid'"),
        (lambda r: r["requestor"].pop("reference"), "requestor.reference: Missing"),
        (lambda r: r["addItem"][0].pop("provider"), "addItem[0].provider: Missing"),
        (lambda r: r.update(use="preauthorization"), "ClaimResponse.use"),
        (lambda r: r.pop("subType"), "ClaimResponse.subType"),
    ],
    ids=["attestation-number", "requestor-reference", "item-provider", "use-pattern", "subtype"],
)
def test_the_validators_find_a_broken_eattestation_claim_response(
    packages: Path, now: datetime, breakage: object, expected: str
) -> None:
    broken = copy.deepcopy(every_path(now)["eattest-accepted-tariff"])
    assert broken["meta"]["profile"] == [EATTEST_CLAIMRESPONSE]
    breakage(broken)  # type: ignore[operator]
    errors = _errors(validate([broken], packages), [broken])
    assert any(expected in e for e in errors), errors


def test_the_medication_type_limit_is_a_false_positive(packages: Path) -> None:
    line = {
        "resourceType": "MedicationStatement",
        "meta": {"profile": [prof.BE_MEDICATION_LINE]},
        "status": "active",
        "medicationCodeableConcept": {
            "extension": [
                {
                    "url": MEDICATION_TYPE,
                    "valueCodeableConcept": {
                        "coding": [{"system": MEDICATION_TYPE_SYSTEM, "code": "medicinal-product"}]
                    },
                }
            ],
            "coding": [{"system": prof.CNK_SYSTEM, "code": "0895540"}],
        },
        "subject": {"reference": "Patient/p"},
    }
    messages = [x.message for _, x in validate([line], packages).of("error")]
    assert any(k in m for m in messages for k in VALIDATOR_LIMITS), messages


# -- what the hub emits --------------------------------------------------------------------


def _entries(bundle: Json) -> list[Json]:
    return [e["resource"] for e in bundle["entry"]]


def _translated_samples(now: datetime, ids: IdFactory) -> list[Json]:
    out = []
    for generate in (ks.sumehr, ks.medication_scheme, ks.vaccinations):
        for patient_key, author_key in (("an", "jan"), ("emma", "koen")):
            patient = ks.person_from_sandbox(sandbox.patient(patient_key))
            author = ks.party_from_sandbox(sandbox.practitioner(author_key))
            out += _entries(
                translate_kmehr(generate(patient, author, now=now), now=now, new_id=ids)
            )
    return out


def _summary(now: datetime) -> list[Json]:
    results = [
        SourceResult(
            name,
            name.upper(),
            tuple(
                translate_kmehr(data, now=now) for _, data in sandbox_source(name).messages[AN.ssin]
            ),
        )
        for name in ("rsw", "vitalink", "gp")
    ]
    results.append(SourceResult("abrumet", "ABRUMET", (), problems=("down",), failed=True))
    bundle = assemble(
        AN.ssin,
        results,
        decision_id="d1",
        author={"display": "hub"},
        now=now,
        new_id=uuid5_ids("v"),
    )
    return [bundle, *_entries(bundle)]


def _platform(now: datetime) -> list[Json]:
    consent = with_meta(
        consultation_consent(AN, sandbox.practitioner("sarah"), start=now), "consent-1", 1, now
    )
    item = OutboxItem(
        1,
        "t-1",
        "m-1",
        "note",
        "gp",
        "k",
        Status.COMPLETED,
        1,
        2,
        now,
        now,
        now,
        now,
        {},
        TaskInfo(focus="DocumentReference/d1", description="note"),
        result={"receipt": "r-1"},
    )
    record = AuditRecord(
        id="evt-1",
        recorded=now,
        action="decision",
        outcome="permit",
        patient_ssin=AN.ssin,
        actor_nihii="11530231003",
        client_id="consult-app",
    )
    facts = InsurabilityFacts(
        AN.ssin, date(2026, 11, 19), True, "134", "13400012345", "110", "110", True
    )
    eligibility = eligibility_response(
        facts, rid="e-1", coverage_id="c-1", requestor_nihii="11530231003", now=now
    )
    return [consent, task_resource(item), to_fhir(record), eligibility, *every_path(now).values()]


def test_every_resource_the_hub_emits_passes_the_independent_validators(
    packages: Path, now: datetime, ids: IdFactory
) -> None:
    resources = [*_translated_samples(now, ids), *_summary(now), *_platform(now)]
    kinds = {r["resourceType"] for r in resources}
    assert {
        "Composition",
        "Provenance",
        "OperationOutcome",
        "Consent",
        "Task",
        "AuditEvent",
        "CoverageEligibilityResponse",
        "ClaimResponse",
        "Immunization",
        "MedicationStatement",
    } <= kinds
    outcome = validate(resources, packages)
    _report("samples, $summary and platform resources", outcome, resources)
    assert _errors(outcome, resources) == []


def test_every_claim_response_path_passes_and_claims_the_be_profile_where_one_fits(
    packages: Path, now: datetime
) -> None:
    paths = every_path(now)
    profiles = {name: r["meta"]["profile"] for name, r in paths.items()}
    attested = {n for n, prof in profiles.items() if prof == [EATTEST_CLAIMRESPONSE]}
    assert attested == {"eattest-accepted-tariff", "eattest-accepted-answer"}, profiles
    resources = list(paths.values())
    outcome = validate(resources, packages)
    _report("ClaimResponses (eAttest and eFact, accepted and refused)", outcome, resources)
    assert _errors(outcome, resources) == []


@pytest.mark.corpus
def test_every_translated_corpus_resource_passes_the_independent_validators(
    packages: Path, corpus: Path, now: datetime, ids: IdFactory
) -> None:
    resources: list[Json] = []
    for path in _kmehr_files(corpus):
        if not _refusal(str(path.relative_to(corpus))):
            resources += _entries(translate_kmehr(path.read_bytes(), now=now, new_id=ids))
    assert len(resources) > 1000
    outcome = validate(resources, packages)
    _report("KMEHR corpus translations", outcome, resources)
    assert _errors(outcome, resources) == []
