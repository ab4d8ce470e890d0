"""The claims an app submitted and the mutuality's answers read back as FHIR Claim and
ClaimResponse (issue 20), by the app acting for the practitioner who billed and by the mutuality
the claim was addressed to; anyone else is answered 404 (in scope) or 403 (not). Over real HTTP
with fhirpy against the sandbox hub (MyCareNet simulators in-process)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import ForbiddenError, OperationOutcome, ResourceNotFound

from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import consultation_consent, teleconsultation_claim
from ehealth_hub.services.claim_reads import APP_CLAIM_SYSTEM
from tests.api.fhirpy.conftest import Hub, SandboxFhir

SARAH, KOEN = sandbox.practitioner("sarah"), sandbox.practitioner("koen")
AN = sandbox.patient("an")


async def _answer(app: AsyncFHIRClient, answer: dict[str, Any]) -> dict[str, Any]:
    """The ClaimResponse of a $submit answer (waiting on its Task when it was 202)."""
    for _ in range(300):
        if answer["resourceType"] == "ClaimResponse":
            return answer
        task = await app.reference("Task", answer["id"]).to_resource()
        if task["status"] in ("completed", "failed"):
            return next(c for c in task["contained"] if c["resourceType"] == "ClaimResponse")
        await asyncio.sleep(0.1)
    raise AssertionError(f"claim still unanswered: {answer}")


async def _billed(
    sandbox_fhir: SandboxFhir, claim_id: str
) -> tuple[AsyncFHIRClient, dict[str, Any]]:
    """Sarah bills a video consultation with An: (her client, the ClaimResponse she received)."""
    app = await sandbox_fhir("consult-app", SARAH.nihii)
    now = datetime.now(UTC)
    await app.resource("Consent", **consultation_consent(AN, SARAH, start=now)).save()
    claim = teleconsultation_claim(claim_id, AN, SARAH, serviced=now.date().isoformat())
    answer = await _answer(app, await app.execute("Claim/$submit", method="post", data=claim))
    assert answer["outcome"] == "complete", answer
    return app, answer


def _plain(value: Any) -> Any:
    """fhirpy's resource as plain JSON (its references become dicts again)."""
    serialize = getattr(value, "serialize", None)
    if serialize is not None:
        return serialize()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


async def test_the_app_reads_its_claim_and_the_answer_it_received(
    sandbox_fhir: SandboxFhir,
) -> None:
    app, answer = await _billed(sandbox_fhir, "reads-claim-1")

    response = await app.reference("ClaimResponse", answer["id"]).to_resource()
    assert _plain(response) == _plain(answer)
    claim = await app.reference("Claim", answer["id"]).to_resource()
    assert claim["id"] == answer["id"]
    assert {"system": APP_CLAIM_SYSTEM, "value": "reads-claim-1"} in _plain(claim["identifier"])
    assert claim["item"][0]["productOrService"]["coding"][0]["code"] == "101673"
    assert _plain(claim["patient"])["identifier"]["value"] == AN.ssin
    assert _plain(response["request"])["identifier"]["value"] == "reads-claim-1"


async def test_the_mutuality_reads_the_claims_addressed_to_it(sandbox_fhir: SandboxFhir) -> None:
    _, answer = await _billed(sandbox_fhir, "reads-claim-2")
    mutuality = await sandbox_fhir("mutuality-cm")  # serves federation 100, An's
    claim = await mutuality.reference("Claim", answer["id"]).to_resource()
    assert claim["id"] == answer["id"]
    response = await mutuality.reference("ClaimResponse", answer["id"]).to_resource()
    assert response["outcome"] == "complete"


async def test_nobody_else_reads_a_claim(sandbox_fhir: SandboxFhir) -> None:
    _, answer = await _billed(sandbox_fhir, "reads-claim-3")
    koen = await sandbox_fhir("consult-app", KOEN.nihii)
    for kind in ("Claim", "ClaimResponse"):
        with pytest.raises(ResourceNotFound):
            await koen.reference(kind, answer["id"]).to_resource()
        for who in ("gp-software", "auditor", "operator"):
            other = await sandbox_fhir(who)
            with pytest.raises(ForbiddenError, match=kind):
                await other.reference(kind, answer["id"]).to_resource()
    with pytest.raises(ResourceNotFound):
        await (
            (await sandbox_fhir("consult-app", SARAH.nihii))
            .reference("Claim", "no-such-claim")
            .to_resource()
        )


