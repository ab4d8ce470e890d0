"""POST /fhir/CoverageEligibilityRequest/$submit: the patient's insurability before billing, through
the hub's API (auth, error rendering) and the claims use case, with MemberData on the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse

from ehealth_hub.api import create_app
from ehealth_hub.auth.assertion import client_assertion, token_request
from ehealth_hub.auth.urls import token_endpoint
from ehealth_hub.bootstrap import Container, build_container
from ehealth_hub.fhir.profiles import SSIN_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.auth_clients import client_key
from ehealth_hub.fixtures.consultation import consultation_consent
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.fixtures.sim_mycarenet import MyCareNetSimulator
from ehealth_hub.mappings import mycarenet_eligibility as eligibility
from ehealth_hub.mappings.mycarenet_eligibility import STATUS_SYSTEM
from ehealth_hub.settings import Settings, load_settings
from tests.mycarenet.claims_data import recently
from tests.mycarenet.conftest import actor

HUB_URL = "http://127.0.0.1:8000"
"""Where the in-process clients reach the hub: the address `serve` binds by default."""

SARAH = actor("sarah")
URL = "/fhir/CoverageEligibilityRequest/$submit"
UNKNOWN_SSIN = "82020212301"  # check digits valid, nobody in the sandbox


def request(
    patient: str = "an", *, serviced: str | None = None, purpose: tuple[str, ...] = ("validation",)
) -> dict[str, Any]:
    """A CoverageEligibilityRequest; served two days ago unless said (the container's simulators
    follow the real clock, and so does the sandbox's insurance period)."""
    ssin = sandbox.patient(patient).ssin if len(patient) < 11 else patient
    return {
        "resourceType": "CoverageEligibilityRequest",
        "status": "active",
        "purpose": list(purpose),
        "patient": {"identifier": {"system": SSIN_SYSTEM, "value": ssin}},
        "servicedDate": serviced or recently(),
        "created": datetime.now(UTC).isoformat(),
    }


@pytest.fixture
def settings(tmp_path: Path, sandbox_pki: SandboxPki) -> Settings:
    return load_settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        data_dir=tmp_path / "var",
        log={"level": "warning", "json_output": True},
        trust={"pki_dir": sandbox_pki.directory},
    )


@pytest.fixture
async def container(settings: Settings) -> AsyncIterator[Container]:
    built = await build_container(settings)
    try:
        yield built
    finally:
        await built.aclose()


@pytest.fixture
async def client(settings: Settings, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(settings, container=container)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=HUB_URL) as c,
    ):
        yield c


async def token(client: httpx.AsyncClient, settings: Settings, *scopes: str) -> dict[str, str]:
    assertion = client_assertion("consult-app", client_key("consult-app"), token_endpoint(settings))
    response = await client.post("/auth/token", data=token_request(assertion, scopes, SARAH.nihii))
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
async def headers(client: httpx.AsyncClient, settings: Settings) -> dict[str, str]:
    """Sarah's token, after the app recorded the consultation consents the gate asks for."""
    consents = await token(client, settings, "user/Consent.cruds")
    for key in ("an", "luc", "emma"):
        body = consultation_consent(
            sandbox.patient(key), sandbox.practitioner("sarah"), start=datetime.now(UTC)
        )
        response = await client.post("/fhir/Consent", json=body, headers=consents)
        assert response.status_code == 201, response.text
    return await token(client, settings, "user/CoverageEligibilityRequest.c")


def simulator(container: Container) -> MyCareNetSimulator:
    assert container.connectors is not None
    sim: MyCareNetSimulator = container.connectors.simulators.mycarenet
    return sim


def coverage_of(body: dict[str, Any]) -> dict[str, Any]:
    reference = body["insurance"][0]["coverage"]["reference"]
    return next(r for r in body["contained"] if f"#{r['id']}" == reference)


def extension(resource: dict[str, Any], name: str) -> object:
    return next(e["valueBoolean"] for e in resource["extension"] if e["url"].endswith(name))


