"""Journey 3 end to end below the API: insurability -> routing -> outbox -> eAttest or eFact ->
ClaimResponse, and the promise that a claim is attested once whatever happens in between."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from ehealth_hub.core.errors import BusinessRejection, Conflict, ConsentDenied, InvalidInput
from ehealth_hub.delivery.outbox import Status
from ehealth_hub.delivery.retention import purge
from ehealth_hub.mappings.mycarenet_fhir import EFACT_ERRORS_SYSTEM
from ehealth_hub.settings import FederationSettings, MyCareNetSettings, RetentionSettings
from ehealth_hub.store.tables import mycarenet_claims, outbox
from tests.mycarenet.claims_data import app_claim
from tests.mycarenet.conftest import Claims, MyCareNet, actor

SARAH, KOEN = actor("sarah"), actor("koen")


async def deliver(claims: Claims, submission):  # type: ignore[no-untyped-def]
    await claims.worker.run_once()  # type: ignore[attr-defined]
    return await claims.service.wait(submission, 0)  # type: ignore[attr-defined]


async def submit(claims: Claims, claim: dict, who=SARAH):  # type: ignore[no-untyped-def]
    return await claims.service.submit(claim, who, client_id="video-app")  # type: ignore[attr-defined]


async def test_a_claim_is_attested_by_the_patients_mutuality(
    claims: Claims, mycarenet: MyCareNet
) -> None:
    submitted = await submit(claims, app_claim("c-1", route="eattest"))
    assert submitted.claim_response is None
    assert submitted.item.status is Status.PENDING
    done = await deliver(claims, submitted)
    response = done.claim_response
    assert response["outcome"] == "complete"
    assert response["insurer"]["identifier"]["value"] == "134"
    attestation = response["identifier"][0]["value"]
    assert attestation in mycarenet.sim.book.attestations
    assert done.item.status is Status.COMPLETED
    assert mycarenet.sim.inbox["100"].attestations[0]["answer"] == "eattestresponse-create"


async def test_third_party_payment_goes_by_efact_to_the_federation(
    claims: Claims, mycarenet: MyCareNet
) -> None:
    done = await deliver(
        claims, await submit(claims, app_claim("c-2", patient="thomas", code="101710"))
    )
    assert done.claim_response["outcome"] == "complete"
    assert mycarenet.sim.inbox["900"].efact[0]["lines"] == 1
    assert mycarenet.sim.mailbox[SARAH.nihii] == [], "the answers were confirmed"


async def test_an_efact_line_refused_by_the_mutuality_is_an_error_claim_response(
    claims: Claims,
) -> None:
    done = await deliver(claims, await submit(claims, app_claim("c-3", patient="luc")))
    assert done.claim_response["outcome"] == "error"
    assert done.claim_response["error"][0]["code"]["coding"][0] == {
        "system": EFACT_ERRORS_SYSTEM,
        "code": "MHOUSE",
    }


async def test_a_psychologist_billing_a_gp_code_is_refused_before_anything_is_sent(
    claims: Claims, mycarenet: MyCareNet
) -> None:
    # issue 22: this claim used to reach the mutuality and come back CODE_NOT_ALLOWED_FOR_QUALITY
    claim = app_claim("c-4", practitioner="koen", route="eattest")
    with pytest.raises(BusinessRejection) as refused:
        await submit(claims, claim, KOEN)
    assert refused.value.code == "billing.provider-type"
    assert not mycarenet.sim.attest.received
    assert not mycarenet.sim.genasync.received


async def test_an_uninsured_patient_is_refused_before_anything_is_sent(
    claims: Claims, mycarenet: MyCareNet
) -> None:
    with pytest.raises(BusinessRejection) as refused:
        await submit(claims, app_claim("c-5", patient="emma", route="eattest"))
    assert refused.value.code == "not-insured"
    assert not mycarenet.sim.attest.received
    assert not mycarenet.sim.genasync.received
    async with claims.db.connect() as conn:  # type: ignore[attr-defined]
        assert (await conn.execute(select(func.count()).select_from(outbox))).scalar_one() == 0


async def test_a_closed_mutuality_is_refused_before_anything_is_sent(
    mycarenet: MyCareNet, db, clock
) -> None:  # type: ignore[no-untyped-def]
    from ehealth_hub.services.billing_check import BillingCheck
    from ehealth_hub.services.billing_rules import load_rules
    from ehealth_hub.services.claims import ClaimsService
    from tests.fakes.gate import SandboxFactsGate

    federations = {**MyCareNetSettings().federations, "100": FederationSettings(open=False)}
    service = ClaimsService(
        SandboxFactsGate(),
        mycarenet.memberdata,
        db,
        MyCareNetSettings(federations=federations),
        billing=BillingCheck(load_rules(), mycarenet.gmd),
        clock=clock,
    )
    with pytest.raises(BusinessRejection) as refused:
        await service.submit(app_claim("c-6"), SARAH, client_id="video-app")
    assert refused.value.code == "mutuality-closed"
    assert not mycarenet.sim.attest.received


async def test_the_consent_gate_and_the_acting_practitioner_are_checked(claims: Claims) -> None:
    with pytest.raises(ConsentDenied):
        await submit(claims, app_claim("c-7", patient="marc"))
    with pytest.raises(InvalidInput) as refused:
        await submit(claims, app_claim("c-8", practitioner="koen"), SARAH)
    assert refused.value.rule == "claim.provider-is-actor"


async def test_submitting_twice_attests_once_and_answers_the_same(
    claims: Claims, mycarenet: MyCareNet
) -> None:
    first = await deliver(claims, await submit(claims, app_claim("c-9", route="eattest")))
    again = await submit(claims, app_claim("c-9", route="eattest"))
    assert again.claim_response == first.claim_response
    assert again.item.id == first.item.id
    assert len(mycarenet.sim.attest.received) == 1
    assert len(mycarenet.sim.book.attestations) == 1


async def test_a_resubmission_after_the_delivery_was_purged_answers_from_the_record(
    claims: Claims, mycarenet: MyCareNet
) -> None:
    first = await deliver(claims, await submit(claims, app_claim("c-11", route="eattest")))
    later = datetime.now(UTC) + timedelta(days=40)  # past the 30-day retention of completed items
    report = await purge(claims.db, RetentionSettings(), now=later)  # type: ignore[arg-type]
    assert report.outbox["completed"] == 1
    again = await submit(claims, app_claim("c-11", route="eattest"))
    assert again.claim_response == first.claim_response
    assert again.item is None
    assert len(mycarenet.sim.attest.received) == 1


async def test_the_same_claim_id_with_other_content_is_a_conflict(claims: Claims) -> None:
    await submit(claims, app_claim("c-10", route="eattest"))
    with pytest.raises(Conflict) as refused:
        await submit(claims, app_claim("c-10", route="eattest", fee=99.0))
    assert refused.value.code == "claim-id-reused"


async def test_a_double_click_enqueues_one_delivery(claims: Claims, mycarenet: MyCareNet) -> None:
    results = await asyncio.gather(
        *(submit(claims, app_claim("c-11", route="eattest")) for _ in range(3))
    )
    assert len({r.item.id for r in results}) == 1
    await claims.worker.run_once()  # type: ignore[attr-defined]
    async with claims.db.connect() as conn:  # type: ignore[attr-defined]
        assert (
            await conn.execute(select(func.count()).select_from(mycarenet_claims))
        ).scalar_one() == 1
    assert len(mycarenet.sim.book.attestations) == 1


@pytest.mark.parametrize("mycarenet_settings", [{"call_timeout_seconds": 0.5}], indirect=True)
async def test_after_a_timeout_once_sent_the_outcome_is_asked_never_a_second_attestation(
    claims: Claims, mycarenet: MyCareNet, clock
) -> None:  # type: ignore[no-untyped-def]
    mycarenet.sim.behaviour["100"].lose_answers = 1
    object.__setattr__(
        claims.settings, "call_timeout_seconds", 0.5
    )  # the answer is lost after processing
    submitted = await submit(claims, app_claim("c-12", route="eattest"))
    pending = await deliver(claims, submitted)
    assert pending.claim_response is None
    assert pending.item.status is Status.PENDING
    assert pending.item.last_error["code"] == "timeout"
    assert len(mycarenet.sim.book.attestations) == 1, "the mutuality did attest"
    clock.advance(timedelta(seconds=5))
    done = await deliver(claims, submitted)
    assert done.claim_response["outcome"] == "complete"
    assert len(mycarenet.sim.book.attestations) == 1, "asked again: no second attestation"
    assert len(mycarenet.sim.book.answers) == 1, "the same message id both times"
    assert done.claim_response["identifier"][0]["value"] in mycarenet.sim.book.attestations


async def test_not_enough_time_is_retried_with_the_same_message(
    claims: Claims, mycarenet: MyCareNet, clock
) -> None:  # type: ignore[no-untyped-def]
    submitted = await submit(claims, app_claim("c-13", route="eattest"))
    mycarenet.sim.behaviour["100"].not_enough_time = 1
    assert (await deliver(claims, submitted)).claim_response is None
    clock.advance(timedelta(seconds=5))
    done = await deliver(claims, submitted)
    assert done.claim_response["outcome"] == "complete"
    assert len(mycarenet.sim.book.attestations) == 1


async def test_an_efact_post_whose_answer_is_lost_is_not_posted_again(
    claims: Claims, mycarenet: MyCareNet, clock
) -> None:  # type: ignore[no-untyped-def]
    mycarenet.sim.genasync.faults.operation = "get"
    mycarenet.sim.genasync.faults.http_status = 503
    mycarenet.sim.genasync.faults.times = 1
    submitted = await submit(claims, app_claim("c-14", patient="thomas"))
    assert (await deliver(claims, submitted)).claim_response is None
    clock.advance(timedelta(seconds=5))
    done = await deliver(claims, submitted)
    assert done.claim_response["outcome"] == "complete"
    posts = [r for r in mycarenet.sim.genasync.received if r.operation == "post"]
    assert len(posts) == 1
    assert mycarenet.sim.inbox["900"].efact == [
        {"reference": mycarenet.sim.inbox["900"].efact[0]["reference"], "lines": 1}
    ]


async def test_insurability_is_asked_once_per_patient_and_date(
    claims: Claims, mycarenet: MyCareNet
) -> None:
    await submit(claims, app_claim("c-15", route="eattest"))
    await submit(claims, app_claim("c-16", route="eattest", code="101710"))
    await submit(claims, app_claim("c-17", route="eattest", serviced="2026-11-22"))
    assert len(mycarenet.sim.memberdata.received) == 2
