"""A consent source that cannot be reached is an outage (503, Retry-After), never a refusal (403).

Through the API with the real gate over in-memory consent services: the patient agreed and every
fact that answered allows the read, but one source is down -> 503 with Retry-After and a transient
OperationOutcome; a refusal that an answering source decided stays 403 even during the outage.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from ehealth_hub.core.errors import DownstreamUnavailable
from ehealth_hub.fhir.profiles import SSIN_SYSTEM
from ehealth_hub.fixtures.sandbox import patient, practitioner
from ehealth_hub.services.records import RecordsService
from ehealth_hub.settings import Settings
from tests.consent._support import consent_resource
from tests.consent.conftest import token
from tests.fakes.consent import (
    FakeConsentService,
    FakeExclusionService,
    FakeTherapeuticLinkService,
)

SARAH = practitioner("sarah")
AN = patient("an")


@pytest.fixture
def links(
    app: FastAPI,
    consent_services: tuple[FakeConsentService, FakeTherapeuticLinkService, FakeExclusionService],
) -> FakeTherapeuticLinkService:
    """The Therapeutic Link service of the gate wired into ``app`` (tests make it fail)."""
    container = app.state.container
    records = RecordsService(container.consent_gate, [])  # no source is reached
    app.state.container = replace(container, records=records)
    return consent_services[1]


async def agree(app: FastAPI) -> None:
    container = app.state.container
    now = datetime.now(UTC)
    resource = consent_resource(AN.ssin, SARAH.nihii, start=now - timedelta(minutes=1))
    async with container.engine.begin() as conn:
        await container.consent_store.create(conn, resource, now)


async def read_summary(client: httpx.AsyncClient, settings: Settings) -> httpx.Response:
    headers = await token(client, settings, "consult-app", ("user/Patient.r",), SARAH.nihii)
    return await client.get(
        "/fhir/Patient/$summary",
        params={"identifier": f"{SSIN_SYSTEM}|{AN.ssin}"},
        headers=headers,
    )


async def test_a_read_while_a_consent_source_is_unreachable_is_503_with_retry_after(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    links: FakeTherapeuticLinkService,
) -> None:
    await agree(app)
    links.fail_with = DownstreamUnavailable("connection refused", system="therlink")
    response = await read_summary(client, settings)
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    issues = response.json()["issue"]
    assert issues[0]["code"] == "transient"
    assert any(i["diagnostics"].startswith("therapeutic-link: source unavailable") for i in issues)


async def test_a_refusal_decided_by_a_source_that_answered_stays_403_during_an_outage(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    links: FakeTherapeuticLinkService,
) -> None:
    links.fail_with = DownstreamUnavailable("connection refused", system="therlink")
    response = await read_summary(client, settings)  # no consultation consent recorded
    assert response.status_code == 403, response.text
    texts = [i["diagnostics"] for i in response.json()["issue"]]
    assert any(t.startswith("consultation-consent:") for t in texts)
