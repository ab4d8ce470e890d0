"""The API under test: the hub app on a fresh SQLite database with the sandbox clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from ehealth_hub.api import create_app
from ehealth_hub.auth.assertion import client_assertion, token_request
from ehealth_hub.auth.urls import token_endpoint
from ehealth_hub.bootstrap import Container, build_container
from ehealth_hub.fixtures.auth_clients import client_key
from ehealth_hub.services.notes import NoteDelivery, NotesService
from ehealth_hub.services.records import RecordsService
from ehealth_hub.settings import Settings, load_settings
from tests.fakes.addressbook import SandboxAddressBook
from tests.fakes.gate import SandboxFactsGate
from tests.fakes.mailbox import MemoryMailbox
from tests.fakes.records import sandbox_source

HUB_URL = "http://127.0.0.1:8000"
"""Where the in-process clients reach the hub: the address `serve` binds by default."""

TokenFactory = Callable[..., Awaitable[str]]


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One sandbox PKI for the session (deriving it costs seconds)."""
    return tmp_path_factory.mktemp("pki")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        data_dir=tmp_path / "var",
        log={"level": "warning", "json_output": True},
    )


@pytest.fixture
def mailbox() -> MemoryMailbox:
    return MemoryMailbox()


@pytest.fixture
async def container(settings: Settings, mailbox: MemoryMailbox) -> AsyncIterator[Container]:
    """The hub's container with in-memory record sources, gate, AddressBook and eHealthBox."""
    built = await build_container(settings)
    gate = SandboxFactsGate()
    sources = [sandbox_source(name) for name in ("rsw", "abrumet", "cozo", "vitalink", "gp")]
    built = replace(
        built,
        records=RecordsService(gate, sources),
        notes=NotesService(gate, SandboxAddressBook(), built.engine),
    )
    delivery = built.delivery.destinations["ehbox"].handler
    assert isinstance(delivery, NoteDelivery)
    delivery.gate, delivery.mailbox = gate, mailbox
    try:
        yield built
    finally:
        await built.aclose()


@pytest.fixture
async def app(settings: Settings, container: Container) -> AsyncIterator[FastAPI]:
    application = create_app(settings, container=container)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=HUB_URL) as c:
        yield c


@pytest.fixture
def token_for(client: httpx.AsyncClient, settings: Settings) -> TokenFactory:
    """Get an access token the way a client application does (assertion -> /auth/token)."""

    async def get(client_id: str, *scopes: str, practitioner: str | None = None) -> str:
        return await access_token(client, settings, client_id, scopes, practitioner)

    return get


async def access_token(
    client: httpx.AsyncClient,
    settings: Settings,
    client_id: str,
    scopes: tuple[str, ...],
    practitioner: str | None = None,
) -> str:
    """An access token got the way a client application does (signed assertion -> /auth/token)."""
    assertion = client_assertion(client_id, client_key(client_id), token_endpoint(settings))
    response = await client.post("/auth/token", data=token_request(assertion, scopes, practitioner))
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token
