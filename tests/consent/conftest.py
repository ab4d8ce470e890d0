"""A consent gate over the in-memory services and a fresh database on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.api import create_app
from ehealth_hub.bootstrap import Parts, build_container
from ehealth_hub.consent.gate import ConsentGate
from ehealth_hub.consent.store import ConsentStore
from ehealth_hub.fixtures.sandbox import practitioner
from ehealth_hub.settings import ConsentSettings, Settings
from tests.api import conftest as api_fixtures
from tests.audit import conftest as audit_fixtures
from tests.connectors.conftest import (  # noqa: F401  # simulator fixtures, for test_gate_simulators
    clock,
    consent_client,
    direct,
    http,
    monotonic,
    protect,
    sims,
    sleeps,
    therlink_client,
    tokens,
    transport,
)
from tests.fakes.clock import ManualClock
from tests.fakes.consent import (
    FakeConsentService,
    FakeExclusionService,
    FakeTherapeuticLinkService,
    sandbox_services,
)


@dataclass
class Clock(ManualClock):
    """Starts at 10:00, an hour into the consultation day."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 24, 10, 0, tzinfo=UTC))


# the same fixtures as the API and audit tests: a migrated database, the hub's settings, a client
engine = audit_fixtures.engine
settings = api_fixtures.settings
client = api_fixtures.client


@dataclass
class World:
    gate: ConsentGate
    engine: AsyncEngine
    store: ConsentStore
    clock: Clock
    consent: FakeConsentService
    links: FakeTherapeuticLinkService
    exclusions: FakeExclusionService


def gate_for(world: World, *, source_timeout_seconds: float) -> ConsentGate:
    """A second gate over ``world``'s services, store and clock, with another source timeout."""
    return ConsentGate(
        consent=world.consent,
        links=world.links,
        exclusions=world.exclusions,
        engine=world.engine,
        config=ConsentSettings(source_timeout_seconds=source_timeout_seconds),
        store=world.store,
        clock=world.clock,
    )


@pytest.fixture
def world(engine: AsyncEngine) -> World:
    consent, links, exclusions = sandbox_services()
    manual = Clock()
    store = ConsentStore()
    # The settings' default timeout: a short one here made the local consent read (a database
    # round trip) time out on a loaded CI machine; timeout tests build their own gate (gate_for).
    gate = ConsentGate(
        consent=consent,
        links=links,
        exclusions=exclusions,
        engine=engine,
        config=ConsentSettings(),
        store=store,
        clock=manual,
    )
    return World(gate, engine, store, manual, consent, links, exclusions)


# ------------------------------------------------------------------ the API with the gate wired


@pytest.fixture
def consent_services() -> tuple[
    FakeConsentService, FakeTherapeuticLinkService, FakeExclusionService
]:
    """The consent gate's three services in the API tests (tests make them fail)."""
    return sandbox_services()


@pytest.fixture
async def app(
    settings: Settings,
    consent_services: tuple[FakeConsentService, FakeTherapeuticLinkService, FakeExclusionService],
) -> AsyncIterator[FastAPI]:
    consent, links, exclusions = consent_services
    parts = Parts(consent=consent, links=links, exclusions=exclusions)
    container = await build_container(settings, parts=parts)
    application = create_app(settings, container=container)
    try:
        async with application.router.lifespan_context(application):
            yield application
    finally:
        await container.aclose()


async def token(
    client: httpx.AsyncClient,
    settings: Settings,
    client_id: str,
    scopes: tuple[str, ...],
    practitioner_nihii: str | None = None,
) -> dict[str, str]:
    bearer = await api_fixtures.access_token(
        client, settings, client_id, scopes, practitioner_nihii
    )
    return {"Authorization": f"Bearer {bearer}"}


@pytest.fixture
async def sarah(client: httpx.AsyncClient, settings: Settings) -> dict[str, str]:
    return await token(
        client, settings, "consult-app", ("user/Consent.cruds",), practitioner("sarah").nihii
    )


@pytest.fixture
async def auditor(client: httpx.AsyncClient, settings: Settings) -> dict[str, str]:
    return await token(client, settings, "auditor", ("system/AuditEvent.rs",))
