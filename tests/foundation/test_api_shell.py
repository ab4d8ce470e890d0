"""The API shell: health, metrics, the CapabilityStatement, errors as OperationOutcome."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome

from ehealth_hub.api import create_app
from ehealth_hub.settings import load_settings

HUB_URL = "http://127.0.0.1:8000"
"""Where the in-process clients reach the hub: the address `serve` binds by default."""


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(load_settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=HUB_URL) as c:
            yield c


async def test_liveness_answers_200(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).status_code == 200


async def test_readiness_reports_the_database(client: httpx.AsyncClient) -> None:
    body = (await client.get("/health/ready")).json()
    assert body["checks"]["database"]["status"] == "pass"


async def test_metadata_is_an_r4_capability_statement(client: httpx.AsyncClient) -> None:
    response = await client.get("/fhir/metadata")
    assert response.headers["content-type"].startswith("application/fhir+json")
    statement = CapabilityStatement.model_validate(response.json())
    assert statement.fhirVersion == "4.0.1"


async def test_metadata_points_clients_at_the_token_endpoint(client: httpx.AsyncClient) -> None:
    security = (await client.get("/fhir/metadata")).json()["rest"][0]["security"]
    (oauth,) = security["extension"]
    assert oauth["extension"][0]["valueUri"].endswith("/auth/token")


async def test_unknown_route_is_an_operation_outcome(client: httpx.AsyncClient) -> None:
    response = await client.get("/fhir/Nothing/here")
    assert response.status_code == 404
    OperationOutcome.model_validate(response.json())


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = await client.get("/health/live", headers={"X-Request-ID": "bad id\n"})
    assert generated.headers["x-request-id"] != "bad id\n"


async def test_metrics_count_requests_per_route(client: httpx.AsyncClient) -> None:
    await client.get("/health/live")
    text = (await client.get("/metrics")).text
    assert 'ehealth_hub_http_requests_total{method="GET",route="/health/live",status="200"}' in text


async def test_readiness_fails_when_the_database_is_gone(tmp_path: Path) -> None:
    settings = load_settings(database_url="postgresql://nobody@127.0.0.1:1/none")
    from ehealth_hub.bootstrap import build_container

    container = await build_container(settings, migrate=False)
    app = create_app(settings, container=container)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=HUB_URL) as c:
            response = await c.get("/health/ready")
    await container.aclose()
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["status"] == "fail"
