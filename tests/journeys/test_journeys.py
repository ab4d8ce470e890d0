"""The three journeys end to end over HTTP with a FHIR client library (fhirpy), as the
video-consultation app, the GP software and the mutuality would live them, against the sandbox hub
(real connectors, SOAP/FHIR simulators in-process, SQLite, the delivery worker in-process)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import ForbiddenError

from ehealth_hub.fhir.profiles import SSIN_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import (
    consultation_consent,
    consultation_note,
    teleconsultation_claim,
)
from tests.journeys.conftest import FhirFactory, Hub

SARAH = sandbox.practitioner("sarah")
AN = sandbox.patient("an")


async def _summary(fhir: AsyncFHIRClient, ssin: str) -> dict[str, Any]:
    result: dict[str, Any] = await fhir.execute(
        "Patient/$summary", method="get", params={"identifier": f"{SSIN_SYSTEM}|{ssin}"}
    )
    return result


async def _task(fhir: AsyncFHIRClient, task_id: str) -> dict[str, Any]:
    for _ in range(200):
        task = await fhir.reference("Task", task_id).to_resource()
        if task["status"] in ("completed", "failed"):
            return dict(task)
        await asyncio.sleep(0.1)
    raise AssertionError(f"Task/{task_id} still {task['status']}")


async def test_journey_1_consent_then_records(fhir_for: FhirFactory) -> None:
    app = await fhir_for("consult-app", SARAH.nihii)
    consent = app.resource("Consent", **consultation_consent(AN, SARAH, start=datetime.now(UTC)))
    await consent.save()
    assert consent.id
    bundle = await _summary(app, AN.ssin)
    document = Bundle.model_validate(bundle)
    assert document.type == "document"
    resources = [e["resource"] for e in bundle["entry"]]
    provenance = [r for r in resources if r["resourceType"] == "Provenance"]
    agents = {a["who"]["identifier"]["value"] for p in provenance for a in p["agent"]}
    assert agents >= {"rsw", "vitalink"}
    assert not [r for r in resources if r["resourceType"] == "OperationOutcome"]
    assert any(r["resourceType"] == "Condition" for r in resources)


async def test_journey_1_read_without_national_consent_is_refused(fhir_for: FhirFactory) -> None:
    sofie = sandbox.patient("sofie")
    app = await fhir_for("consult-app", SARAH.nihii)
    await app.resource(
        "Consent", **consultation_consent(sofie, SARAH, start=datetime.now(UTC))
    ).save()
    with pytest.raises(ForbiddenError) as refused:
        await _summary(app, sofie.ssin)
    assert "national-consent" in str(refused.value)


async def test_journey_1_a_failing_hub_leaves_the_others(fhir_for: FhirFactory, hub: Hub) -> None:
    app = await fhir_for("consult-app", SARAH.nihii)
    await app.resource("Consent", **consultation_consent(AN, SARAH, start=datetime.now(UTC))).save()
    simulators = hub.container.connectors.simulators if hub.container.connectors else None
    assert simulators is not None
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=simulators.app), base_url="http://simulators.sandbox"
    ) as sims:
        fault = {"http_status": 503, "operation": "GetTransactionListRequest"}
        assert (await sims.put("/_faults/intrahub.vitalink", json=fault)).status_code < 300
        bundle = await _summary(app, AN.ssin)
        await sims.delete("/_faults/intrahub.vitalink")
    outcome = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "OperationOutcome"
    )
    assert any("Vitalink" in i["diagnostics"] for i in outcome["issue"])
    assert any(e["resource"]["resourceType"] == "Condition" for e in bundle["entry"])


async def test_journey_2_the_note_reaches_the_gps_ehealthbox(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    app = await fhir_for("consult-app", SARAH.nihii)
    now = datetime.now(UTC)
    await app.resource("Consent", **consultation_consent(AN, SARAH, start=now)).save()
    note = consultation_note(
        AN, SARAH, "Fever for 2 days; paracetamol; call back if worse.", now=now
    )
    task = await app.execute("DocumentReference", method="post", data=note)
    assert task["resourceType"] == "Task"
    done = await _task(app, task["id"])
    assert done["status"] == "completed", done
    simulators = hub.container.connectors.simulators if hub.container.connectors else None
    assert simulators is not None
    boxes = simulators.inspect("ehbox")["boxes"]
    gp = sandbox.practitioner(AN.gp).nihii
    assert any(gp in box for box in boxes), boxes


async def test_journey_3_the_claim_is_answered_by_the_mutuality(fhir_for: FhirFactory) -> None:
    app = await fhir_for("consult-app", SARAH.nihii)
    now = datetime.now(UTC)
    await app.resource("Consent", **consultation_consent(AN, SARAH, start=now)).save()
    claim = teleconsultation_claim("journey-3", AN, SARAH, serviced=now.date().isoformat())
    answer = await app.execute("Claim/$submit", method="post", data=claim)
    if answer["resourceType"] == "Task":
        answer = await _task(app, answer["id"])
        answer = next(
            c for c in answer.get("contained", []) if c["resourceType"] == "ClaimResponse"
        )
    assert answer["resourceType"] == "ClaimResponse"
    assert answer["outcome"] in ("complete", "partial")


async def test_gp_software_cannot_read_records_and_the_app_cannot_read_the_audit_trail(
    fhir_for: FhirFactory,
) -> None:
    gp_software = await fhir_for("gp-software")
    with pytest.raises(ForbiddenError, match=r"user/Patient\.r"):
        await _summary(gp_software, AN.ssin)
    app = await fhir_for("consult-app", SARAH.nihii)
    with pytest.raises(ForbiddenError, match="AuditEvent"):
        await app.execute("AuditEvent", method="get", params={"patient": AN.ssin})
