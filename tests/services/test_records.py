"""RecordsService ($summary): gate first, sources in parallel, one Bundle, partial answers."""

from __future__ import annotations

import asyncio

import pytest

from ehealth_hub.core.errors import ConsentDenied, DownstreamUnavailable
from ehealth_hub.core.ports import Actor
from ehealth_hub.fhir.bundle import validate_bundle
from ehealth_hub.fixtures import sandbox
from ehealth_hub.services.records import RecordsService
from tests.fakes.gate import SandboxFactsGate
from tests.fakes.records import sandbox_source

SARAH = sandbox.practitioner("sarah")
ACTOR = Actor(SARAH.nihii, SARAH.quality)
AN = sandbox.patient("an")


def _types(bundle: dict) -> list[str]:
    return [e["resource"]["resourceType"] for e in bundle["entry"]]


async def test_summary_is_one_document_naming_every_source_in_its_provenance() -> None:
    sources = [sandbox_source("rsw"), sandbox_source("vitalink"), sandbox_source("gp")]
    service = RecordsService(SandboxFactsGate(), sources)
    bundle = await service.summary(AN.ssin, ACTOR, client_id="consult-app")
    validate_bundle(bundle)
    kinds = _types(bundle)
    assert bundle["type"] == "document"
    assert kinds[0] == "Composition"
    assert kinds.count("Patient") == 1
    provenances = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance"
    ]
    assert {a["who"]["identifier"]["value"] for p in provenances for a in p["agent"]} == {
        "rsw",
        "vitalink",
        "gp",
    }
    assert "OperationOutcome" not in kinds
    assert "MedicationStatement" in kinds or "Immunization" in kinds


async def test_references_point_at_the_one_patient() -> None:
    service = RecordsService(SandboxFactsGate(), [sandbox_source("rsw"), sandbox_source("gp")])
    bundle = await service.summary(AN.ssin, ACTOR, client_id="consult-app")
    patient_url = next(
        e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    urls = {e["fullUrl"] for e in bundle["entry"]}
    for entry in bundle["entry"]:
        subject = entry["resource"].get("subject") or entry["resource"].get("patient")
        if isinstance(subject, dict) and "reference" in subject:
            assert subject["reference"] == patient_url
            assert subject["reference"] in urls


async def test_a_failing_source_leaves_the_others_and_says_what_is_missing() -> None:
    down = sandbox_source("vitalink", fail=DownstreamUnavailable("timeout", system="vitalink"))
    service = RecordsService(
        SandboxFactsGate(), [sandbox_source("rsw"), down], displays={"vitalink": "Vitalink"}
    )
    bundle = await service.summary(AN.ssin, ACTOR, client_id="consult-app")
    validate_bundle(bundle)
    outcome = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "OperationOutcome"
    )
    assert any("Vitalink" in i["diagnostics"] for i in outcome["issue"])
    assert any(e["resource"]["resourceType"] == "Condition" for e in bundle["entry"])


async def test_sources_are_asked_concurrently() -> None:
    # Each source waits until all three are listing: asked one after the other, the first would
    # wait alone until the service's timeout and the Bundle would say so.
    meet = asyncio.Barrier(3)
    sources = [sandbox_source(n, meet=meet) for n in ("rsw", "vitalink", "gp")]
    service = RecordsService(SandboxFactsGate(), sources, timeout_seconds=5)
    bundle = await service.summary(AN.ssin, ACTOR, client_id="consult-app")
    assert "OperationOutcome" not in _types(bundle)
    assert [s.calls for s in sources] == [1, 1, 1]


async def test_a_slow_source_is_cut_off_at_the_timeout() -> None:
    slow = sandbox_source("vitalink", delay=5)
    service = RecordsService(SandboxFactsGate(), [sandbox_source("rsw"), slow], timeout_seconds=0.1)
    bundle = await service.summary(AN.ssin, ACTOR, client_id="consult-app")
    outcome = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "OperationOutcome"
    )
    assert "no answer within" in outcome["issue"][0]["diagnostics"]


async def test_denied_read_never_reaches_a_source() -> None:
    source = sandbox_source("vitalink")
    service = RecordsService(SandboxFactsGate(), [source])
    with pytest.raises(ConsentDenied) as caught:
        await service.summary(sandbox.patient("sofie").ssin, ACTOR, client_id="consult-app")
    assert any("national-consent" in r for r in caught.value.reasons)
    assert source.calls == 0


async def test_only_the_permitted_data_classes_are_asked_for() -> None:
    source = sandbox_source("vitalink")
    service = RecordsService(SandboxFactsGate(data_classes=("vaccination",)), [source])
    bundle = await service.summary(AN.ssin, ACTOR, client_id="consult-app")
    kinds = _types(bundle)
    assert "Immunization" in kinds
    assert "MedicationStatement" not in kinds


async def test_the_same_record_from_two_sources_is_shown_once_with_one_provenance_naming_both() -> (
    None
):
    rsw = sandbox_source("rsw")
    twin = sandbox_source("rsw")
    twin.name = "gp"  # the GP system holds the very same Sumehr
    service = RecordsService(SandboxFactsGate(), [rsw, twin])
    bundle = await service.summary(AN.ssin, ACTOR, client_id="consult-app")
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(urls) == len(set(urls))
    provenances = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance"
    ]
    assert len(provenances) == 1
    assert [a["who"]["identifier"]["value"] for a in provenances[0]["agent"]] == ["rsw", "gp"]
