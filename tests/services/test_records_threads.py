"""Large KMEHR messages are translated in a worker thread, with the same outcome as on the loop."""

from __future__ import annotations

from collections import Counter

from ehealth_hub.core.ports import Actor, TransactionRef
from ehealth_hub.fhir.bundle import validate_bundle
from ehealth_hub.fixtures import sandbox
from ehealth_hub.services.records import RecordsService
from tests.fakes.gate import SandboxFactsGate
from tests.fakes.records import NOW, MemoryRecordSource, sandbox_source

SARAH = sandbox.practitioner("sarah")
ACTOR = Actor(SARAH.nihii, SARAH.quality)
AN = sandbox.patient("an")


def kinds(bundle: dict) -> Counter[str]:
    return Counter(e["resource"]["resourceType"] for e in bundle["entry"])


async def test_a_message_above_the_threshold_maps_in_a_thread_to_the_same_resources() -> None:
    on_loop = RecordsService(SandboxFactsGate(), [sandbox_source("vitalink")])
    threaded = RecordsService(
        SandboxFactsGate(), [sandbox_source("vitalink")], thread_threshold_bytes=0
    )
    expected = await on_loop.summary(AN.ssin, ACTOR, client_id="consult-app")
    bundle = await threaded.summary(AN.ssin, ACTOR, client_id="consult-app")
    validate_bundle(bundle)
    assert kinds(bundle) == kinds(expected)
    assert "OperationOutcome" not in kinds(bundle)


async def test_an_unmappable_message_translated_in_a_thread_is_reported_not_raised() -> None:
    ref = TransactionRef("rsw", "rsw-broken", "sumehr", NOW)
    broken = MemoryRecordSource("rsw", {AN.ssin: [(ref, b"<kmehrmessage><header>")]})
    service = RecordsService(
        SandboxFactsGate(), [broken, sandbox_source("gp")], thread_threshold_bytes=0
    )
    bundle = await service.summary(AN.ssin, ACTOR, client_id="consult-app")
    outcome = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "OperationOutcome"
    )
    assert "rsw-broken" in outcome["issue"][0]["diagnostics"]
