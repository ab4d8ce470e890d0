"""Trust-layer fixtures: a controllable clock and the STS / ETK depot simulators behind real zeep
clients over httpx.ASGITransport (in-process, no sockets)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ehealth_hub.connectors.etee import EtkDepotClient
from ehealth_hub.connectors.soap import create_client, wsdl_path
from ehealth_hub.connectors.sts import StsClient
from ehealth_hub.connectors.wsse import WsseSignPlugin
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.fixtures.sim_etkdepot import EtkDepotSimulator
from ehealth_hub.fixtures.sim_sts import StsSimulator


@dataclass
class Clock:
    """A clock tests move by hand."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


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
    transport = httpx.ASGITransport(app=sts_sim.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sts.sandbox") as http:
        soap = create_client(
            wsdl_path("sts_v1.wsdl"),
            http=http,
            plugins=[WsseSignPlugin("x509", clock=clock)],
            address="http://sts.sandbox" + sts_sim.path,
            system="sts",
        )
        yield StsClient(
            soap, truststore=pki.truststore, sts_certificates=[pki.sts.certificate], clock=clock
        )


@pytest.fixture
def etk_sim(pki: SandboxPki, clock: Clock) -> EtkDepotSimulator:
    return EtkDepotSimulator(pki, clock=clock)


@pytest.fixture
async def depot(
    etk_sim: EtkDepotSimulator, pki: SandboxPki, clock: Clock
) -> AsyncIterator[EtkDepotClient]:
    transport = httpx.ASGITransport(app=etk_sim.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://etk.sandbox") as http:
        soap = create_client(
            wsdl_path("etkdepot_v1.wsdl"),
            http=http,
            address="http://etk.sandbox" + etk_sim.path,
            system="etkdepot",
        )
        yield EtkDepotClient(soap, truststore=pki.truststore, clock=clock)
