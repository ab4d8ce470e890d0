"""A psychologist's session billed as a psychologist's session, over HTTP against the sandbox hub:
Koen's claim for a first-line session is checked against the tariff table's ``mhc`` rows and
recorded on MyCareNet Mental Health Care (the simulator, whose shape is assumed), and the
ClaimResponse carries the published patient share (EUR 11, EUR 4 with increased reimbursement);
a GP billing a psychologist's session is refused before sending; MHC down is retried like any
claim, never refused."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import consultation_consent, psychology_session_claim
from ehealth_hub.fixtures.sim_mycarenet_mhc import MhcSimulator
from ehealth_hub.mappings.mhc import ASSUMED, MHC_REFERENCE_SYSTEM, SESSION_SYSTEM
from tests.journeys.conftest import Hub

KOEN, SARAH = sandbox.practitioner("koen"), sandbox.practitioner("sarah")
AN, THOMAS = sandbox.patient("an"), sandbox.patient("thomas")  # CT1 110 (normal), 131 (BIM)
TODAY = datetime.now(UTC).date().isoformat()

FAST = {
    "mycarenet": {"wait_seconds": 0.3},
    "endpoints": {"breaker_failures": 100},
    "delivery": {
        "policies": {
            "mycarenet": {
                "base_delay_seconds": 0.05,
                "max_delay_seconds": 0.2,
                "jitter": 0.0,
                "max_attempts": 100,
                "breaker_failures": 100,
            }
        },
        "poll_interval_seconds": 0.05,
    },
}


def _mhc(hub: Hub) -> MhcSimulator:
    simulators = hub.container.connectors.simulators if hub.container.connectors else None
    assert simulators is not None
    assert simulators.mhc is not None
    return simulators.mhc  # type: ignore[no-any-return]  # Simulators is typed Any on the stack


async def _bill(hub: Hub, who: sandbox.Practitioner, claim: dict[str, Any]) -> Any:
    app = hub.app("consult-app", who.nihii)
    consent = consultation_consent(
        sandbox.patient(claim["patient"]["identifier"]["value"]),
        who,
        start=datetime.now(UTC),
    )
    assert (await app.post("/fhir/Consent", consent)).status_code == 201
    return await app.post("/fhir/Claim/$submit", claim)


async def _answer(hub: Hub, who: sandbox.Practitioner, answer: Any) -> dict[str, Any]:
    """The ClaimResponse, waiting on the Task when the hub answered 202."""
    body: dict[str, Any] = answer.json()
    app = hub.app("consult-app", who.nihii)
    for _ in range(300):
        if body["resourceType"] == "ClaimResponse":
            return body
        task = (await app.get(f"/fhir/Task/{body['id']}")).json()
        found = [
            o["valueString"]
            for o in task.get("output", [])
            if o["type"]["coding"][0]["code"] == "claimResponse"
        ]
        if found:
            return dict(json.loads(found[0]))
        await asyncio.sleep(0.1)
    raise AssertionError(f"no ClaimResponse on Task/{body['id']}: {task.get('status')}")


def _total(response: dict[str, Any], code: str) -> Decimal:
    return next(
        Decimal(str(t["amount"]["value"]))
        for t in response["total"]
        if t["category"]["coding"][0]["code"] == code
    )


@pytest.mark.parametrize(("patient", "share"), [(AN, "11.00"), (THOMAS, "4.00")])
async def test_a_psychologists_session_is_recorded_on_mhc_with_the_published_patient_share(
    hub: Hub, patient: sandbox.Patient, share: str
) -> None:
    claim = psychology_session_claim(f"psy-{patient.key}-{TODAY}", patient, KOEN, serviced=TODAY)
    answer = await _answer(hub, KOEN, await _bill(hub, KOEN, claim))
    assert answer["outcome"] == "complete", answer
    assert _total(answer, "copay") == Decimal(share)
    assert _total(answer, "benefit") == Decimal("60.00") - Decimal(share)
    assert answer["addItem"][0]["productOrService"]["coding"][0] == {
        "system": SESSION_SYSTEM,
        "code": "psy-fl-individual",
    }
    assert any(i["system"] == MHC_REFERENCE_SYSTEM for i in answer["identifier"])
    mhc = _mhc(hub)
    sent = mhc.received[-1]
    assert sent["pseudoCode"] == "psy-fl-individual"
    assert sent["patient"]["increasedReimbursement"] is (share == "4.00")
    assert sent["patientShare"] == share
    assert mhc.inspect()["assumed"] == list(ASSUMED)  # the simulator says what it assumes


async def test_the_first_session_is_free_for_the_patient(hub: Hub) -> None:
    claim = psychology_session_claim(
        f"psy-first-{TODAY}", AN, KOEN, serviced=TODAY, session="psy-fl-individual-first"
    )
    answer = await _answer(hub, KOEN, await _bill(hub, KOEN, claim))
    assert answer["outcome"] == "complete", answer
    assert _total(answer, "copay") == Decimal("0.00")


async def test_a_gp_billing_a_psychologists_session_is_refused_before_sending(hub: Hub) -> None:
    claim = psychology_session_claim(f"gp-psy-{TODAY}", AN, SARAH, serviced=TODAY)
    refused = await _bill(hub, SARAH, claim)
    assert refused.status_code == 422, refused.text
    assert refused.json()["issue"][0]["details"]["text"] == "billing.provider-type"
    assert _mhc(hub).received == []


@pytest.mark.parametrize("hub", [FAST], indirect=True)
async def test_when_mhc_is_down_the_session_is_retried_not_refused(hub: Hub) -> None:
    mhc = _mhc(hub)
    mhc.faults.http_status = 503
    claim = psychology_session_claim(f"psy-down-{TODAY}", AN, KOEN, serviced=TODAY)
    try:
        waiting = await _bill(hub, KOEN, claim)
        assert waiting.status_code == 202, waiting.text
        task = waiting.json()
        assert task["resourceType"] == "Task"
        assert task["status"] not in ("completed", "failed")
    finally:
        mhc.faults.clear()
    answer = await _answer(hub, KOEN, waiting)
    assert answer["outcome"] == "complete", answer
    assert _total(answer, "copay") == Decimal("11.00")
    assert len(mhc.answers) == 1


@pytest.mark.parametrize("hub", [{"mycarenet": {"mhc": {"enabled": False}}}], indirect=True)
async def test_with_mhc_disabled_a_session_is_refused_before_sending(hub: Hub) -> None:
    claim = psychology_session_claim(f"psy-off-{TODAY}", AN, KOEN, serviced=TODAY)
    refused = await _bill(hub, KOEN, claim)
    assert refused.status_code == 422, refused.text
    assert refused.json()["issue"][0]["details"]["text"] == "billing.route"
    assert _mhc(hub).received == []
