"""Inputs are validated at the door (issue 16, finding 7): hostile identifiers and sizes are
refused 400 (malformed) or 422 (well-formed but invalid) with an OperationOutcome naming the
field and the rule, before the consent gate is asked, and nothing is stored or audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from ehealth_hub.bootstrap import Container
from ehealth_hub.fhir.profiles import SSIN_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import consultation_note
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.settings import Settings
from ehealth_hub.store.tables import audit_events, outbox
from tests.api.claims_hub import claims_hub, claims_hub_settings
from tests.api.conftest import access_token
from tests.consent._support import consent_resource
from tests.fakes.gate import SandboxFactsGate
from tests.mycarenet.claims_data import app_claim

SARAH = sandbox.practitioner("sarah")
AN = sandbox.patient("an")
MB = 1024 * 1024
SSIN_FIELD = "Claim.patient.identifier.value"
HOSTILE_SSINS = [
    ("85031212363", 422, "ssin-mod97"),  # bad check digit
    ("8503121236", 400, "length"),  # 10 digits
    ("٨٥٠٣١٢١٢٣٦٢", 400, "digits-only"),  # Arabic-Indic digits
    ("８５０３１２１２３６２", 400, "digits-only"),  # full-width digits
    ("85031212\u200b362", 400, "digits-only"),  # a zero-width space
]


@pytest.fixture
async def hub(
    tmp_path: Path, sandbox_pki: SandboxPki
) -> AsyncIterator[tuple[httpx.AsyncClient, Container, Settings]]:
    settings = claims_hub_settings(tmp_path, sandbox_pki)
    async with claims_hub(settings) as (client, container):
        yield client, container, settings


async def _sarah(client: httpx.AsyncClient, settings: Settings) -> dict[str, str]:
    scopes = ("user/Claim.c", "user/DocumentReference.c", "user/Consent.cruds")
    token = await access_token(client, settings, "consult-app", scopes, SARAH.nihii)
    return {"Authorization": f"Bearer {token}"}


async def _stored(container: Container) -> tuple[int, int]:
    """Audit records and deliveries in the database."""
    async with container.engine.connect() as conn:
        audited = (await conn.execute(select(func.count()).select_from(audit_events))).scalar()
        queued = (await conn.execute(select(func.count()).select_from(outbox))).scalar()
    return int(audited or 0), int(queued or 0)


def _issue(response: httpx.Response) -> tuple[str, str]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    issue = body["issue"][0]
    return issue["expression"][0], issue["details"]["coding"][0]["code"]


def _claim_for(ssin: str) -> dict[str, Any]:
    claim = app_claim("door-1", route="eattest")
    claim["patient"]["identifier"]["value"] = ssin
    return claim


@pytest.mark.parametrize(("ssin", "status", "rule"), HOSTILE_SSINS)
async def test_a_claim_with_a_hostile_ssin_is_refused_at_the_door(
    hub: tuple[httpx.AsyncClient, Container, Settings], ssin: str, status: int, rule: str
) -> None:
    client, container, settings = hub
    headers = await _sarah(client, settings)
    before = await _stored(container)
    response = await client.post("/fhir/Claim/$submit", json=_claim_for(ssin), headers=headers)
    assert response.status_code == status, response.text
    assert _issue(response) == (SSIN_FIELD, rule)
    gate = container.claims.gate  # the permit gate the use cases ask (claims_hub: the fake)
    assert isinstance(gate, SandboxFactsGate)
    assert gate.requests == []
    assert await _stored(container) == before


@pytest.mark.parametrize("size", [2 * MB, 10 * MB])
async def test_a_claim_with_a_huge_id_is_refused_before_it_is_read(
    hub: tuple[httpx.AsyncClient, Container, Settings], size: int
) -> None:
    client, container, settings = hub
    headers = await _sarah(client, settings)
    before = await _stored(container)
    claim = app_claim("x" * size, route="eattest")
    response = await client.post("/fhir/Claim/$submit", json=claim, headers=headers)
    assert response.status_code == 400, response.text[:300]
    assert _issue(response) == ("body", "size")
    assert await _stored(container) == before


@pytest.mark.parametrize(
    ("claim_id", "rule"), [("a b", "fhir-id"), ("x" * 65, "fhir-id"), ("é", "fhir-id")]
)
async def test_a_claim_id_must_be_a_fhir_id(
    hub: tuple[httpx.AsyncClient, Container, Settings], claim_id: str, rule: str
) -> None:
    client, _, settings = hub
    headers = await _sarah(client, settings)
    claim = app_claim(claim_id, route="eattest")
    response = await client.post("/fhir/Claim/$submit", json=claim, headers=headers)
    assert response.status_code == 400, response.text
    assert _issue(response) == ("Claim.id", rule)


async def test_a_provider_nihii_with_a_bad_check_digit_is_422(
    hub: tuple[httpx.AsyncClient, Container, Settings],
) -> None:
    client, _, settings = hub
    headers = await _sarah(client, settings)
    claim = app_claim("door-2", route="eattest")
    claim["provider"]["identifier"]["value"] = SARAH.nihii[:6] + "00" + SARAH.nihii[8:]
    response = await client.post("/fhir/Claim/$submit", json=claim, headers=headers)
    assert response.status_code == 422, response.text
    assert _issue(response) == ("Claim.provider.identifier.value", "nihii-mod97")


@pytest.mark.parametrize(("ssin", "status", "rule"), HOSTILE_SSINS)
async def test_a_note_for_a_hostile_ssin_is_refused_at_the_door(
    hub: tuple[httpx.AsyncClient, Container, Settings], ssin: str, status: int, rule: str
) -> None:
    client, container, settings = hub
    headers = await _sarah(client, settings)
    before = await _stored(container)
    note = consultation_note(AN, SARAH, "fever", now=datetime(2026, 11, 23, tzinfo=UTC))
    note["contained"][0]["identifier"][0]["value"] = ssin
    response = await client.post("/fhir/DocumentReference", json=note, headers=headers)
    assert response.status_code == status, response.text
    field, code = _issue(response)
    assert (field.endswith(".identifier[0].value"), code) == (True, rule)
    assert await _stored(container) == before


@pytest.mark.parametrize(("ssin", "status", "rule"), HOSTILE_SSINS)
async def test_a_hostile_patient_search_parameter_is_refused_naming_it(
    hub: tuple[httpx.AsyncClient, Container, Settings], ssin: str, status: int, rule: str
) -> None:
    client, container, settings = hub
    headers = await _sarah(client, settings)
    before = await _stored(container)
    response = await client.get(
        "/fhir/Consent", params={"patient": f"{SSIN_SYSTEM}|{ssin}"}, headers=headers
    )
    assert response.status_code == status, response.text
    assert _issue(response) == ("patient", rule)
    assert await _stored(container) == before


async def test_an_oversized_token_request_is_an_oauth_error(
    hub: tuple[httpx.AsyncClient, Container, Settings],
) -> None:
    client, _, _ = hub
    response = await client.post("/auth/token", data={"client_assertion": "x" * (2 * MB)})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_a_consent_for_a_full_width_ssin_is_refused_at_the_door(
    hub: tuple[httpx.AsyncClient, Container, Settings],
) -> None:
    client, container, settings = hub
    headers = await _sarah(client, settings)
    before = await _stored(container)
    consent = consent_resource(AN.ssin, SARAH.nihii, start=datetime.now(UTC))
    consent["patient"]["identifier"]["value"] = HOSTILE_SSINS[3][0]
    response = await client.post("/fhir/Consent", json=consent, headers=headers)
    assert response.status_code == 400, response.text
    assert _issue(response) == ("Consent.patient.identifier.value", "digits-only")
    assert await _stored(container) == before


async def test_an_explain_recipient_with_a_bad_check_digit_is_422_naming_it(
    hub: tuple[httpx.AsyncClient, Container, Settings],
) -> None:
    client, _, settings = hub
    headers = await _sarah(client, settings)
    params = {
        "patient": AN.ssin,
        "actor": SARAH.nihii,
        "action": "write-note",
        "recipient": SARAH.nihii[:6] + "00" + SARAH.nihii[8:],
    }
    response = await client.get("/fhir/Consent/$explain", params=params, headers=headers)
    assert response.status_code == 422, response.text
    assert _issue(response) == ("recipient", "nihii-mod97")
