"""``Consent/$explain`` answers only about the asker's own access, or to an auditor
(issue 16, finding 9): its answer names the patient's exclusions, national consent, links and
consents, so another practitioner or client may not ask about someone else."""

from __future__ import annotations

import httpx
import pytest

from ehealth_hub.fixtures.sandbox import patient, practitioner
from ehealth_hub.settings import Settings
from tests.consent.conftest import token

MARC = patient("marc")  # excluded the video GP: an explanation reveals the exclusion
SARAH, KOEN, PIETER = (practitioner(k) for k in ("sarah", "koen", "pieter"))


def _explain(actor: str, **extra: str) -> dict[str, str]:
    return {"patient": MARC.ssin, "actor": actor, "action": "read-dossier", **extra}


@pytest.fixture
async def sarah(client: httpx.AsyncClient, settings: Settings) -> dict[str, str]:
    return await token(client, settings, "consult-app", ("user/Consent.rs",), SARAH.nihii)


@pytest.fixture
async def auditor(client: httpx.AsyncClient, settings: Settings) -> dict[str, str]:
    scopes = ("system/Consent.rs", "system/AuditEvent.rs")
    return await token(client, settings, "auditor", scopes)


def _refused(response: httpx.Response) -> bool:
    body = response.json()
    codes = {c["code"] for i in body["issue"] for c in i["details"]["coding"]}
    return (
        response.status_code == 403
        and body["resourceType"] == "OperationOutcome"
        and ("explain-own-access-only" in codes)
    )


@pytest.mark.parametrize(
    "params",
    [
        _explain(PIETER.nihii, quality="doctor"),
        _explain(KOEN.nihii, quality="clinical_psychologist"),
        _explain(SARAH.nihii, quality="clinical_psychologist"),
    ],
    ids=["another-gp", "another-quality-and-person", "own-nihii-other-quality"],
)
async def test_a_practitioner_cannot_explain_another_care_providers_access(
    client: httpx.AsyncClient, sarah: dict[str, str], params: dict[str, str]
) -> None:
    response = await client.get("/fhir/Consent/$explain", params=params, headers=sarah)
    assert _refused(response), response.text
    assert "exclusion" not in response.text


async def test_a_practitioner_may_explain_their_own_access(
    client: httpx.AsyncClient, sarah: dict[str, str]
) -> None:
    response = await client.get(
        "/fhir/Consent/$explain", params=_explain(SARAH.nihii), headers=sarah
    )
    assert response.status_code == 200, response.text
    assert response.json()["parameter"][0] == {"name": "decision", "valueCode": "deny"}


async def test_an_auditor_may_explain_anyones_access_and_the_question_is_audited(
    client: httpx.AsyncClient, auditor: dict[str, str]
) -> None:
    params = _explain(PIETER.nihii, quality="doctor")
    response = await client.get("/fhir/Consent/$explain", params=params, headers=auditor)
    assert response.status_code == 200, response.text
    trail = await client.get("/fhir/AuditEvent", params={"patient": MARC.ssin}, headers=auditor)
    explains = [
        e["resource"]
        for e in trail.json()["entry"]
        if e["resource"]["subtype"][0]["code"] == "explain"
    ]
    assert len(explains) == 1
    agents = {a["who"]["identifier"]["value"] for a in explains[0]["agent"]}
    assert {"auditor", PIETER.nihii} <= agents


async def test_a_system_client_without_the_auditor_role_cannot_explain(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    gp_software = await token(client, settings, "gp-software", ("system/Task.r",))
    params = _explain(PIETER.nihii, quality="doctor")
    response = await client.get("/fhir/Consent/$explain", params=params, headers=gp_software)
    assert response.status_code == 403
