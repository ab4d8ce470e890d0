"""An insured employee's claim, over HTTP with fhirpy against the sandbox hub: once the mutuality
has answered, her private insurer (the AG Insurance simulator) receives a minimal Claim through the
outbox, only with her consent for that insurer, and its ClaimResponse comes back on the claim's
Task; the insurer being down (retries, dead letter, replay), the plan's annual ceiling, and what
the insurer actually received (nothing outside the agreed elements)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fhirpy import AsyncFHIRClient

from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import consultation_consent, teleconsultation_claim
from ehealth_hub.fixtures.insurance import insurer_consent, with_diagnosis, with_insurer_cover
from ehealth_hub.fixtures.sim_insurer import InsurerSimulator, Plan, element_paths
from tests.journeys.conftest import FhirFactory, Hub

SARAH = sandbox.practitioner("sarah")
INES = sandbox.patient("ines")
TODAY = datetime.now(UTC).date()
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
DIAGNOSIS = {"system": "http://hl7.org/fhir/sid/icpc-2", "code": "R74"}

FAST_RETRIES = {
    "delivery": {
        "policies": {
            "insurer": {
                "base_delay_seconds": 0.05,
                "jitter": 0.0,
                "max_attempts": 3,
                "breaker_failures": 100,
            }
        },
        "poll_interval_seconds": 0.05,
    }
}

AGREED_PATHS = {
    # written from the agreement (service, date, fee, mutuality reimbursement, patient's remaining
    # cost, eFact/eAttest reference) and FHIR R4's required Claim elements, not from the mapping
    "Claim.resourceType",
    "Claim.identifier.system",
    "Claim.identifier.value",
    "Claim.status",
    "Claim.type.coding.system",
    "Claim.type.coding.code",
    "Claim.use",
    "Claim.created",
    "Claim.priority.coding.system",
    "Claim.priority.coding.code",
    "Claim.patient.identifier.system",
    "Claim.patient.identifier.value",
    "Claim.patient.identifier.assigner.identifier.system",
    "Claim.patient.identifier.assigner.identifier.value",
    "Claim.insurer.identifier.system",
    "Claim.insurer.identifier.value",
    "Claim.provider.display",
    "Claim.insurance.sequence",
    "Claim.insurance.focal",
    "Claim.insurance.businessArrangement",
    "Claim.insurance.claimResponse.reference",
    "Claim.insurance.coverage.identifier.system",
    "Claim.insurance.coverage.identifier.value",
    "Claim.insurance.coverage.identifier.assigner.identifier.system",
    "Claim.insurance.coverage.identifier.assigner.identifier.value",
    "Claim.item.sequence",
    "Claim.item.productOrService.coding.system",
    "Claim.item.productOrService.coding.code",
    "Claim.item.servicedDate",
    "Claim.item.net.value",
    "Claim.item.net.currency",
    "Claim.total.value",
    "Claim.total.currency",
    *(
        f"Claim.contained.{p}"
        for p in (
            "resourceType",
            "id",
            "status",
            "type.coding.system",
            "type.coding.code",
            "use",
            "created",
            "outcome",
            "patient.identifier.system",
            "patient.identifier.value",
            "patient.identifier.assigner.identifier.system",
            "patient.identifier.assigner.identifier.value",
            "insurer.identifier.system",
            "insurer.identifier.value",
            "identifier.system",
            "identifier.value",
            "total.category.coding.system",
            "total.category.coding.code",
            "total.amount.value",
            "total.amount.currency",
        )
    ),
}


def _insurer(hub: Hub) -> InsurerSimulator:
    simulators = hub.container.connectors.simulators if hub.container.connectors else None
    assert simulators is not None
    assert simulators.insurer is not None
    return simulators.insurer  # type: ignore[no-any-return]  # Simulators is typed Any on the stack


async def _app(fhir_for: FhirFactory, *, insurer_consent_given: bool) -> AsyncFHIRClient:
    app = await fhir_for("consult-app", SARAH.nihii)
    now = datetime.now(UTC)
    await app.resource("Consent", **consultation_consent(INES, SARAH, start=now)).save()
    if insurer_consent_given:
        await app.resource("Consent", **insurer_consent(INES, SARAH, start=now)).save()
    return app


def _claim(name: str) -> dict[str, Any]:
    claim_id = f"{name}-{datetime.now(UTC):%H%M%S%f}"
    claim = teleconsultation_claim(claim_id, INES, SARAH, serviced=TODAY.isoformat())
    return with_insurer_cover(claim, INES)


async def _task(app: AsyncFHIRClient, task_id: str, done: Any) -> dict[str, Any]:
    task: dict[str, Any] = {}
    for _ in range(300):
        task = dict(await app.reference("Task", task_id).to_resource())
        if done(task):
            return task
        await asyncio.sleep(0.1)
    raise AssertionError(f"Task/{task_id} never reached the expected state: {task.get('status')}")


def _outputs(task: dict[str, Any]) -> dict[str, Any]:
    return {o["type"]["coding"][0]["code"]: o for o in task.get("output", [])}


async def _submit(app: AsyncFHIRClient, claim: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """(the mutuality's ClaimResponse, the claim's Task id)."""
    answer: dict[str, Any] = await app.execute("Claim/$submit", method="post", data=claim)
    tasks = await app.resources("Task").search(focus=f"Claim/{claim['id']}").fetch_raw()
    claim_task = next(
        e["resource"]
        for e in tasks["entry"]
        if e["resource"]["code"]["coding"][0]["code"] == "teleconsultation-claim"
    )
    if answer["resourceType"] == "Task":
        done = await _task(app, answer["id"], lambda t: t["status"] in ("completed", "failed"))
        answer = next(c for c in done["contained"] if c["resourceType"] == "ClaimResponse")
    assert answer["outcome"] == "complete", answer
    return answer, claim_task["id"]


async def _insurer_task(app: AsyncFHIRClient, claim_task: str, status: str) -> dict[str, Any]:
    task = await _task(app, claim_task, lambda t: "insurer-task" in _outputs(t))
    ref = _outputs(task)["insurer-task"]["valueReference"]["reference"].split("/")[1]
    return await _task(app, ref, lambda t: t["status"] == status)


def _total(response: dict[str, Any], code: str) -> Decimal:
    return next(
        Decimal(str(t["amount"]["value"]))
        for t in response["total"]
        if t["category"]["coding"][0]["code"] == code
    )


@pytest.mark.parametrize("hub", [FAST_RETRIES], indirect=True)
async def test_an_insured_employees_claim_is_reimbursed_by_the_mutuality_then_by_her_insurer(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    app = await _app(fhir_for, insurer_consent_given=True)
    mutuality, claim_task = await _submit(app, _claim("ines-ag"))
    await _insurer_task(app, claim_task, "completed")
    task = await _task(app, claim_task, lambda t: "insurer-answer" in _outputs(t))
    insurer = next(c for c in task["contained"] if c["id"] == "insurer")
    assert insurer["resourceType"] == "ClaimResponse"
    assert insurer["outcome"] == "complete"
    # the insurer pays what the mutuality left to the patient (well under the plan's ceiling)
    assert _total(insurer, "benefit") == _total(mutuality, "copay") > 0
    received = _insurer(hub).received
    assert len(received) == 1
    contained = received[0]["contained"][0]
    assert _total(contained, "benefit") == _total(mutuality, "benefit")


@pytest.mark.parametrize("hub", [FAST_RETRIES], indirect=True)
async def test_the_insurer_receives_no_element_outside_the_agreed_set(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    app = await _app(fhir_for, insurer_consent_given=True)
    # the app states a diagnosis; the consent does not opt in to it, so it never leaves
    _, claim_task = await _submit(app, with_diagnosis(_claim("ines-minimal"), DIAGNOSIS))
    await _insurer_task(app, claim_task, "completed")
    (received,) = _insurer(hub).received
    assert element_paths(received) <= AGREED_PATHS, element_paths(received) - AGREED_PATHS
    text = json.dumps(received)
    for personal in (INES.ssin, INES.given, INES.family, SARAH.nihii, SARAH.family):
        assert personal not in text
    assert "diagnosis" not in text
    assert "supportingInfo" not in text


@pytest.mark.parametrize("hub", [FAST_RETRIES], indirect=True)
async def test_the_diagnosis_reaches_the_insurer_only_while_the_consent_opts_in_to_it(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    app = await fhir_for("consult-app", SARAH.nihii)
    now = datetime.now(UTC)
    await app.resource("Consent", **consultation_consent(INES, SARAH, start=now)).save()
    opted_in = app.resource("Consent", **insurer_consent(INES, SARAH, start=now, diagnosis=True))
    await opted_in.save()
    _, first = await _submit(app, with_diagnosis(_claim("ines-dx"), DIAGNOSIS))
    await _insurer_task(app, first, "completed")
    with_dx = _insurer(hub).received[-1]
    assert [d["diagnosisCodeableConcept"]["coding"] for d in with_dx["diagnosis"]] == [[DIAGNOSIS]]
    revoke = await hub.app("consult-app", SARAH.nihii).headers()
    assert (await hub.http.delete(f"/fhir/Consent/{opted_in.id}", headers=revoke)).status_code in (
        200,
        204,
    )
    await app.resource("Consent", **insurer_consent(INES, SARAH, start=now)).save()
    _, second = await _submit(app, with_diagnosis(_claim("ines-no-dx"), DIAGNOSIS))
    await _insurer_task(app, second, "completed")
    without = _insurer(hub).received[-1]
    assert "diagnosis" not in without
    assert "R74" not in json.dumps(without)
    assert len(_insurer(hub).received) == 2


@pytest.mark.parametrize("hub", [FAST_RETRIES], indirect=True)
async def test_without_the_insurer_consent_the_insurer_receives_nothing(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    app = await _app(fhir_for, insurer_consent_given=False)
    _, claim_task = await _submit(app, _claim("ines-no-consent"))
    refused = await _insurer_task(app, claim_task, "failed")
    assert refused["businessStatus"]["text"] == "rejected"
    assert "consent" in refused["statusReason"]["text"]
    assert _insurer(hub).received == []


@pytest.mark.parametrize("hub", [FAST_RETRIES], indirect=True)
async def test_a_revoked_insurer_consent_stops_the_next_claim(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    app = await fhir_for("consult-app", SARAH.nihii)
    now = datetime.now(UTC)
    await app.resource("Consent", **consultation_consent(INES, SARAH, start=now)).save()
    given = app.resource("Consent", **insurer_consent(INES, SARAH, start=now))
    await given.save()
    _, first = await _submit(app, _claim("ines-before"))
    await _insurer_task(app, first, "completed")
    revoked = await hub.app("consult-app", SARAH.nihii).headers()
    assert (await hub.http.delete(f"/fhir/Consent/{given.id}", headers=revoked)).status_code in (
        200,
        204,
    )
    _, second = await _submit(app, _claim("ines-after"))
    refused = await _insurer_task(app, second, "failed")
    assert "consent" in refused["statusReason"]["text"]
    assert len(_insurer(hub).received) == 1


@pytest.mark.parametrize("hub", [FAST_RETRIES], indirect=True)
async def test_an_insurer_that_is_down_is_retried_then_dead_lettered_then_replayed(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    app = await _app(fhir_for, insurer_consent_given=True)
    insurer = _insurer(hub)
    insurer.faults.http_status = 503
    _, claim_task = await _submit(app, _claim("ines-down"))
    dead = await _insurer_task(app, claim_task, "failed")
    assert dead["businessStatus"]["text"] == "dead-letter"
    attempts = next(i for i in dead["input"] if i["type"]["text"] == "attempts")
    assert attempts["valueInteger"] == 3
    assert insurer.answers == {}
    insurer.faults.clear()
    operator = await fhir_for("operator")
    await operator.execute(f"Task/{dead['id']}/$replay", method="post", data={})
    await _task(app, dead["id"], lambda t: t["status"] == "completed")
    task = await _task(app, claim_task, lambda t: "insurer-answer" in _outputs(t))
    assert any(c["id"] == "insurer" for c in task["contained"])
    assert len(insurer.answers) == 1


@pytest.mark.parametrize("hub", [FAST_RETRIES], indirect=True)
async def test_the_insurer_says_when_the_plans_annual_ceiling_is_reached(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    app = await _app(fhir_for, insurer_consent_given=True)
    insurer = _insurer(hub)
    mutuality, first = await _submit(app, _claim("ines-ceiling-1"))
    cost = _total(mutuality, "copay")
    plan = insurer.plans["AG-EB-HEALTH"]
    insurer.plans[plan.code] = Plan(plan.code, plan.name, cost + cost / 2)
    await _insurer_task(app, first, "completed")
    _, second = await _submit(app, _claim("ines-ceiling-2"))
    answered = await _insurer_task(app, second, "completed")
    response = next(c for c in answered["contained"] if c["resourceType"] == "ClaimResponse")
    assert _total(response, "benefit") == cost / 2
    benefit = next(
        a
        for a in response["item"][0]["adjudication"]
        if a["category"]["coding"][0]["code"] == "benefit"
    )
    assert benefit["reason"]["coding"][0]["code"] == "ar002"
    assert "ceiling" in response["processNote"][0]["text"]


async def test_a_claim_naming_a_plan_no_configured_insurer_runs_is_refused_before_sending(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    await _app(fhir_for, insurer_consent_given=True)
    claim = _claim("ines-unknown-plan")
    claim["insurance"][-1]["businessArrangement"] = "AG-SOME-OTHER-PLAN"
    simulators = hub.container.connectors.simulators if hub.container.connectors else None
    assert simulators is not None
    refused = await hub.app("consult-app", SARAH.nihii).post("/fhir/Claim/$submit", claim)
    assert refused.status_code == 422, refused.text
    assert refused.json()["issue"][0]["details"]["text"] == "claim.insurer-cover"
    assert not simulators.mycarenet.genasync.received
    assert not simulators.mycarenet.attest.received
