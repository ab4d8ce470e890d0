"""A consent gate over the in-memory services and a fresh database on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.api import create_app
from ehealth_hub.auth.assertion import client_assertion, token_request
from ehealth_hub.auth.sandbox import client_key
from ehealth_hub.auth.setup import token_endpoint
from ehealth_hub.consent.gate import ConsentGate
from ehealth_hub.consent.store import ConsentStore
from ehealth_hub.fixtures.sandbox import practitioner
from ehealth_hub.settings import ConsentSettings, Settings, load_settings
from ehealth_hub.store.db import create_engine, upgrade
from tests.connectors.conftest import (  # noqa: F401  # simulator fixtures, for test_gate_simulators
    clock,
    consent_client,
    http,
    monotonic,
    protect,
    sims,
    sleeps,
    therlink_client,
    tokens,
)
from tests.fakes.consent import (
    FakeConsentService,
    FakeExclusionService,
    FakeTherapeuticLinkService,
    sandbox_services,
)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    gate: ConsentGate
    engine: AsyncEngine
    store: ConsentStore
    clock: Clock
    consent: FakeConsentService
    links: FakeTherapeuticLinkService
    exclusions: FakeExclusionService


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await upgrade(database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def world(engine: AsyncEngine) -> World:
    consent, links, exclusions = sandbox_services()
    manual = Clock()
    store = ConsentStore()
    gate = ConsentGate(
        consent=consent,
        links=links,
        exclusions=exclusions,
        engine=engine,
        config=ConsentSettings(source_timeout_seconds=0.2),
        store=store,
        clock=manual,
    )
    return World(gate, engine, store, manual, consent, links, exclusions)


# ------------------------------------------------------------------ the API with the gate wired


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        data_dir=tmp_path / "var",
        log={"level": "warning", "json_output": True},
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        container = application.state.container
        consent, links, exclusions = sandbox_services()
        container.consent_gate = ConsentGate(
            consent=consent,
            links=links,
            exclusions=exclusions,
            engine=container.engine,
            config=settings.consent,
            store=container.consent_store,
            audit=container.audit_log,
        )
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
        yield c


async def token(
    client: httpx.AsyncClient,
    settings: Settings,
    client_id: str,
    scopes: tuple[str, ...],
    practitioner_nihii: str | None = None,
) -> dict[str, str]:
    assertion = client_assertion(client_id, client_key(client_id), token_endpoint(settings))
    form = token_request(assertion, scopes, practitioner_nihii)
    response = await client.post("/auth/token", data=form)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
async def sarah(client: httpx.AsyncClient, settings: Settings) -> dict[str, str]:
    return await token(
        client, settings, "consult-app", ("user/Consent.cruds",), practitioner("sarah").nihii
    )


@pytest.fixture
async def auditor(client: httpx.AsyncClient, settings: Settings) -> dict[str, str]:
    return await token(client, settings, "auditor", ("system/AuditEvent.rs",))
