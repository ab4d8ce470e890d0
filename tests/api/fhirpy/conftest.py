"""The whole sandbox hub served on a loopback port (simulators and the delivery worker in
process), for the reads of issue 20, and fhirpy clients on it (``sandbox_fhir``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import uvicorn
from fhirpy import AsyncFHIRClient

from ehealth_hub.api import create_app
from ehealth_hub.bootstrap import Container
from ehealth_hub.fixtures.consult_app import SandboxApp
from ehealth_hub.settings import load_settings
from tests.journeys.conftest import Hub

SandboxFhir = Callable[..., Awaitable[AsyncFHIRClient]]


@pytest.fixture
async def sandbox_hub(tmp_path: Path, pki_dir: Path) -> AsyncIterator[Hub]:
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        data_dir=tmp_path / "var",
        trust={"pki_dir": pki_dir},
        log={"level": "warning", "json_output": True},
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
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    container: Container = app.state.container
    assert container.connectors is not None
    await container.connectors.get()  # the sandbox PKI and the simulators
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        for _ in range(240):
            if (await http.get("/health/ready")).status_code == 200:
                break
            await asyncio.sleep(0.25)
        yield Hub(url, container, settings, http)
    server.should_exit = True
    await serving


def sandbox_app(hub: Hub, client_id: str, practitioner: str | None = None) -> SandboxApp:
    """A sandbox client of ``hub``, its assertions made for the hub's own URL."""
    return SandboxApp(hub.http, client_id, f"{hub.url}/auth/token", practitioner)


@pytest.fixture
def sandbox_fhir(sandbox_hub: Hub) -> SandboxFhir:
    """A fhirpy client for a sandbox client (optionally acting for a practitioner)."""

    async def make(client_id: str, practitioner: str | None = None) -> AsyncFHIRClient:
        token = await sandbox_app(sandbox_hub, client_id, practitioner).token()
        return AsyncFHIRClient(
            f"{sandbox_hub.url}/fhir",
            authorization=f"Bearer {token}",
            extra_headers={"Accept": "application/fhir+json"},
        )

    return make
