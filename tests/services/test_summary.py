"""summary.assemble: invariants of the document Bundle, whatever the sources gave (Hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ehealth_hub.fhir.builders import uuid5_ids
from ehealth_hub.fixtures import sandbox
from ehealth_hub.mappings.kmehr_to_fhir import translate_kmehr
from ehealth_hub.services.summary import SourceResult, assemble
from tests.fakes.records import sandbox_source

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
    assert [r["resourceType"] for r in resources].count("Provenance") == len(results)
    has_outcome = "OperationOutcome" in [r["resourceType"] for r in resources]
    assert has_outcome == any(r.problems for r in results)
