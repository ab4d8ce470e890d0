"""POST /auth/token: SMART backend services client credentials with a JWT client assertion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from ehealth_hub.auth.assertion import client_assertion, token_request
from ehealth_hub.auth.urls import token_endpoint
from ehealth_hub.fixtures.auth_clients import client_key, derive_key
from ehealth_hub.settings import Settings

SARAH = "11530231003"


def _assertion(settings: Settings, client_id: str = "consult-app", **kwargs: object) -> str:
    return client_assertion(client_id, client_key(client_id), token_endpoint(settings), **kwargs)  # type: ignore[arg-type]


async def _post(client: httpx.AsyncClient, form: dict[str, str]) -> httpx.Response:
    return await client.post("/auth/token", data=form)


async def test_issues_a_short_lived_token_with_scopes_and_practitioner(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    form = token_request(_assertion(settings), ["user/Patient.r"], SARAH)
    response = await _post(client, form)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["scope"] == "user/Patient.r"
    assert 0 < body["expires_in"] <= 300
    assert response.headers["cache-control"] == "no-store"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["practitioner"] == SARAH
    assert claims["quality"] == "doctor"
    assert claims["client_id"] == "consult-app"


async def test_refuses_a_reused_jti(client: httpx.AsyncClient, settings: Settings) -> None:
    form = token_request(_assertion(settings, jti="once"), ["user/Patient.r"], SARAH)
    assert (await _post(client, form)).status_code == 200
    replay = await _post(client, form)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


async def test_refuses_an_assertion_living_longer_than_five_minutes(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assertion = _assertion(settings, lifetime=timedelta(minutes=10))
    response = await _post(client, token_request(assertion, ["user/Patient.r"], SARAH))
    assert response.status_code == 401
    assert "5 minutes" in response.json()["error_description"]


async def test_refuses_an_expired_assertion(client: httpx.AsyncClient, settings: Settings) -> None:
    old = datetime.now(UTC) - timedelta(minutes=10)
    assertion = _assertion(settings, now=old)
    response = await _post(client, token_request(assertion, ["user/Patient.r"], SARAH))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_refuses_an_assertion_for_another_audience(
    client: httpx.AsyncClient,
) -> None:
    assertion = client_assertion(
        "consult-app", client_key("consult-app"), "https://elsewhere.example/token"
    )
    response = await _post(client, token_request(assertion, ["user/Patient.r"], SARAH))
    assert response.status_code == 401


async def test_refuses_an_assertion_signed_with_another_key(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    forged = client_assertion("consult-app", derive_key("attacker"), token_endpoint(settings))
    response = await _post(client, token_request(forged, ["user/Patient.r"], SARAH))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_refuses_an_unknown_client(client: httpx.AsyncClient, settings: Settings) -> None:
    assertion = client_assertion("nobody", derive_key("nobody"), token_endpoint(settings))
    response = await _post(client, token_request(assertion, ["user/Patient.r"], SARAH))
    assert response.status_code == 401


async def test_refuses_scopes_the_client_is_not_registered_for(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    form = token_request(_assertion(settings), ["system/AuditEvent.rs"], SARAH)
    response = await _post(client, form)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_refuses_a_malformed_scope(client: httpx.AsyncClient, settings: Settings) -> None:
    response = await _post(client, token_request(_assertion(settings), ["patient.read"], SARAH))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_refuses_user_scopes_without_a_practitioner(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await _post(client, token_request(_assertion(settings), ["user/Patient.r"]))
    assert response.status_code == 400
    assert "practitioner" in response.json()["error_description"]


async def test_refuses_a_practitioner_to_a_client_that_may_not_act_for_one(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assertion = _assertion(settings, "gp-software")
    response = await _post(client, token_request(assertion, ["system/Task.r"], SARAH))
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


async def test_refuses_a_practitioner_not_enrolled_at_the_hub(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    unknown = "10000106003"  # valid check digits, not enrolled
    response = await _post(client, token_request(_assertion(settings), ["user/Patient.r"], unknown))
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("grant_type", "password", "unsupported_grant_type"),
        ("client_assertion_type", "urn:other", "invalid_request"),
        ("client_assertion", "", "invalid_request"),
    ],
)
async def test_refuses_a_malformed_token_request(
    client: httpx.AsyncClient, settings: Settings, field: str, value: str, error: str
) -> None:
    form = token_request(_assertion(settings), ["user/Patient.r"], SARAH)
    form[field] = value
    response = await _post(client, form)
    assert response.status_code == 400
    assert response.json()["error"] == error


async def test_system_client_gets_a_token_without_practitioner(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    form = token_request(_assertion(settings, "auditor"), ["system/AuditEvent.rs"])
    response = await _post(client, form)
    assert response.status_code == 200
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert "practitioner" not in claims


async def test_smart_configuration_names_the_token_endpoint(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    body = (await client.get("/fhir/.well-known/smart-configuration")).json()
    assert body["token_endpoint"] == token_endpoint(settings)
    assert "private_key_jwt" in body["token_endpoint_auth_methods_supported"]


async def test_refuses_an_oversized_jti(client: httpx.AsyncClient, settings: Settings) -> None:
    form = token_request(_assertion(settings, jti="x" * 300), ["user/Patient.r"], SARAH)
    response = await _post(client, form)
    assert response.status_code == 401
    assert "jti" in response.json()["error_description"]
