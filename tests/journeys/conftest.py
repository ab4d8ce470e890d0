"""The sandbox hub served on a loopback port (uvicorn, port chosen by the OS), with every simulator
in-process, and FHIR clients (fhirpy) holding SMART backend-services tokens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fhirpy import AsyncFHIRClient

from ehealth_hub.api import create_app
from ehealth_hub.bootstrap import Container
from ehealth_hub.fixtures.consult_app import SandboxApp
from ehealth_hub.settings import Settings, load_settings


@dataclass
class Hub:
    """The running hub: its URL, container (simulators) and settings."""

    url: str
    container: Container
    settings: Settings
    http: httpx.AsyncClient

    def app(self, client_id: str, practitioner: str | None = None) -> SandboxApp:
        return SandboxApp(self.http, client_id, f"{self.url}/auth/token", practitioner)


FhirFactory = Callable[..., Awaitable[AsyncFHIRClient]]


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One sandbox PKI for the session (deriving it costs seconds)."""
    return tmp_path_factory.mktemp("pki")


@pytest.fixture
async def hub(tmp_path: Path, pki_dir: Path, request: pytest.FixtureRequest) -> AsyncIterator[Hub]:
    """The hub; ``indirect`` parametrisation passes extra settings (e.g. ``{"mycarenet": ...}``),
    or a function of the test's folder that returns them."""
    extra = getattr(request, "param", {})
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        data_dir=tmp_path / "var",
        trust={"pki_dir": pki_dir},
        log={"level": "warning", "json_output": True},
        **(extra(tmp_path) if callable(extra) else extra),
    )
    app = create_app(settings)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    container: Container = app.state.container
    assert container.connectors is not None
    await container.connectors.get()  # the sandbox PKI and the simulators (seconds, first time)
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        for _ in range(240):
            if (await http.get("/health/ready")).status_code == 200:
                break
            await asyncio.sleep(0.25)
        yield Hub(url, container, settings, http)
    server.should_exit = True
    await serving


@pytest.fixture
def fhir_for(hub: Hub) -> FhirFactory:
    """A fhirpy client for a sandbox client (optionally acting for a practitioner)."""

    async def make(
        client_id: str, practitioner: str | None = None, *scopes: str
    ) -> AsyncFHIRClient:
        token = await hub.app(client_id, practitioner).token(*scopes)
        return AsyncFHIRClient(
            f"{hub.url}/fhir",
            authorization=f"Bearer {token}",
            extra_headers={"Accept": "application/fhir+json"},
        )

    return make
