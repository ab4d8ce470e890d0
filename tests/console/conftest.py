"""Console fixtures: the sandbox hub in-process (httpx) with a ``lab`` destination."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ehealth_hub.api import create_app
from ehealth_hub.bootstrap import Container, build_container
from tests.console._support import Lab, console_settings


@pytest.fixture(scope="session")
def pki_dir(sandbox_pki: Any, request: pytest.FixtureRequest) -> Path:
    """The session's sandbox PKI folder (derived once into pytest's cache)."""
    return Path(request.config.cache.mkdir("sandbox-pki"))


@pytest.fixture
def lab() -> Lab:
    return Lab()


@pytest.fixture
async def hub(
    tmp_path: Path, pki_dir: Path, sqlite_url: str, lab: Lab
) -> AsyncIterator[tuple[httpx.AsyncClient, Container]]:
    """The hub (no background worker: tests run it), the console mounted, ``lab`` registered."""
    settings = console_settings(
        tmp_path, pki_dir, sqlite_url, delivery={"in_process_worker": False}
    )
    container = await build_container(settings, migrate=True)
    assert container.delivery is not None
    container.delivery.register("lab", lab)
    app = create_app(settings, container=container)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            yield client, container
    await container.aclose()
