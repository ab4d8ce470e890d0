"""The access matrix: every provider type x every resource type of ``$summary``, against a table
written here from the policy (a psychologist is not a physician; default deny), not read from
the data file; and the tables' validation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from ehealth_hub.core.errors import ConfigurationError
from ehealth_hub.fhir.builders import uuid5_ids
from ehealth_hub.services.access_matrix import AccessMatrix
from ehealth_hub.services.summary import SourceResult, assemble

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
SSIN = "85031212362"
PROBLEM_CATEGORY = (
    "https://www.ehealth.fgov.be/standards/fhir/core-clinical/CodeSystem/be-cs-problem-category"
)

# section title -> (resource of that section, its id)
RESOURCES: dict[str, dict[str, Any]] = {
    "Allergies and intolerances": {"resourceType": "AllergyIntolerance", "id": "a1"},
    "Problems": {"resourceType": "Condition", "id": "p1"},
    "Risks": {
        "resourceType": "Condition",
        "id": "r1",
        "category": [{"coding": [{"system": PROBLEM_CATEGORY, "code": "risk"}]}],
    },
    "Medications": {"resourceType": "MedicationStatement", "id": "m1"},
    "Immunizations": {"resourceType": "Immunization", "id": "i1"},
    "Patient wills": {"resourceType": "Consent", "id": "w1"},
    "Contact persons": {"resourceType": "RelatedPerson", "id": "c1"},
    "Other items": {"resourceType": "Observation", "id": "o1"},
}
ALL = frozenset(RESOURCES)
SEES: dict[str, frozenset[str]] = {
    "doctor": ALL,
    "clinical_psychologist": frozenset({"Patient wills", "Contact persons"}),
    "nurse": frozenset(
        {
            # RSW: "medication, intolerances, allergies, risk factors" (lespecialiste.be)
            "Allergies and intolerances",
            "Risks",
            "Medications",
            "Immunizations",
            "Patient wills",
            "Contact persons",
        }
    ),
    "physiotherapist": frozenset({"Allergies and intolerances", "Contact persons"}),
    "pharmacist": frozenset(),  # a quality the tables do not know: default deny
    "": frozenset(),
}


def _summary() -> dict[str, Any]:
    entries = [
        {
            "fullUrl": f"urn:uuid:{r['id']}",
            "resource": {**r, "subject": {"reference": "urn:uuid:pt"}},
        }
        for r in RESOURCES.values()
    ]
    patient = {"resourceType": "Patient", "id": "pt"}
    bundle = {"entry": [{"fullUrl": "urn:uuid:pt", "resource": patient}, *entries]}
    result = SourceResult("rsw", "Réseau Santé Wallon", (bundle,), ("tx-1",))
    return assemble(
        SSIN, [result], decision_id="d1", author={"display": "hub"}, now=NOW, new_id=uuid5_ids("t")
    )


@pytest.mark.parametrize("quality", sorted(SEES))
@pytest.mark.parametrize("title", sorted(RESOURCES))
def test_each_provider_type_sees_exactly_the_sections_the_matrix_allows(
    quality: str, title: str
) -> None:
    bundle = AccessMatrix.load().restrict(_summary(), quality, NOW.date())
    resources = [e["resource"] for e in bundle["entry"]]
    ids = {r.get("id") for r in resources}
    titles = {s["title"] for s in resources[0]["section"]}
    outcome = next((r for r in resources if r["resourceType"] == "OperationOutcome"), None)
    told = {i["diagnostics"].split(":")[0] for i in (outcome or {}).get("issue", [])}
    targets = {
        t["reference"] for r in resources if r["resourceType"] == "Provenance" for t in r["target"]
    }
    visible = title in SEES[quality]
    rid = RESOURCES[title]["id"]
    assert (rid in ids) is visible
    assert (title in titles) is visible
    assert (title in told) is not visible
    assert (f"urn:uuid:{rid}" in targets) is visible


def test_a_doctors_summary_is_left_as_assembled() -> None:
    summary = _summary()
    assert AccessMatrix.load().restrict(summary, "doctor", NOW.date()) == summary


def _write(path: Path, text: str) -> Path:
    path.write_text(text, "utf-8")
    return path


def test_a_matrix_row_without_a_source_or_with_an_unknown_section_stops_the_hub(
    tmp_path: Path,
) -> None:
    types = _write(
        tmp_path / "t.csv",
        "quality,provider_type,cd_hcparty,label,valid_from,valid_to,source\n"
        "doctor,physician,persphysician,p,2020-01-01,,https://example.org/x\n",
    )
    header = "provider_type,section,access,valid_from,valid_to,basis,source\n"
    for row, rule in (
        ("physician,problems,allow,2020-01-01,,b,\n", "source"),
        ("physician,labs,allow,2020-01-01,,b,https://example.org/x\n", "section"),
        ("dentist,problems,allow,2020-01-01,,b,https://example.org/x\n", "provider-type"),
        ("physician,problems,maybe,2020-01-01,,b,https://example.org/x\n", "access"),
        ("physician,problems,allow,2020-01-01,2019-01-01,b,https://example.org/x\n", "period"),
    ):
        matrix = _write(tmp_path / "m.csv", header + row)
        with pytest.raises(ConfigurationError) as refused:
            AccessMatrix.load(types, matrix)
        assert refused.value.code == rule


def test_a_row_applies_only_within_its_validity() -> None:
    matrix = AccessMatrix.load()
    assert matrix.allowed("doctor", date(2016, 8, 31)) == frozenset()
    assert "problems" in matrix.allowed("doctor", date(2016, 9, 1))
