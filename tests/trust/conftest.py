"""Trust-layer fixtures: a controllable clock and the STS / ETK depot simulators behind the real
SOAP client over httpx.ASGITransport (in-process, no sockets)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest
from starlette.types import ASGIApp

from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.fixtures.sim_etkdepot import EtkDepotSimulator
from ehealth_hub.fixtures.sim_sts import StsSimulator, in_process_client
from ehealth_hub.transport.soap import EnvelopeSigner, SoapClient
from ehealth_hub.transport.wsdl import create_client, wsdl_path
from ehealth_hub.trust.etee import EtkDepotClient
from ehealth_hub.trust.sts import StsClient
from tests.fakes.clock import ManualClock


@dataclass
class Clock(ManualClock):
    """Starts inside the sandbox certificates' validity (2025-2045)."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@asynccontextmanager
async def soap_over_asgi(
    app: ASGIApp, path: str, wsdl: str, system: str, sign: EnvelopeSigner | None = None
) -> AsyncIterator[SoapClient]:
    """A SOAP client of ``wsdl`` talking to the simulator ``app`` in-process (no sockets)."""
    base = f"http://{system}.sandbox"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as http:
        yield create_client(
            wsdl_path(wsdl), http=http, sign=sign, address=base + path, system=system
        )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pki(sandbox_pki: SandboxPki) -> SandboxPki:
    return sandbox_pki


@pytest.fixture
def sts_sim(pki: SandboxPki, clock: Clock) -> StsSimulator:
    return StsSimulator(pki, clock=clock)


@pytest.fixture
async def sts_client(
    sts_sim: StsSimulator, pki: SandboxPki, clock: Clock
) -> AsyncIterator[StsClient]:
    async with in_process_client(sts_sim, pki, clock=clock) as client:
        yield client


@pytest.fixture
def etk_sim(pki: SandboxPki, clock: Clock) -> EtkDepotSimulator:
    return EtkDepotSimulator(pki, clock=clock)


@pytest.fixture
async def depot(
    etk_sim: EtkDepotSimulator, pki: SandboxPki, clock: Clock
) -> AsyncIterator[EtkDepotClient]:
    async with soap_over_asgi(etk_sim.app, etk_sim.path, "etkdepot_v1.wsdl", "etkdepot") as soap:
        yield EtkDepotClient(soap, truststore=pki.truststore, clock=clock)
