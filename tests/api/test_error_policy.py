"""One error policy (README "Errors"): each status of the table, as an OperationOutcome whose
issue.code is of the FHIR IssueType value set, naming the field and the rule; content negotiation
(406, 415) and the response media type. The outage (503) and consent (403) cases against the
simulators are in tests/api/fhirpy/test_outages.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, Final

import httpx
import orjson
import pytest
from fastapi import FastAPI
from starlette.requests import Request

from ehealth_hub.api.idempotency import request_digest
from ehealth_hub.fhir.profiles import NIHDI_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import (
    consultation_consent,
    consultation_note,
    teleconsultation_claim,
)
from tests.api.conftest import TokenFactory

SARAH = sandbox.practitioner("sarah")
AN = sandbox.patient("an")
ISSUE_TYPES: Final = frozenset(
    [
        "invalid",
        "structure",
        "required",
        "value",
        "invariant",
        "security",
        "login",
        "unknown",
        "expired",
        "forbidden",
        "suppressed",
        "processing",
        "not-supported",
        "duplicate",
        "multiple-matches",
        "not-found",
        "deleted",
        "too-long",
        "code-invalid",
        "extension",
        "too-costly",
        "business-rule",
        "conflict",
        "transient",
        "lock-error",
        "no-store",
        "exception",
        "timeout",
        "incomplete",
        "throttled",
        "informational",
    ]
)
"""FHIR R4 4.0.1 IssueType (valueset-issue-type.html)."""
FHIR_JSON_UTF8: Final = "application/fhir+json; charset=utf-8"


@pytest.fixture
async def sarah(token_for: TokenFactory) -> dict[str, str]:
    token = await token_for(
        "consult-app",
        "user/Consent.cruds",
        "user/Claim.c",
        "user/DocumentReference.c",
        "user/Task.r",
        practitioner=SARAH.nihii,
    )
    return {"Authorization": f"Bearer {token}"}


def _issue(response: httpx.Response, status: int) -> dict[str, Any]:
    """The first issue of the OperationOutcome ``response`` must be, with ``status``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == FHIR_JSON_UTF8
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert {i["code"] for i in body["issue"]} <= ISSUE_TYPES
    issue: dict[str, Any] = body["issue"][0]
    assert issue["severity"] == "error"
    return issue


def _rule(issue: dict[str, Any]) -> str:
    return str(issue["details"]["coding"][0]["code"])


async def test_a_body_that_is_not_json_is_400_naming_the_body(
    client: httpx.AsyncClient, sarah: dict[str, str]
) -> None:
    headers = {**sarah, "Content-Type": "application/fhir+json"}
    response = await client.post("/fhir/Consent", content=b'{"resourceType":', headers=headers)
    issue = _issue(response, 400)
    assert (issue["code"], issue["expression"], _rule(issue)) == ("invalid", ["body"], "json")


async def test_a_bad_parameter_is_400_naming_it(
    client: httpx.AsyncClient, sarah: dict[str, str]
) -> None:
    issue = _issue(await client.get("/fhir/Consent?patient=12", headers=sarah), 400)
    assert issue["expression"] == ["patient"]
    explain = f"/fhir/Consent/$explain?patient={AN.ssin}&actor={SARAH.nihii}&action=steal"
    assert _issue(await client.get(explain, headers=sarah), 400)["expression"] == ["action"]


async def test_without_a_token_it_is_401_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/fhir/Consent/x")
    assert _issue(response, 401)["code"] == "login"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_missing_scope_is_403_forbidden_naming_the_scope(
    client: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    token = await token_for("gp-software", "system/DocumentReference.rs")
    response = await client.post(
        "/fhir/Consent",
        json=consultation_consent(AN, SARAH, start=datetime.now(UTC)),
        headers={"Authorization": f"Bearer {token}"},
    )
    issue = _issue(response, 403)
    assert issue["code"] == "forbidden"
    assert "Consent" in issue["diagnostics"]


async def test_an_unknown_resource_or_route_is_404_not_found(
    client: httpx.AsyncClient, sarah: dict[str, str]
) -> None:
    assert _issue(await client.get("/fhir/Consent/nope", headers=sarah), 404)["code"] == (
        "not-found"
    )
    assert _issue(await client.get("/fhir/Nothing", headers=sarah), 404)["code"] == "not-found"


async def test_a_method_a_route_does_not_have_is_405_not_supported(
    client: httpx.AsyncClient, sarah: dict[str, str]
) -> None:
    response = await client.delete("/fhir/Claim/$submit", headers=sarah)
    assert _issue(response, 405)["code"] == "not-supported"


@pytest.mark.parametrize(
    ("query", "headers", "field"),
    [
        ("?_format=xml", {}, "_format"),
        ("", {"Accept": "application/fhir+xml"}, "Accept"),
    ],
    ids=["_format", "Accept"],
)
async def test_a_format_other_than_fhir_json_is_406_naming_the_parameter(
    client: httpx.AsyncClient,
    sarah: dict[str, str],
    query: str,
    headers: dict[str, str],
    field: str,
) -> None:
    response = await client.get(f"/fhir/Consent/x{query}", headers={**sarah, **headers})
    issue = _issue(response, 406)
    assert (issue["code"], issue["expression"]) == ("not-supported", [field])


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded", None]
)
async def test_a_body_not_declared_fhir_json_is_415_naming_content_type(
    client: httpx.AsyncClient, sarah: dict[str, str], content_type: str | None
) -> None:
    consent = consultation_consent(AN, SARAH, start=datetime.now(UTC))
    body = httpx.Request("POST", "http://hub", json=consent).content
    headers = {**sarah, **({"Content-Type": content_type} if content_type else {})}
    response = await client.post("/fhir/Consent", content=body, headers=headers)
    issue = _issue(response, 415)
    assert (issue["code"], issue["expression"], _rule(issue)) == (
        "not-supported",
        ["Content-Type"],
        "content-type-fhir-json",
    )


