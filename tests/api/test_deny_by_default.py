"""Deny by default: every route except the public ones refuses a request without a valid token."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from fhir.resources.R4B.operationoutcome import OperationOutcome

from ehealth_hub.api.auth import PUBLIC_PATHS, require_scope
from ehealth_hub.core.errors import AuthenticationError, InvalidInput
from ehealth_hub.fixtures.auth_clients import derive_key
from tests.api.conftest import TokenFactory


def _protected(app: FastAPI) -> list[tuple[str, str]]:
    """Every operation of the app (its OpenAPI document lists each route the app serves)."""
    calls = []
    for path, operations in app.openapi()["paths"].items():
        if path not in PUBLIC_PATHS:
            concrete = re.sub(r"\{[^}]+\}", "x1", path)
            calls += [(method.upper(), concrete) for method in sorted(operations)]
    return calls


async def test_every_non_public_route_refuses_without_a_token(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    calls = _protected(app)
    assert calls, "the app has protected routes"
    for method, path in calls:
        response = await client.request(method, path)
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.headers["www-authenticate"].startswith("Bearer")
        OperationOutcome.model_validate(response.json())


async def test_every_non_public_route_refuses_a_forged_token(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    import jwt

    forged = jwt.encode(
        {"client_id": "consult-app", "scope": "user/Patient.r", "exp": 4102444800},
        derive_key("attacker"),
        algorithm="ES256",
    )
    for method, path in _protected(app):
        response = await client.request(method, path, headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401, (method, path)


async def test_public_routes_answer_without_a_token(client: httpx.AsyncClient) -> None:
    for path in ("/health/live", "/fhir/metadata", "/openapi.json", "/docs", "/metrics"):
        assert (await client.get(path)).status_code == 200, path


async def test_a_tampered_access_token_is_refused(
    app: FastAPI, client: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    token = await token_for("auditor", "system/AuditEvent.rs")
    service = app.state.container.auth
    principal = service.verify(token)
    assert principal.client_id == "auditor"
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(AuthenticationError, match="token"):
        service.verify(tampered)


def test_require_scope_refuses_malformed_scopes_at_import_time() -> None:
    with pytest.raises(InvalidInput, match="SMART v2"):
        require_scope("Patient.read")


async def test_every_route_refuses_a_token_without_its_scope(
    app: FastAPI, client: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    """The operator may only follow and replay Tasks: every other route answers 403."""
    token = await token_for("operator", "system/Task.ru")
    headers = {"Authorization": f"Bearer {token}"}
    checked = 0
    for method, path in _protected(app):
        if path.startswith("/fhir/Task"):
            continue
        response = await client.request(method, path, headers=headers)
        assert response.status_code == 403, (method, path, response.status_code)
        assert response.json()["issue"][0]["code"] == "forbidden"
        checked += 1
    assert checked >= 5
