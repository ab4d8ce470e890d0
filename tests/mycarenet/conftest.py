"""MyCareNet fixtures: the MyCareNet and STS simulators behind real zeep clients over
httpx.ASGITransport (in-process), a hand-moved clock, and the three adapters wired as in
bootstrap (hub ETK sealing for MyCareNet's ETK, SAML holder-of-key tokens from the STS)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from ehealth_hub.connectors.mycarenet import (
    ATTEST_BINDING,
    GENASYNC_BINDING,
    GMD_BINDING,
    MEMBERDATA_BINDING,
    wsdl_file,
)
from ehealth_hub.connectors.mycarenet.attest import AttestClient
from ehealth_hub.connectors.mycarenet.efact import EfactClient
from ehealth_hub.connectors.mycarenet.envelope import Envelope, Package, Sealing
from ehealth_hub.connectors.mycarenet.gmd import GlobalMedicalFileClient
from ehealth_hub.connectors.mycarenet.memberdata import MemberDataClient
from ehealth_hub.core.ports import Actor
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.fixtures.sim_mycarenet import MyCareNetSimulator
from ehealth_hub.fixtures.sim_sts import StsSimulator, in_process_client
from ehealth_hub.transport.wsdl import create_client
from ehealth_hub.trust.saml import SamlToken
from ehealth_hub.trust.wsse import SamlSigner
from tests.fakes.clock import ManualClock

BASE = "http://mycarenet.sandbox"
FEDERATION_ROUTE_RULES = Path(__file__).parent / "data" / "billing_rules_federation_route.csv"
"""A tariff table whose video codes follow the federation's route (the packaged one makes eFact
mandatory for them), and the packaged psychology session rows so that the whole demo plays on it:
the eAttest mechanics tests run on it."""


Clock = ManualClock


@dataclass
class MyCareNet:
    """The adapters and the simulator behind them."""

    sim: MyCareNetSimulator
    memberdata: MemberDataClient
    attest: AttestClient
    efact: EfactClient
    envelope: Envelope
    gmd: GlobalMedicalFileClient


def actor(key: str) -> Actor:
    person = sandbox.practitioner(key)
    return Actor(person.nihii, person.quality, person.ssin)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pki(sandbox_pki: SandboxPki) -> SandboxPki:
    return sandbox_pki


@pytest.fixture
async def tokens(pki: SandboxPki, clock: Clock) -> AsyncIterator[object]:
    async with in_process_client(StsSimulator(pki, clock=clock), pki, clock=clock) as sts:

        async def token(who: Actor) -> SamlToken:
            return await sts.token(pki.practitioner(who.nihii), who.quality)

        yield token


@pytest.fixture
async def mycarenet(pki: SandboxPki, clock: Clock, tokens: object) -> AsyncIterator[MyCareNet]:
    sim = MyCareNetSimulator(pki, clock=clock)

    async def mycarenet_etk() -> x509.Certificate:
        return pki.mycarenet_etk.certificate

    envelope = Envelope(
        Package("ehealth-hub", "hub-licence", "sandbox-secret"),
        Sealing(pki.hub_etk, pki.truststore, mycarenet_etk, clock),
        is_test=True,
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url=BASE) as http:

        def soap(binding: str, path: str):  # type: ignore[no-untyped-def]
            return create_client(
                wsdl_file(),
                http=http,
                sign=SamlSigner(clock),
                address=f"{BASE}/MyCareNet{path}",
                binding=binding,
                system="mycarenet",
            )

        args = (envelope, tokens)
        yield MyCareNet(
            sim,
            MemberDataClient(soap(MEMBERDATA_BINDING, "/MemberData/v1"), *args, clock=clock),  # type: ignore[arg-type]
            AttestClient(soap(ATTEST_BINDING, "/Attest/v3"), *args, clock=clock),  # type: ignore[arg-type]
            EfactClient(soap(GENASYNC_BINDING, "/GenAsync/Efact/v1"), *args, clock=clock),  # type: ignore[arg-type]
            envelope,
            GlobalMedicalFileClient(soap(GMD_BINDING, "/GlobalMedicalFile/v1"), *args, clock=clock),  # type: ignore[arg-type]
        )


# ----------------------------------------------------------------------------- the use case


@dataclass
class Claims:
    """The claims use case wired on a migrated database, with one delivery worker."""

    service: object
    delivery: object
    worker: object
    db: object
    settings: object


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[object]:
    from ehealth_hub.store.db import create_engine, upgrade

    await upgrade(database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def mycarenet_settings() -> object:
    from ehealth_hub.settings import MyCareNetSettings

    return MyCareNetSettings(
        wait_seconds=0.0, call_timeout_seconds=2.0, insurability_cache_seconds=600
    )


@pytest.fixture
async def claims(
    mycarenet: MyCareNet, db: object, clock: Clock, mycarenet_settings: object
) -> Claims:
    from prometheus_client import CollectorRegistry

    from ehealth_hub.delivery.engine import DeliveryEngine
    from ehealth_hub.delivery.metrics import DeliveryMetrics
    from ehealth_hub.delivery.worker import Worker
    from ehealth_hub.services.claims import DESTINATION, ClaimsService
    from ehealth_hub.services.claims_delivery import ClaimDelivery
    from ehealth_hub.settings import DeliverySettings, RetryPolicySettings
    from tests.fakes.gate import SandboxFactsGate

    policy = RetryPolicySettings(
        base_delay_seconds=1, jitter=0.0, max_attempts=5, breaker_failures=50
    )
    delivery = DeliveryEngine(
        DeliverySettings(default_policy=policy, lease_seconds=30),
        db,
        DeliveryMetrics(CollectorRegistry()),  # type: ignore[arg-type]
        clock=clock,
        random_unit=lambda: 0.5,
    )
    delivery.register(
        DESTINATION,
        ClaimDelivery(db, mycarenet.attest, mycarenet.efact, mycarenet_settings, clock=clock),
    )  # type: ignore[arg-type]
    from ehealth_hub.services.billing_check import BillingCheck
    from ehealth_hub.services.billing_rules import load_rules

    billing = BillingCheck(load_rules(FEDERATION_ROUTE_RULES), mycarenet.gmd)
    service = ClaimsService(
        SandboxFactsGate(),
        mycarenet.memberdata,
        db,  # type: ignore[arg-type]  # the fixtures are typed object
        mycarenet_settings,  # type: ignore[arg-type]  # the fixtures are typed object
        billing=billing,
        clock=clock,
    )
    return Claims(service, delivery, Worker(delivery), db, mycarenet_settings)