@pytest.mark.parametrize(
    "content_type",
    ["application/fhir+json", "application/json", "application/fhir+json; charset=utf-8"],
)
async def test_fhir_json_bodies_are_accepted_with_or_without_charset(
    client: httpx.AsyncClient, sarah: dict[str, str], content_type: str
) -> None:
    body = httpx.Request(
        "POST", "http://hub", json=consultation_consent(AN, SARAH, start=datetime.now(UTC))
    ).content
    response = await client.post(
        "/fhir/Consent", content=body, headers={**sarah, "Content-Type": content_type}
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == FHIR_JSON_UTF8


async def test_replaying_a_finished_delivery_is_409_conflict(
    client: httpx.AsyncClient, sarah: dict[str, str], token_for: TokenFactory
) -> None:
    note = consultation_note(AN, SARAH, "Sore throat; rest.", now=datetime.now(UTC))
    accepted = await client.post("/fhir/DocumentReference", json=note, headers=sarah)
    location = accepted.headers["location"]
    for _ in range(100):
        if (await client.get(location, headers=sarah)).json()["status"] == "completed":
            break
        await asyncio.sleep(0.05)
    operator = {"Authorization": f"Bearer {await token_for('operator', 'system/Task.ru')}"}
    response = await client.post(f"{location}/$replay", headers=operator)
    issue = _issue(response, 409)
    assert (issue["code"], _rule(issue)) == ("conflict", "replay-failed-or-dead-only")


async def test_a_stale_if_match_is_412_precondition_failed(
    client: httpx.AsyncClient, sarah: dict[str, str]
) -> None:
    created = await client.post(
        "/fhir/Consent",
        json=consultation_consent(AN, SARAH, start=datetime.now(UTC)),
        headers=sarah,
    )
    url = f"/fhir/Consent/{created.json()['id']}"
    issue = _issue(await client.delete(url, headers={**sarah, "If-Match": 'W/"2"'}), 412)
    assert (issue["code"], _rule(issue)) == ("conflict", "if-match-stale")


async def test_an_invalid_consent_and_an_invalid_claim_are_both_422(
    client: httpx.AsyncClient, sarah: dict[str, str]
) -> None:
    consent = consultation_consent(AN, SARAH, start=datetime.now(UTC))
    consent["provision"]["purpose"] = [{"system": "urn:nowhere", "code": "MARKETING"}]
    claim = teleconsultation_claim(
        "c-422", AN, SARAH, serviced=datetime.now(UTC).date().isoformat()
    )
    claim["item"][0]["productOrService"]["coding"][0]["code"] = "999999"
    refused = [
        _issue(await client.post("/fhir/Consent", json=consent, headers=sarah), 422),
        _issue(await client.post("/fhir/Claim/$submit", json=claim, headers=sarah), 422),
    ]
    assert [i["code"] for i in refused] == ["invalid", "invalid"]
    assert all(i["expression"] and i["details"]["coding"] for i in refused)
    assert refused[1]["expression"] == ["Claim.item[0].productOrService"]


async def test_an_update_that_is_not_a_revocation_is_422_naming_the_status(
    client: httpx.AsyncClient, sarah: dict[str, str]
) -> None:
    created = (
        await client.post(
            "/fhir/Consent",
            json=consultation_consent(AN, SARAH, start=datetime.now(UTC)),
            headers=sarah,
        )
    ).json()
    response = await client.put(f"/fhir/Consent/{created['id']}", json=created, headers=sarah)
    issue = _issue(response, 422)
    assert (issue["expression"], _rule(issue)) == (["Consent.status"], "revocation-only")


async def test_explain_takes_the_nihii_as_system_and_value_or_bare(
    client: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    token = await token_for("consult-app", "user/Consent.rs", practitioner=SARAH.nihii)
    headers = {"Authorization": f"Bearer {token}"}
    answers = []
    for actor in (SARAH.nihii, f"{NIHDI_SYSTEM}|{SARAH.nihii}"):
        params = {"patient": AN.ssin, "actor": actor, "action": "read-dossier"}
        answers.append(await client.get("/fhir/Consent/$explain", params=params, headers=headers))
    assert [a.status_code for a in answers] == [200, 200]
    params = {"patient": AN.ssin, "actor": f"urn:other|{SARAH.nihii}", "action": "read-dossier"}
    other = await client.get("/fhir/Consent/$explain", params=params, headers=headers)
    assert _issue(other, 400)["expression"] == ["actor"]


async def test_a_key_whose_first_request_is_still_running_is_409_conflict(
    client: httpx.AsyncClient, sarah: dict[str, str], app: FastAPI
) -> None:
    body = orjson.dumps(consultation_consent(AN, SARAH, start=datetime.now(UTC)))
    scope = {"type": "http", "method": "POST", "path": "/fhir/Consent", "query_string": b""}
    digest = request_digest(Request({**scope, "headers": []}), body)
    store = app.state.container.idempotency
    running = await store.reserve("consult-app", "busy", digest, datetime.now(UTC))
    assert running is None, "reserved: as if another process were running the first request"
    headers = {**sarah, "Content-Type": "application/fhir+json", "Idempotency-Key": "busy"}
    response = await client.post("/fhir/Consent", content=body, headers=headers)
    issue = _issue(response, 409)
    assert (issue["code"], _rule(issue)) == ("conflict", "idempotency-key-in-flight")