async def test_an_insured_patient_with_third_party_payment(
    client: httpx.AsyncClient, headers: dict[str, str], container: Container
) -> None:
    response = await client.post(URL, json=request("an"), headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    CoverageEligibilityResponse.model_validate(body)
    assert (body["outcome"], body["insurance"][0]["inforce"]) == ("complete", True)
    assert body["insurer"]["identifier"]["value"] == "134"
    coverage = coverage_of(body)
    assert coverage["payor"][0]["identifier"]["value"] == "134"
    assert coverage["subscriberId"] == "13400012345"
    assert [(c["name"], c["value"]) for c in coverage["class"]] == [("CT1", "110"), ("CT2", "110")]
    assert extension(coverage, "third-party-payer") is True
    assert extension(coverage, "medical-house") is False
    year = date.today().year  # the sandbox insures the previous and the current calendar year
    assert coverage["period"] == {"start": f"{year - 1}-01-01", "end": f"{year}-12-31"}
    assert "third-party payment applies" in body["disposition"]
    again = await client.post(URL, json=request("an"), headers=headers)
    assert coverage_of(again.json()) == coverage
    assert simulator(container).inbox["100"].memberdata == ["2362"], "cached per patient and date"


async def test_a_medical_house_member_is_insured_and_says_so(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post(
        URL, json=request("luc", purpose=("validation", "benefits")), headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    CoverageEligibilityResponse.model_validate(body)
    assert body["purpose"] == ["validation", "benefits"]
    coverage = coverage_of(body)
    assert coverage["payor"][0]["identifier"]["value"] == "306"
    assert extension(coverage, "medical-house") is True
    assert "medical-house member" in body["disposition"]


@pytest.mark.parametrize(
    ("patient", "serviced", "code"),
    [
        ("emma", recently(), "not-insured"),
        ("an", f"{date.today().year - 2}-06-01", "not-insured"),
    ],
)
async def test_a_patient_without_insurability_gets_an_explicit_error(
    client: httpx.AsyncClient, headers: dict[str, str], patient: str, serviced: str, code: str
) -> None:
    response = await client.post(URL, json=request(patient, serviced=serviced), headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    CoverageEligibilityResponse.model_validate(body)
    assert body["outcome"] == "error"
    assert "insurance" not in body
    assert "contained" not in body
    codings = [c for e in body["error"] for c in e["code"]["coding"]]
    assert codings[0]["system"] == STATUS_SYSTEM
    assert codings[0]["code"] == code


async def test_without_the_eligibility_scope_the_request_is_forbidden(
    client: httpx.AsyncClient, settings: Settings, container: Container
) -> None:
    claim_only = await token(client, settings, "user/Claim.c")
    response = await client.post(URL, json=request("an"), headers=claim_only)
    assert response.status_code == 403, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    assert container.connectors is not None
    started = container.connectors.simulators  # built on first downstream call only
    assert started is None or started.mycarenet.inbox["100"].memberdata == []


@pytest.mark.parametrize(
    ("change", "field", "status"),
    [
        ({"resourceType": "Claim"}, "resourceType", 400),
        ({"servicedDate": None}, "CoverageEligibilityRequest.servicedDate", 400),
        ({"servicedDate": "23/11/2026"}, "CoverageEligibilityRequest.servicedDate", 400),
        ({"purpose": ["discovery"]}, "CoverageEligibilityRequest.purpose", 400),
        (
            {"patient": {"reference": "Patient/1"}},
            "CoverageEligibilityRequest.patient.identifier",
            400,
        ),
        (
            {"patient": {"identifier": {"system": SSIN_SYSTEM, "value": "85031212363"}}},
            "CoverageEligibilityRequest.patient.identifier.value",
            422,  # well-formed, wrong check digits
        ),
    ],
)
async def test_a_bad_body_is_refused_naming_the_field(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    change: dict[str, Any],
    field: str,
    status: int,
) -> None:
    body = {k: v for k, v in {**request("an"), **change}.items() if v is not None}
    response = await client.post(URL, json=body, headers=headers)
    assert response.status_code == status, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert field in outcome["issue"][0]["expression"]


async def test_the_operation_is_in_the_capability_statement(client: httpx.AsyncClient) -> None:
    statement = (await client.get("/fhir/metadata")).json()
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    operations = resources["CoverageEligibilityRequest"]["operation"]
    assert [o["name"] for o in operations] == ["submit"]


async def test_is_refused_by_the_consent_gate_before_mycarenet_is_asked(
    client: httpx.AsyncClient, headers: dict[str, str], container: Container
) -> None:
    assert container.connectors is not None
    await container.connectors.get()  # the stack (and its simulators) is built on first use
    asked = len(simulator(container).memberdata.received)
    response = await client.post(URL, json=request("nadia"), headers=headers)
    assert response.status_code == 403, response.text
    texts = [i["diagnostics"] for i in response.json()["issue"]]
    assert any(t.startswith("therapeutic-link:") for t in texts)
    assert len(simulator(container).memberdata.received) == asked


async def test_an_unknown_ssin_is_an_explicit_error(container: Container) -> None:
    assert container.claims is not None
    facts = await container.claims.insurability(SARAH, UNKNOWN_SSIN, date.fromisoformat(recently()))
    query = eligibility.read_request(request(UNKNOWN_SSIN))
    body = eligibility.response(
        query, facts, rid="r-1", requestor_nihii=SARAH.nihii, now=datetime.now(UTC)
    )
    assert body["outcome"] == "error"
    assert body["error"][0]["code"]["coding"][0]["code"] == "unknown-care-receiver"
