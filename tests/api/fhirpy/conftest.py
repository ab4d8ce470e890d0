"""The hub served by uvicorn on a loopback port the OS picks (never 8000, no public base URL
configured unless a test says so), on SQLite and PostgreSQL, and fhirpy clients holding SMART
backend-services tokens; helpers that seed deliveries and audit records through the stores."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fhirpy import AsyncFHIRClient

from ehealth_hub.api import create_app
from ehealth_hub.audit.events import AuditRecord
from ehealth_hub.bootstrap import Container
from ehealth_hub.delivery.outbox import TaskInfo, enqueue
from ehealth_hub.fhir.profiles import NIHDI_SYSTEM, SSIN_SYSTEM
from ehealth_hub.fixtures.consult_app import SandboxApp
from ehealth_hub.settings import Settings, load_settings

LENIENT = {"Prefer": "handling=lenient"}


@dataclass
class Hub:
    """The running hub: its URL, container and settings, and an HTTP client on it."""

    url: str
    container: Container
    settings: Settings
    http: httpx.AsyncClient

    async def token(self, client_id: str, practitioner: str | None = None) -> str:
        """An access token of a sandbox client, its assertion made for this hub's URL."""
        return await SandboxApp(
            self.http, client_id, f"{self.url}/auth/token", practitioner
        ).token()

    async def fhir(
        self, client_id: str, practitioner: str | None = None, **headers: str
    ) -> AsyncFHIRClient:
        """A fhirpy client of ``client_id`` (acting for ``practitioner``)."""
        token = await self.token(client_id, practitioner)
        return AsyncFHIRClient(
            f"{self.url}/fhir",
            authorization=f"Bearer {token}",
            extra_headers={"Accept": "application/fhir+json", **headers},
        )

    async def get(self, client_id: str, path: str, **kwargs: Any) -> httpx.Response:
        """GET ``path`` as ``client_id`` (no practitioner)."""
        token = await self.token(client_id)
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return await self.http.get(path, headers=headers, **kwargs)


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Hub]:
    """The hub for ``settings`` on a loopback port, ready."""
    app = create_app(settings)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            yield Hub(url, app.state.container, settings, http)
    finally:
        server.should_exit = True
        await task


def hub_settings(database_url: str, tmp_path: Path, **extra: Any) -> Settings:
    """Sandbox settings on ``database_url``; no delivery worker (seeded Tasks stay as seeded)."""
    return load_settings(
        database_url=database_url,
        data_dir=tmp_path / "var",
        log={"level": "warning", "json_output": True},
        delivery={"in_process_worker": False},
        **extra,
    )


@pytest.fixture
async def hub(database_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    async with serving(hub_settings(database_url, tmp_path)) as running:
        yield running


SandboxFhir = Callable[..., Awaitable[AsyncFHIRClient]]
"""``await sandbox_fhir(client_id, practitioner=None)``: a fhirpy client on ``sandbox_hub``."""


@pytest.fixture
async def sandbox_hub(tmp_path: Path, pki_dir: Path) -> AsyncIterator[Hub]:
    """The whole sandbox on SQLite, as a client meets it: the simulators (sandbox PKI) and the
    delivery worker in process, so notes and claims are really delivered and answered."""
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        data_dir=tmp_path / "var",
        trust={"pki_dir": pki_dir},
        log={"level": "warning", "json_output": True},
    )
    async with serving(settings) as running:
        connectors = running.container.connectors
        assert connectors is not None
        await connectors.get()  # the sandbox PKI and the simulators (seconds, first time)
        for _ in range(240):
            if (await running.http.get("/health/ready")).status_code == 200:
                break
            await asyncio.sleep(0.25)
        yield running


@pytest.fixture
def sandbox_fhir(sandbox_hub: Hub) -> SandboxFhir:
    """fhirpy clients of the sandbox clients on ``sandbox_hub``."""
    return sandbox_hub.fhir


def patient_ref(ssin: str) -> dict[str, Any]:
    return {"identifier": {"system": SSIN_SYSTEM, "value": ssin}}


def nihii_ref(nihii: str) -> dict[str, Any]:
    return {"identifier": {"system": NIHDI_SYSTEM, "value": nihii}}


async def seed_task(
    hub: Hub,
    *,
    patient: str,
    requester: str,
    owner: str,
    focus: str,
    at: datetime,
    kind: str = "consultation-note",
) -> str:
    """One delivery in the outbox (as a note or claim would put it there); its Task id."""
    info = TaskInfo(
        focus=focus,
        for_=patient_ref(patient),
        requester=nihii_ref(requester),
        owner=nihii_ref(owner),
    )
    async with hub.container.engine.begin() as conn:
        item = await enqueue(
            conn,
            kind=kind,
            destination="ehbox",
            ordering_key=f"{patient}-{uuid.uuid4().hex}",
            payload={},
            task=info,
            now=at,
        )
    return item.id


async def seed_audit(
    hub: Hub, ssin: str | None, count: int, *, action: str, start: datetime, **fields: Any
) -> None:
    """``count`` audit records about ``ssin``, one a minute from ``start``."""
    records = [
        AuditRecord(
            id=str(uuid.uuid4()),
            recorded=start + timedelta(minutes=i),
            action=action,
            outcome=fields.get("outcome", "permit"),
            patient_ssin=ssin,
            actor_nihii=fields.get("actor_nihii"),
            client_id=fields.get("client_id", "consult-app"),
        )
        for i in range(count)
    ]
    audit = hub.container.audit_log
    async with audit.appending(hub.container.engine) as conn:
        await audit.record_many(conn, records)


NOW = datetime.now(UTC).replace(microsecond=0)
