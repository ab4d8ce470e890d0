"""The reimbursement conditions of a teleconsultation claim and the money in the answer, over HTTP
with fhirpy against the sandbox hub: each refusal rule (422, nothing sent), the GMD verified with
MyCareNet (fail closed when it is down), eFact for the video codes, the patient share per code
for BIM and non-BIM patients, the table's date boundary, and what CoverageEligibilityRequest
says about BIM and the GMD."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome

from ehealth_hub.fhir.profiles import SSIN_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import (
    consultation_consent,
    teleconsultation_claim,
    treatment_relationship,
)
from ehealth_hub.fixtures.sim_mycarenet import MyCareNetSimulator
from ehealth_hub.mappings.claim_amounts import ADJUDICATION
from ehealth_hub.mappings.gmd_fhir import BIM_EXT, GMD_RELATIONSHIP_EXT
from ehealth_hub.mappings.mycarenet_fhir import ROUTE_EXT
from tests.journeys.conftest import FhirFactory, Hub

SARAH, JAN, MARIE = (sandbox.practitioner(k) for k in ("sarah", "jan", "marie"))
AN, THOMAS, LUC, SOFIE = (sandbox.patient(k) for k in ("an", "thomas", "luc", "sofie"))
TODAY = datetime.now(UTC).date()


async def _app(
    fhir_for: FhirFactory, doctor: sandbox.Practitioner, *patients: sandbox.Patient
) -> AsyncFHIRClient:
    app = await fhir_for("consult-app", doctor.nihii)
    for patient in patients:
        consent = consultation_consent(patient, doctor, start=datetime.now(UTC))
        await app.resource("Consent", **consent).save()
    return app


def _mycarenet(hub: Hub) -> MyCareNetSimulator:
    simulators = hub.container.connectors.simulators if hub.container.connectors else None
    assert simulators is not None
    return simulators.mycarenet


async def _task(app: AsyncFHIRClient, task_id: str) -> dict[str, Any]:
    for _ in range(300):
        task = await app.reference("Task", task_id).to_resource()
        if task["status"] in ("completed", "failed"):
            return dict(task)
        await asyncio.sleep(0.1)
    raise AssertionError(f"Task/{task_id} still {task['status']}")


async def _bill(app: AsyncFHIRClient, claim: dict[str, Any]) -> dict[str, Any]:
    """The ClaimResponse, waiting on the Task when the mutuality is slower than the API's wait."""
    answer: dict[str, Any] = await app.execute("Claim/$submit", method="post", data=claim)
    if answer["resourceType"] == "Task":
        task = await _task(app, answer["id"])
        answer = next(c for c in task["contained"] if c["resourceType"] == "ClaimResponse")
    assert answer["resourceType"] == "ClaimResponse"
    return answer


async def _refused(
    app: AsyncFHIRClient, hub: Hub, doctor: sandbox.Practitioner, claim: dict[str, Any]
) -> str:
    """The rule of a 422 refusal; the same request over plain HTTP shows the status."""
    posted = len(_mycarenet(hub).genasync.received) + len(_mycarenet(hub).attest.received)
    with pytest.raises(OperationOutcome) as refused:
        await app.execute("Claim/$submit", method="post", data=claim)
    raw = await hub.app("consult-app", doctor.nihii).post("/fhir/Claim/$submit", claim)
    assert raw.status_code == 422, raw.text
    sent = len(_mycarenet(hub).genasync.received) + len(_mycarenet(hub).attest.received)
    assert sent == posted, "nothing may be sent to the mutuality"
    return str(refused.value.resource["issue"][0]["details"]["text"])


def _amounts(response: dict[str, Any]) -> dict[str, Decimal]:
    return {
        line["category"]["coding"][0]["code"]: Decimal(str(line["amount"]["value"]))
        for line in response["total"]
        if line["category"]["coding"][0]["system"] == ADJUDICATION
    }


def _claim(
    claim_id: str, patient: sandbox.Patient, doctor: sandbox.Practitioner, **kw: Any
) -> dict[str, Any]:
    return teleconsultation_claim(
        f"{claim_id}-{datetime.now(UTC):%H%M%S%f}",
        patient,
        doctor,
        serviced=TODAY.isoformat(),
        **kw,
    )


