"""POST /fhir/Claim/$submit through the hub's API (auth, idempotency, error rendering) with the
MyCareNet adapters on the simulator and the in-process delivery worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.task import Task

from ehealth_hub.api import create_app
from ehealth_hub.auth.assertion import client_assertion, token_request
from ehealth_hub.auth.urls import token_endpoint
from ehealth_hub.bootstrap import Container, Parts, build_container
from ehealth_hub.fixtures.auth_clients import client_key
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.fixtures.sim_mycarenet import MyCareNetSimulator
from ehealth_hub.settings import Settings, load_settings
from tests.fakes.gate import SandboxFactsGate
from tests.mycarenet.claims_data import app_claim, recently
from tests.mycarenet.conftest import FEDERATION_ROUTE_RULES, actor

HUB_URL = "http://127.0.0.1:8000"
"""Where the in-process clients reach the hub: the address `serve` binds by default."""

SARAH = actor("sarah")


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest, sandbox_pki: SandboxPki) -> Settings:
    wait = getattr(request, "param", 5.0)
    return load_settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        data_dir=tmp_path / "var",
        log={"level": "warning", "json_output": True},
        trust={"pki_dir": sandbox_pki.directory},
        mycarenet={"wait_seconds": wait, "billing_rules_file": FEDERATION_ROUTE_RULES},
    )


@pytest.fixture
async def container(settings: Settings) -> AsyncIterator[Container]:
    """The hub as bootstrap wires it (MyCareNet on the in-process simulators), with the sandbox
    facts gate standing in for the consent gate (covered by its own tests)."""
    built = await build_container(settings, parts=Parts(gate=SandboxFactsGate()))
    try:
        yield built
    finally:
        await built.aclose()


def simulator(container: Container) -> MyCareNetSimulator:
    assert container.connectors is not None
    sim: MyCareNetSimulator = container.connectors.simulators.mycarenet
    return sim


@pytest.fixture
async def app(settings: Settings, container: Container) -> AsyncIterator[FastAPI]:
    application = create_app(settings, container=container)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=HUB_URL) as c:
        yield c


@pytest.fixture
async def headers(client: httpx.AsyncClient, settings: Settings) -> dict[str, str]:
    assertion = client_assertion("consult-app", client_key("consult-app"), token_endpoint(settings))
    response = await client.post(
        "/auth/token", data=token_request(assertion, ("user/Claim.c", "user/Task.r"), SARAH.nihii)
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_submit_refuses_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/fhir/Claim/$submit", json=app_claim("c-1", serviced=recently()))
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_submit_answers_the_claim_response_within_the_wait(
    client: httpx.AsyncClient, headers: dict[str, str], container: Container
) -> None:
    response = await client.post(
        "/fhir/Claim/$submit",
        json=app_claim("c-2", serviced=recently(), route="eattest"),
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    ClaimResponse.model_validate(body)
    assert body["outcome"] == "complete"
    again = await client.post(
        "/fhir/Claim/$submit",
        json=app_claim("c-2", serviced=recently(), route="eattest"),
        headers=headers,
    )
    assert again.json() == body
    assert len(simulator(container).book.attestations) == 1


async def test_claim_as_parameters_is_accepted(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "resource",
                "resource": app_claim("c-3", serviced=recently(), patient="thomas"),
            }
        ],
    }
    response = await client.post("/fhir/Claim/$submit", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["insurer"]["identifier"]["value"] == "900"


@pytest.mark.parametrize("settings", [0.0], indirect=True)
async def test_without_time_to_wait_the_answer_is_202_with_the_task(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post(
        "/fhir/Claim/$submit",
        json=app_claim("c-4", serviced=recently(), route="eattest"),
        headers=headers,
    )
    assert response.status_code == 202, response.text
    Task.model_validate(response.json())
    assert response.headers["location"] == f"{HUB_URL}/fhir/Task/{response.json()['id']}"


async def test_an_uninsured_patient_is_a_422_naming_the_reason(
    client: httpx.AsyncClient, headers: dict[str, str], container: Container
) -> None:
    response = await client.post(
        "/fhir/Claim/$submit",
        json=app_claim("c-5", serviced=recently(), patient="emma"),
        headers=headers,
    )
    assert response.status_code == 422, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "not insured" in outcome["issue"][0]["diagnostics"]
    assert not simulator(container).attest.received


async def test_a_bad_claim_is_refused_naming_the_field_and_rule(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post(
        "/fhir/Claim/$submit",
        json=app_claim("c-6", serviced=recently(), code="101032"),
        headers=headers,
    )
    assert response.status_code == 422, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Claim.item[0].productOrService"]
    assert issue["details"]["text"] == "claim.teleconsultation-code"
