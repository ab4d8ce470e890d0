"""GET /fhir/Patient/$summary over HTTP: scopes, identifier rules, consent refusals, FHIR format."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import fastapi.dependencies.utils
import fastapi.routing
import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from ehealth_hub.fhir.profiles import SSIN_SYSTEM
from ehealth_hub.fixtures import sandbox
from tests.api.conftest import TokenFactory

SARAH = sandbox.practitioner("sarah").nihii
SUMMARY = "/fhir/Patient/$summary"


def _identifier(key: str) -> str:
    return f"{SSIN_SYSTEM}|{sandbox.patient(key).ssin}"


@pytest.fixture
async def reader(token_for: TokenFactory) -> dict[str, str]:
    token = await token_for("consult-app", "user/Patient.r", practitioner=SARAH)
    return {"Authorization": f"Bearer {token}"}


async def test_consented_read_returns_a_fhir_document(
    client: httpx.AsyncClient, reader: dict[str, str]
) -> None:
    response = await client.get(SUMMARY, params={"identifier": _identifier("an")}, headers=reader)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate(response.json())
    assert bundle.type == "document"
    assert bundle.entry[0].resource.get_resource_type() == "Composition"


async def test_read_without_consent_is_403_with_the_reasons(
    client: httpx.AsyncClient, reader: dict[str, str]
) -> None:
    response = await client.get(
        SUMMARY, params={"identifier": _identifier("sofie")}, headers=reader
    )
    assert response.status_code == 403
    outcome = OperationOutcome.model_validate(response.json())
    assert any("national-consent" in (i.diagnostics or "") for i in outcome.issue)


async def test_excluded_practitioner_is_refused(
    client: httpx.AsyncClient, reader: dict[str, str]
) -> None:
    response = await client.get(SUMMARY, params={"identifier": _identifier("marc")}, headers=reader)
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("identifier", "rule", "status"),
    [
        ("85031212362", "identifier.ssin-system", 400),
        ("urn:other|85031212362", "identifier.ssin-system", 400),
        (f"{SSIN_SYSTEM}|85031212363", "ssin-mod97", 422),  # well-formed, wrong check digits
        (f"{SSIN_SYSTEM}|12", "length", 400),
    ],
)
async def test_a_bad_identifier_is_refused_naming_field_and_rule(
    client: httpx.AsyncClient, reader: dict[str, str], identifier: str, rule: str, status: int
) -> None:
    response = await client.get(SUMMARY, params={"identifier": identifier}, headers=reader)
    assert response.status_code == status
    issue = response.json()["issue"][0]
    assert issue["details"]["coding"][0]["code"] == rule


async def test_a_token_without_the_summary_scope_is_403(
    client: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    token = await token_for("consult-app", "user/Consent.cruds", practitioner=SARAH)
    response = await client.get(
        SUMMARY,
        params={"identifier": _identifier("an")},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403
    assert "user/Patient.r" in response.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize("client_id", ["gp-software", "mutuality-cm", "auditor", "operator"])
async def test_system_clients_cannot_read_records(
    client: httpx.AsyncClient, token_for: TokenFactory, client_id: str
) -> None:
    from ehealth_hub.fixtures.auth_clients import SANDBOX_CLIENTS

    scopes = next(c.scopes for c in SANDBOX_CLIENTS if c.client_id == client_id)
    token = await token_for(client_id, *scopes)
    response = await client.get(
        SUMMARY,
        params={"identifier": _identifier("an")},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403


@pytest.mark.parametrize("fmt", ["xml", "application/fhir+xml", "text/html"])
async def test_format_other_than_json_is_406(
    client: httpx.AsyncClient, reader: dict[str, str], fmt: str
) -> None:
    response = await client.get(
        SUMMARY, params={"identifier": _identifier("an"), "_format": fmt}, headers=reader
    )
    assert response.status_code == 406
    OperationOutcome.model_validate(response.json())


async def test_format_json_is_accepted(client: httpx.AsyncClient, reader: dict[str, str]) -> None:
    response = await client.get(
        SUMMARY, params={"identifier": _identifier("an"), "_format": "json"}, headers=reader
    )
    assert response.status_code == 200


async def test_accept_xml_only_is_406(client: httpx.AsyncClient, reader: dict[str, str]) -> None:
    headers = {**reader, "Accept": "application/fhir+xml"}
    response = await client.get(SUMMARY, params={"identifier": _identifier("an")}, headers=headers)
    assert response.status_code == 406


async def test_capability_statement_lists_summary_and_notes(client: httpx.AsyncClient) -> None:
    statement = (await client.get("/fhir/metadata")).json()
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert resources["Patient"]["operation"][0]["name"] == "summary"
    assert {"code": "create"} in resources["DocumentReference"]["interaction"]


async def test_every_answer_says_how_long_the_hub_and_the_downstream_systems_took(
    client: httpx.AsyncClient, reader: dict[str, str]
) -> None:
    response = await client.get(SUMMARY, params={"identifier": _identifier("an")}, headers=reader)
    metrics = dict(m.strip().split(";dur=") for m in response.headers["server-timing"].split(","))
    assert set(metrics) == {"downstream", "hub"}
    assert float(metrics["hub"]) > 0
    assert float(metrics["downstream"]) >= 0


async def test_a_read_never_waits_for_the_thread_pool_to_resolve_its_dependencies(
    client: httpx.AsyncClient, reader: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # FastAPI runs a plain-function dependency (or endpoint) in its thread pool: a hand-off on
    # every request that none of ours needs, as none of them blocks
    pooled: list[str] = []

    async def recorded(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        pooled.append(getattr(func, "__name__", repr(func)))
        return func(*args, **kwargs)

    monkeypatch.setattr(fastapi.dependencies.utils, "run_in_threadpool", recorded)
    monkeypatch.setattr(fastapi.routing, "run_in_threadpool", recorded)
    response = await client.get(SUMMARY, params={"identifier": _identifier("an")}, headers=reader)
    assert response.status_code == 200
    assert pooled == []
