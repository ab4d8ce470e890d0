"""summary.assemble: invariants of the document Bundle, whatever the sources gave (Hypothesis)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ehealth_hub.fhir.builders import uuid5_ids
from ehealth_hub.fixtures import kmehr_samples as ks
from ehealth_hub.fixtures import sandbox
from ehealth_hub.mappings.kmehr_to_fhir import translate_kmehr
from ehealth_hub.services.summary import SourceResult, assemble
from tests.fakes.records import sandbox_source
from tests.mappings._support import kmehr_doc

AN = sandbox.patient("an")
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@cache
def translated(source: str) -> tuple[dict[str, Any], ...]:
    held = sandbox_source(source).messages[AN.ssin]
    return tuple(translate_kmehr(data, now=NOW) for _, data in held)


source_results = st.builds(
    lambda name, failed, problems: SourceResult(
        name,
        name.upper(),
        () if failed else translated(name),
        problems=("down",) if failed else tuple(problems),
        failed=failed,
    ),
    st.sampled_from(["rsw", "vitalink", "gp"]),
    st.booleans(),
    st.lists(st.sampled_from(["sumehr x not mapped"]), max_size=1),
)


def _references(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return own + [r for v in value.values() for r in _references(v)]
    if isinstance(value, list):
        return [r for v in value for r in _references(v)]
    return []


@settings(max_examples=40, deadline=None)
@given(st.lists(source_results, max_size=3, unique_by=lambda r: r.source))
def test_the_summary_is_always_a_well_formed_document(results: list[SourceResult]) -> None:
    bundle = assemble(
        AN.ssin,
        results,
        decision_id="d1",
        author={"display": "hub"},
        now=NOW,
        new_id=uuid5_ids("t"),
    )
    resources = [e["resource"] for e in bundle["entry"]]
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert resources[0]["resourceType"] == "Composition"
    assert [r["resourceType"] for r in resources].count("Patient") == 1
    assert len(urls) == len(set(urls))
    internal = [r for r in _references(resources) if r.startswith("urn:uuid:")]
    assert set(internal) <= set(urls)
    provenances = [r for r in resources if r["resourceType"] == "Provenance"]
    targets = [t["reference"] for p in provenances for t in p["target"]]
    assert len(targets) == len(set(targets))  # every fact: exactly one Provenance
    agents = {a["who"]["identifier"]["value"] for p in provenances for a in p["agent"]}
    assert agents == {r.source for r in results if r.bundles}
    has_outcome = "OperationOutcome" in [r["resourceType"] for r in resources]
    assert has_outcome == any(r.problems for r in results)


# -- the same fact from several sources ------------------------------------------------------

CLINICAL = {"Condition", "AllergyIntolerance", "MedicationStatement", "Immunization", "Consent"}
LOINC = "http://loinc.org"


def _an_bundles(now: datetime) -> tuple[dict[str, Any], ...]:
    """An's Sumehr, medication scheme and vaccinations as her GP's system would give them at
    ``now`` (another message id and other resource ids than the hubs' copies)."""
    person = ks.person_from_sandbox(AN)
    author = ks.party_from_sandbox(sandbox.practitioner(AN.gp))
    docs = (ks.sumehr, ks.medication_scheme, ks.vaccinations)
    return tuple(translate_kmehr(d(person, author, now=now), now=NOW) for d in docs)


def _an_summary(gp: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    results = [
        SourceResult("rsw", "RSW", translated("rsw"), ("rsw-sumehr",)),
        SourceResult("vitalink", "Vitalink", translated("vitalink"), ("v-sumehr", "v-ms", "v-vac")),
        SourceResult("gp", "GP", gp, ("gp-sumehr", "gp-ms", "gp-vac")),
    ]
    bundle = assemble(
        AN.ssin, results, decision_id="d1", author={"display": "hub"}, now=NOW, new_id=uuid5_ids()
    )
    return [e["resource"] for e in bundle["entry"]]


def _fact(resource: dict[str, Any]) -> tuple[str, str, str]:
    what = (
        resource.get("code")
        or resource.get("medicationCodeableConcept")
        or resource.get("vaccineCode")
        or resource.get("provision", {}).get("code", [{}])[0]
    )
    codes = sorted(f"{c['system']}|{c['code']}" for c in what.get("coding", []))
    return resource["resourceType"], ",".join(codes), str(what.get("text"))


def test_ans_summary_states_each_fact_once_with_one_provenance_naming_every_source() -> None:
    resources = _an_summary(_an_bundles(datetime(2026, 11, 23, 8, 0, tzinfo=UTC)))
    facts = [r for r in resources if r["resourceType"] in CLINICAL]
    # 4 problems and risks, 1 allergy, 3 medications, 2 vaccinations, 1 patient will
    assert len(facts) == 11
    assert len({_fact(r) for r in facts}) == 11
    provenances = [r for r in resources if r["resourceType"] == "Provenance"]
    for fact in facts:
        url = f"urn:uuid:{fact['id']}"
        naming = [p for p in provenances if {"reference": url} in p["target"]]
        assert len(naming) == 1, fact["resourceType"]
        sources = [a["who"]["identifier"]["value"] for a in naming[0]["agent"]]
        assert sources == ["rsw", "vitalink", "gp"]
    medication = next(
        p
        for p in provenances
        if any("v-ms" in e["what"]["identifier"]["value"] for e in p["entity"])
    )
    read = [e["what"]["identifier"]["value"] for e in medication["entity"]]
    assert read == ["rsw-sumehr", "v-sumehr", "v-ms", "gp-sumehr", "gp-ms"]


def test_the_summary_is_sectioned_by_clinical_topic_with_loinc_codes() -> None:
    resources = _an_summary(translated("gp"))
    composition = resources[0]
    codes = {
        s["title"]: [c["code"] for c in s["code"]["coding"] if c["system"] == LOINC]
        for s in composition["section"]
    }
    assert codes == {
        "Allergies and intolerances": ["48765-2"],
        "Problems": ["11450-4"],
        "Risks": ["75310-3"],
        "Medications": ["10160-0"],
        "Immunizations": ["11369-6"],
        "Patient wills": ["42348-3"],
    }
    by_url = {f"urn:uuid:{r['id']}": r for r in resources}
    medications = next(s for s in composition["section"] if s["title"] == "Medications")
    kinds = {by_url[e["reference"]]["resourceType"] for e in medications["entry"]}
    assert kinds == {"MedicationStatement"}
    listed = [e["reference"] for s in composition["section"] for e in s.get("entry", [])]
    assert len(listed) == len(set(listed))


def test_a_fact_two_sources_disagree_on_is_kept_twice() -> None:
    gp = copy.deepcopy(_an_bundles(datetime(2026, 11, 23, 8, 0, tzinfo=UTC)))
    hypertension = next(
        e["resource"]
        for e in gp[0]["entry"]
        if e["resource"]["resourceType"] == "Condition"
        and any(c["code"] == "K86" for c in e["resource"]["code"]["coding"])
    )
    hypertension["clinicalStatus"]["coding"][0]["code"] = "resolved"
    resources = _an_summary(gp)
    kept = [
        r
        for r in resources
        if r["resourceType"] == "Condition" and any(c["code"] == "K86" for c in r["code"]["coding"])
    ]
    assert sorted(r["clinicalStatus"]["coding"][0]["code"] for r in kept) == ["active", "resolved"]
    provenances = [r for r in resources if r["resourceType"] == "Provenance"]
    for condition in kept:
        url = {"reference": f"urn:uuid:{condition['id']}"}
        naming = [p for p in provenances if url in p["target"]]
        assert len(naming) == 1
    resolved = next(r for r in kept if r["clinicalStatus"]["coding"][0]["code"] == "resolved")
    naming = next(
        p for p in provenances if {"reference": f"urn:uuid:{resolved['id']}"} in p["target"]
    )
    assert [a["who"]["identifier"]["value"] for a in naming["agent"]] == ["gp"]


def test_two_lines_of_one_transaction_stay_two_facts() -> None:
    line = """
<item><id S="ID-KMEHR" SV="1.0">{n}</id><cd S="CD-ITEM" SV="1.11">medication</cd>
  <content><medicinalproduct><intendedcd S="CD-DRUG-CNK" SV="01-2016">0482554</intendedcd>
    <intendedname>Kredex 25 mg</intendedname></medicinalproduct></content>
  <beginmoment><date>2020-06-10</date></beginmoment>
  <posology><text L="nl">{dose}</text></posology></item>"""
    items = line.format(n=1, dose="1 's morgens") + line.format(n=2, dose="2 's avonds")
    sumehr = translate_kmehr(kmehr_doc(items), now=NOW)
    results = [
        SourceResult("gp", "GP", (sumehr,), ("gp-sumehr",)),
        SourceResult("rsw", "RSW", (sumehr,), ("rsw-sumehr",)),
    ]
    bundle = assemble(
        AN.ssin, results, decision_id="d1", author={"display": "hub"}, now=NOW, new_id=uuid5_ids()
    )
    lines = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "MedicationStatement"
    ]
    assert sorted(line["dosage"][0]["text"] for line in lines) == ["1 's morgens", "2 's avonds"]
