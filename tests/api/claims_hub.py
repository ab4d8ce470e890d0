"""The hub with claims (MyCareNet on its in-process simulator) and notes, behind the sandbox
facts gate, for API tests that post both; no in-process delivery worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import httpx
from fastapi import FastAPI

from ehealth_hub.api import create_app
from ehealth_hub.bootstrap import Container, Parts, build_container
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.services.notes import NotesService
from ehealth_hub.settings import Settings, load_settings
from tests.fakes.addressbook import SandboxAddressBook
from tests.fakes.gate import SandboxFactsGate

HUB_URL = "http://127.0.0.1:8000"
"""Where the in-process clients reach the hub: the address `serve` binds by default."""


def claims_hub_settings(tmp_path: Path, pki: SandboxPki) -> Settings:
    """SQLite, the sandbox PKI, no wait for the mutuality's answer, no in-process worker."""
    return load_settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        data_dir=tmp_path / "var",
        log={"level": "warning", "json_output": True},
        trust={"pki_dir": pki.directory},
        mycarenet={"wait_seconds": 0.0},
        delivery={"in_process_worker": False},
    )


@asynccontextmanager
async def claims_hub(
    settings: Settings,
) -> AsyncIterator[tuple[httpx.AsyncClient, Container]]:
    """An HTTP client of the running app, and its container (gate: ``SandboxFactsGate``)."""
    gate = SandboxFactsGate()
    container: Container = await build_container(settings, parts=Parts(gate=gate))
    container = replace(container, notes=NotesService(gate, SandboxAddressBook(), container.engine))
    app: FastAPI = create_app(settings, container=container)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=HUB_URL) as c:
                yield c, container
    finally:
        await container.aclose()
