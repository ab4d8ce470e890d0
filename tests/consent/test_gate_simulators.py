"""The gate through the real Consent and Therapeutic Link adapters, against the simulators.

zeep + httpx + WS-Security with STS tokens, served in-process by ``fixtures.simulate``; the
exclusions come from the in-memory service until the exclusion adapter lands.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.connectors.consent import ConsentClient
from ehealth_hub.connectors.therlink import TherapeuticLinkClient
from ehealth_hub.consent.gate import ConsentGate
from ehealth_hub.consent.model import AccessRequest
from ehealth_hub.consent.store import ConsentStore
from ehealth_hub.core.errors import ConsentDenied
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.simulate import Simulators
from ehealth_hub.settings import ConsentSettings
from tests.connectors.conftest import Clock, actor
from tests.consent._support import consent_resource
from tests.fakes.consent import FakeExclusionService

SARAH = sandbox.practitioner("sarah")


@pytest.fixture
def gate(
    consent_client: ConsentClient,
    therlink_client: TherapeuticLinkClient,
    engine: AsyncEngine,
    clock: Clock,
) -> ConsentGate:
    return ConsentGate(
        consent=consent_client,
        links=therlink_client,
        exclusions=FakeExclusionService(),
        engine=engine,
        config=ConsentSettings(cache_staleness_seconds=0),
        clock=clock,
    )


async def consented(engine: AsyncEngine, clock: Clock, patient_key: str) -> AccessRequest:
    ssin = sandbox.patient(patient_key).ssin
    resource = consent_resource(ssin, SARAH.nihii, start=clock.now - timedelta(minutes=5))
    async with engine.begin() as conn:
        await ConsentStore().create(conn, resource, clock.now)
    return AccessRequest(ssin, actor("sarah"), "read-dossier", client_id="consult-app")


async def test_permits_a_read_on_the_facts_the_services_hold(
    gate: ConsentGate, engine: AsyncEngine, clock: Clock
) -> None:
    permit = await gate.authorize(await consented(engine, clock, "an"))
    assert permit.patient_ssin == sandbox.patient("an").ssin


async def test_denies_a_read_without_a_link_at_the_therapeutic_link_service(
    gate: ConsentGate, engine: AsyncEngine, clock: Clock
) -> None:
    with pytest.raises(ConsentDenied) as denied:
        await gate.authorize(await consented(engine, clock, "nadia"))
    assert any(r.startswith("therapeutic-link:") for r in denied.value.reasons)


async def test_denies_a_read_without_national_consent_at_the_consent_service(
    gate: ConsentGate, engine: AsyncEngine, clock: Clock
) -> None:
    with pytest.raises(ConsentDenied) as denied:
        await gate.authorize(await consented(engine, clock, "sofie"))
    assert any(r.startswith("national-consent:") for r in denied.value.reasons)


@pytest.mark.parametrize("fault", ["http_status", "malformed"])
@pytest.mark.parametrize("service", ["consent", "therlink"])
async def test_a_failing_service_fails_closed(
    gate: ConsentGate, engine: AsyncEngine, clock: Clock, sims: Simulators, service: str, fault: str
) -> None:
    plan = getattr(sims, service).soap.faults
    setattr(plan, fault, 503 if fault == "http_status" else True)
    with pytest.raises(ConsentDenied) as denied:
        await gate.authorize(await consented(engine, clock, "an"))
    assert any("source unavailable" in r for r in denied.value.reasons)