async def test_a_video_claim_without_a_treatment_relationship_is_refused(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    app = await _app(fhir_for, SARAH, AN)
    rule = await _refused(app, hub, SARAH, _claim("none", AN, SARAH, relationships=[]))
    assert rule == "billing.treatment-relationship"


async def test_a_gmd_held_by_another_doctor_is_no_treatment_relationship(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    app = await _app(fhir_for, SARAH, AN)
    claim = _claim("gmd-other", AN, SARAH, relationships=[treatment_relationship("gmd")])
    assert await _refused(app, hub, SARAH, claim) == "billing.treatment-relationship"


async def test_a_physical_contact_before_the_two_previous_calendar_years_is_refused(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    app = await _app(fhir_for, SARAH, AN)
    old = treatment_relationship("physical-contact", when=f"{TODAY.year - 3}-12-31")
    claim = _claim("old-contact", AN, SARAH, relationships=[old])
    assert await _refused(app, hub, SARAH, claim) == "billing.treatment-relationship"
    oldest = treatment_relationship("physical-contact", when=f"{TODAY.year - 2}-01-01")
    answer = await _bill(app, _claim("oldest-contact", AN, SARAH, relationships=[oldest]))
    assert answer["outcome"] == "complete"


@pytest.mark.parametrize(
    "declared",
    [
        treatment_relationship("referral", value="referral letter 2024-117"),
        treatment_relationship("on-call", value=True),
    ],
)
async def test_a_referral_or_the_on_call_service_is_a_treatment_relationship(
    fhir_for: FhirFactory, declared: dict[str, Any]
) -> None:
    app = await _app(fhir_for, SARAH, AN)
    answer = await _bill(app, _claim("declared", AN, SARAH, relationships=[declared]))
    assert answer["outcome"] == "complete"


async def test_the_gmd_holder_bills_with_the_gmd_verified_by_mycarenet(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    app = await _app(fhir_for, JAN, AN)
    before = _mycarenet(hub).inspect()["gmd_consultations"]
    claim = _claim("gmd-holder", AN, JAN, relationships=[treatment_relationship("gmd")])
    answer = await _bill(app, claim)
    assert answer["outcome"] == "complete"
    assert _mycarenet(hub).inspect()["gmd_consultations"] == before + 1


async def test_when_mycarenet_is_down_a_claim_relying_on_the_gmd_fails_closed(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    app = await _app(fhir_for, JAN, AN)
    claim = _claim("gmd-down", AN, JAN, relationships=[treatment_relationship("gmd")])
    _mycarenet(hub).gmd.faults.http_status = 503
    try:
        with pytest.raises(OperationOutcome):
            await app.execute("Claim/$submit", method="post", data=claim)
        raw = await hub.app("consult-app", JAN.nihii).post("/fhir/Claim/$submit", claim)
    finally:
        _mycarenet(hub).gmd.faults.clear()
    assert raw.status_code == 503
    assert raw.headers["Retry-After"]
    assert not _mycarenet(hub).genasync.received


async def test_a_telephone_consultation_after_its_suspension_is_refused(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    app = await _app(fhir_for, SARAH, AN)
    claim = _claim("phone", AN, SARAH, code="101732")
    assert await _refused(app, hub, SARAH, claim) == "billing.not-reimbursable-on-date"


async def test_the_medical_house_doctor_cannot_bill_for_an_enrolled_patient(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    app = await _app(fhir_for, MARIE, LUC)
    claim = _claim("house", LUC, MARIE, relationships=[treatment_relationship("gmd")])
    assert await _refused(app, hub, MARIE, claim) == "billing.medical-house"


async def test_a_video_code_cannot_be_billed_by_eattest(fhir_for: FhirFactory, hub: Hub) -> None:
    app = await _app(fhir_for, SARAH, SOFIE)
    claim = _claim("eattest", SOFIE, SARAH)
    claim["extension"].append({"url": ROUTE_EXT, "valueCode": "eattest"})
    assert await _refused(app, hub, SARAH, claim) == "billing.route"


async def test_a_video_code_goes_by_efact_whatever_the_federations_route(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    """Sofie has no third-party payment: the federation's ``auto`` route would be eAttest."""
    app = await _app(fhir_for, SARAH, SOFIE)
    answer = await _bill(app, _claim("efact", SOFIE, SARAH))
    assert answer["outcome"] == "complete"
    assert _mycarenet(hub).genasync.received
    assert not _mycarenet(hub).attest.received


@pytest.mark.parametrize(
    ("code", "patient", "share", "bim"),
    [
        ("101673", AN, "4.00", False),
        ("101673", THOMAS, "1.00", True),
        ("101695", AN, "4.00", False),
        ("101695", THOMAS, "1.00", True),
        ("101710", AN, "3.50", False),
        ("101710", THOMAS, "1.00", True),
    ],
)
async def test_the_claim_response_tells_the_patient_share_of_each_code(
    fhir_for: FhirFactory, code: str, patient: sandbox.Patient, share: str, bim: bool
) -> None:
    app = await _app(fhir_for, SARAH, patient)
    answer = await _bill(app, _claim(f"share-{code}", patient, SARAH, code=code, fee=25.40))
    assert answer["outcome"] == "complete"
    amounts = _amounts(answer)
    assert amounts["submitted"] == Decimal("25.40")
    assert amounts["copay"] == Decimal(share)
    assert amounts["benefit"] == Decimal("25.40") - Decimal(share)
    assert {"url": BIM_EXT, "valueBoolean": bim} in answer["extension"]


def _split_table(folder: Path) -> dict[str, Any]:
    """A table whose 101673 row ends on the last day of last year and a new row starts the next
    day with another patient share (both days inside the sandbox's insurance period)."""
    last = f"{TODAY.year - 1}-12-31"
    first = f"{TODAY.year}-01-01"
    src = "https://webappsa.riziv-inami.fgov.be/Nomen/fr/101673"
    cols = "code,label,valid_from,valid_to,provider,patient_share_normal,patient_share_bim"
    path = folder / "split.csv"
    path.write_text(
        f"{cols},route,conditions,source\n"
        f"101673,old,2022-01-01,{last},gp,4.00,1.00,efact,treatment-relationship,{src}\n"
        f"101673,new,{first},,gp,4.50,1.50,efact,treatment-relationship,{src}\n"
    )
    return {"mycarenet": {"billing_rules_file": path}}


@pytest.mark.parametrize("hub", [_split_table], indirect=True)
async def test_a_rows_last_day_and_the_next_day_bill_under_their_own_row(
    fhir_for: FhirFactory,
) -> None:
    app = await _app(fhir_for, SARAH, AN)
    for day, share in ((date(TODAY.year - 1, 12, 31), "4.00"), (date(TODAY.year, 1, 1), "4.50")):
        claim = teleconsultation_claim(f"split-{day}", AN, SARAH, serviced=day.isoformat())
        assert _amounts(await _bill(app, claim))["copay"] == Decimal(share)


async def _eligibility(app: AsyncFHIRClient, patient: sandbox.Patient) -> dict[str, Any]:
    request = {
        "resourceType": "CoverageEligibilityRequest",
        "status": "active",
        "purpose": ["validation"],
        "patient": {"identifier": {"system": SSIN_SYSTEM, "value": patient.ssin}},
        "servicedDate": TODAY.isoformat(),
    }
    answer: dict[str, Any] = await app.execute(
        "CoverageEligibilityRequest/$submit", method="post", data=request
    )
    return answer


def _gmd_relationship(answer: dict[str, Any]) -> dict[str, Any]:
    ext = next(e for e in answer["extension"] if e["url"] == GMD_RELATIONSHIP_EXT)
    return {e["url"]: e.get("valueBoolean", e.get("valueIdentifier")) for e in ext["extension"]}


async def test_eligibility_states_bim_and_a_treatment_relationship_through_the_gmd(
    fhir_for: FhirFactory,
) -> None:
    jan = await _app(fhir_for, JAN, AN)
    an = await _eligibility(jan, AN)
    assert {"url": BIM_EXT, "valueBoolean": False} in an["extension"]
    assert _gmd_relationship(an)["exists"] is True
    sarah = await _app(fhir_for, SARAH, THOMAS, AN)
    thomas = await _eligibility(sarah, THOMAS)
    assert {"url": BIM_EXT, "valueBoolean": True} in thomas["extension"]
    assert _gmd_relationship(thomas) == {"exists": False}
    an_for_sarah = _gmd_relationship(await _eligibility(sarah, AN))
    assert an_for_sarah["exists"] is False
    assert an_for_sarah["holder"]["value"] == JAN.nihii
