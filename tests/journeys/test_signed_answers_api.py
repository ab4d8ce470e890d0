"""Signed answers end to end (issue 16 #2), through the HTTP API of the sandbox hub (the real
wiring of ``connectors/wiring.py`` against the simulators): a national Consent answer that is not
properly signed is an outage of the source, never the decision it claims; a hub answer that is
not properly signed is not served.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from ehealth_hub.fhir.profiles import SSIN_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import consultation_consent
from tests.journeys.conftest import FhirFactory, Hub

SARAH = sandbox.practitioner("sarah")
SOFIE = sandbox.patient("sofie")  # no national consent: a well-signed answer means 403
AN = sandbox.patient("an")  # records at RSW and Vitalink


async def _summary(
    hub: Hub, patient: sandbox.Patient, simulator: str, fault: dict[str, object]
) -> httpx.Response:
    """``Patient/$summary`` of ``patient`` while ``simulator`` suffers ``fault``."""
    token = await hub.app("consult-app", SARAH.nihii).token()
    simulators = hub.container.connectors.simulators if hub.container.connectors else None
    assert simulators is not None
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=simulators.app), base_url="http://simulators.sandbox"
    ) as sims:
        assert (await sims.put(f"/_faults/{simulator}", json=fault)).status_code < 300
        return await hub.http.get(
            "/fhir/Patient/$summary",
            params={"identifier": f"{SSIN_SYSTEM}|{patient.ssin}"},
            headers={"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"},
        )


@pytest.mark.parametrize("fault", [{"unsigned": True}, {"tampered": True}, {"stale": True}])
async def test_a_consent_answer_not_properly_signed_is_an_outage_never_the_decision(
    fhir_for: FhirFactory, hub: Hub, fault: dict[str, object]
) -> None:
    """The spoiled answer is not read as a decision: the gate fails closed on the outage, and the
    client hears 503 (try again), never the refusal the answer claims."""
    app = await fhir_for("consult-app", SARAH.nihii)
    start = datetime.now(UTC)
    await app.resource("Consent", **consultation_consent(SOFIE, SARAH, start=start)).save()
    response = await _summary(hub, SOFIE, "consent", fault)
    assert response.status_code == 503, response.text
    assert "Retry-After" in response.headers
    spoiled = response.text
    assert "national-consent: source unavailable" in spoiled
    assert "UnverifiedAnswer" in spoiled
    assert "informed consent" not in spoiled  # the answer's content was not believed
    decided = (await _summary(hub, SOFIE, "consent", {})).text
    assert "the patient has not given informed consent" in decided


async def test_a_hub_answer_not_properly_signed_is_not_served(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    app = await fhir_for("consult-app", SARAH.nihii)
    await app.resource("Consent", **consultation_consent(AN, SARAH, start=datetime.now(UTC))).save()
    fault = {"unsigned": True, "operation": "GetTransactionListRequest"}  # not the exclusions
    answer = await _summary(hub, AN, "intrahub.vitalink", fault)
    assert answer.status_code == 200, answer.text
    entries = [e["resource"] for e in answer.json()["entry"]]
    issues = [i for r in entries if r["resourceType"] == "OperationOutcome" for i in r["issue"]]
    assert [i for i in issues if "Vitalink" in i["diagnostics"]], issues
    assert any(r["resourceType"] == "Condition" for r in entries)  # the other hubs still served