async def test_claims_and_answers_are_searched_by_patient_and_request(
    sandbox_fhir: SandboxFhir,
) -> None:
    app, first = await _billed(sandbox_fhir, "reads-claim-4")
    _, second = await _billed(sandbox_fhir, "reads-claim-5")

    claims = await app.resources("Claim").search(patient=AN.ssin).limit(1).fetch_all()
    assert [c["id"] for c in claims] == [second["id"], first["id"]]  # newest first, paged
    answers = app.resources("ClaimResponse")
    by_request = await answers.search(request=f"Claim/{first['id']}").fetch_all()
    assert [r["id"] for r in by_request] == [first["id"]]
    assert len(await answers.search(patient=AN.ssin).fetch_all()) == 2
    other = sandbox.patient("luc")
    assert await app.resources("Claim").search(patient=other.ssin).fetch_all() == []

    mutuality = await sandbox_fhir("mutuality-cm")
    seen = await mutuality.resources("Claim").search(patient=AN.ssin).fetch_all()
    assert {c["id"] for c in seen} == {first["id"], second["id"]}
    koen = await sandbox_fhir("consult-app", KOEN.nihii)
    assert await koen.resources("ClaimResponse").search(patient=AN.ssin).fetch_all() == []
    with pytest.raises(OperationOutcome, match="request"):
        await answers.search(request="Patient/123").fetch()
    with pytest.raises(OperationOutcome, match="patient"):
        await app.resources("Claim").search(patient="not-an-ssin").fetch()


async def test_a_claim_and_its_answer_read_again_unchanged_are_304_not_modified(
    sandbox_fhir: SandboxFhir, sandbox_hub: Hub
) -> None:
    app, answer = await _billed(sandbox_fhir, "reads-claim-6")
    assert answer["meta"]["versionId"] == "1"  # as $submit answered it, and as it is read back
    claim = await app.reference("Claim", answer["id"]).to_resource()
    before = dict(claim)
    await claim.refresh()  # fhirpy sends If-None-Match: <versionId>; 304 leaves it as it was
    assert dict(claim) == before

    token = await sandbox_hub.token("consult-app", SARAH.nihii)
    auth = {"Authorization": f"Bearer {token}"}
    for kind in ("Claim", "ClaimResponse"):
        path = f"/fhir/{kind}/{answer['id']}"
        first = await sandbox_hub.http.get(path, headers=auth)
        assert first.headers["etag"] == 'W/"1"', kind
        held = await sandbox_hub.http.get(path, headers={**auth, "If-None-Match": 'W/"1"'})
        assert (held.status_code, held.content) == (304, b""), kind
        modified = first.headers["last-modified"]
        since = await sandbox_hub.http.get(path, headers={**auth, "If-Modified-Since": modified})
        assert since.status_code == 304, kind
        stale = await sandbox_hub.http.get(path, headers={**auth, "If-None-Match": 'W/"0"'})
        assert stale.status_code == 200, kind


async def test_a_claims_task_focus_resolves_to_the_claim_and_either_id_finds_the_task(
    sandbox_fhir: SandboxFhir,
) -> None:
    app, answer = await _billed(sandbox_fhir, "reads-claim-7")
    tasks = app.resources("Task")
    by_hub_id = await tasks.search(focus=f"Claim/{answer['id']}").fetch_all()
    by_app_id = await tasks.search(focus="Claim/reads-claim-7").fetch_all()
    assert len(by_hub_id) == 1
    assert [t["id"] for t in by_app_id] == [t["id"] for t in by_hub_id]
    focus = by_hub_id[0]["focus"]
    assert focus.reference == f"Claim/{answer['id']}"  # what GET /fhir/Claim serves
    assert _plain(focus)["identifier"] == {"system": APP_CLAIM_SYSTEM, "value": "reads-claim-7"}
    claim = await focus.to_resource()  # fhirpy follows it
    assert claim["id"] == answer["id"]
    assert await tasks.search(focus="Claim/no-such-claim").fetch_all() == []
