"""Wiring of journey 3 for the composition root: MyCareNet adapters -> ClaimsService + the
``mycarenet`` delivery destination; the GlobalMedicalFile port the notes and the GP lookup use too.

:class:`LazyMyCareNet` builds the four adapters over the connector stack's httpx clients and trust
layer when first called (in the sandbox, the in-process simulators); :func:`build_claims` wires the
use case on them. The hub's ETK identity seals the Details and opens the answers; MyCareNet's ETK
comes from the ETK depot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Final

import httpx
from cryptography import x509
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit.log import AuditLog
from ehealth_hub.bootstrap.connectors import ConnectorStack
from ehealth_hub.bootstrap.insurers import build_insurers
from ehealth_hub.bootstrap.mhc import LazyMhc
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
from ehealth_hub.core.errors import ConfigurationError
from ehealth_hub.core.mycarenet_types import (
    MYCARENET_CBE,
    AsyncMessage,
    GmdFacts,
    InsurabilityFacts,
    PostReceipt,
)
from ehealth_hub.core.ports import Actor
from ehealth_hub.delivery.engine import DeliveryEngine
from ehealth_hub.services.billing_check import BillingCheck
from ehealth_hub.services.billing_rules import load_rules
from ehealth_hub.services.claims import DESTINATION, ClaimsService
from ehealth_hub.services.claims_delivery import ClaimDelivery
from ehealth_hub.services.gate import PermitGate
from ehealth_hub.settings import Settings
from ehealth_hub.transport.wsdl import create_client
from ehealth_hub.trust.etee import EtkId
from ehealth_hub.trust.layer import TrustLayer
from ehealth_hub.trust.saml import SamlToken

MYCARENET_ETK: Final = EtkId("CBE", MYCARENET_CBE, "MYCARENET")


def build_adapters(
    settings: Settings, *, http: httpx.AsyncClient, trust: TrustLayer, clock: Callable[[], datetime]
) -> Adapters:
    """The four MyCareNet adapters on ``http``, signing with the practitioners' STS tokens."""
    conf = settings.mycarenet
    if trust.hub_etk is None:
        raise ConfigurationError(
            "MyCareNet needs the hub's ETK identity (trust.hub_etk)", system="mycarenet"
        )

    async def mycarenet_etk() -> x509.Certificate:
        return await trust.etk_depot.get_etk(MYCARENET_ETK)

    async def tokens(actor: Actor) -> SamlToken:
        return await trust.token(actor.nihii, actor.quality)

    envelope = Envelope(
        Package(conf.package_name, conf.license_username, conf.license_password),
        Sealing(trust.hub_etk, trust.truststore, mycarenet_etk, clock),
        is_test=conf.is_test,
    )

    def soap(binding: str, address: str):  # type: ignore[no-untyped-def]  # SoapClient, inferred
        return create_client(
            wsdl_file(),
            http=http,
            sign=trust.saml_signer(),
            address=address,
            binding=binding,
            system="mycarenet",
        )

    return (
        MemberDataClient(
            soap(MEMBERDATA_BINDING, conf.memberdata_url), envelope, tokens, clock=clock
        ),
        AttestClient(soap(ATTEST_BINDING, conf.attest_url), envelope, tokens, clock=clock),
        EfactClient(soap(GENASYNC_BINDING, conf.genasync_url), envelope, tokens, clock=clock),
        GlobalMedicalFileClient(soap(GMD_BINDING, conf.gmd_url), envelope, tokens, clock=clock),
    )


Adapters = tuple[MemberDataClient, AttestClient, EfactClient, GlobalMedicalFileClient]


class LazyMyCareNet:
    """The four MyCareNet ports, built on first use (the sandbox PKI derivation costs seconds)."""

    def __init__(
        self, settings: Settings, stack: ConnectorStack, clock: Callable[[], datetime]
    ) -> None:
        self.settings, self.stack, self.clock = settings, stack, clock
        self._built: Adapters | None = None
        self._lock = asyncio.Lock()

    async def adapters(self) -> Adapters:
        """The adapters over the connector stack's httpx clients and its trust layer (one STS
        token cache per process: a token fetched for a hub call serves MyCareNet too)."""
        async with self._lock:
            if self._built is None:
                await self.stack.get()
                http, trust = self.stack.http, self.stack.trust
                if http is None or trust is None:
                    raise ConfigurationError(
                        "the connector stack has no httpx clients or trust layer",
                        system="mycarenet",
                    )
                url = self.settings.mycarenet.attest_url
                self._built = build_adapters(
                    self.settings, http=http.for_url(url), trust=trust, clock=self.clock
                )
            return self._built

    async def consult(self, actor: Actor, ssin: str, on: date) -> InsurabilityFacts:
        return await (await self.adapters())[0].consult(actor, ssin, on)

    async def send(
        self, actor: Actor, message: dict[str, Any], *, facts: InsurabilityFacts, on: date
    ) -> dict[str, Any]:
        return await (await self.adapters())[1].send(actor, message, facts=facts, on=on)

    async def cancel(
        self, actor: Actor, message: dict[str, Any], *, facts: InsurabilityFacts, on: date
    ) -> dict[str, Any]:
        return await (await self.adapters())[1].cancel(actor, message, facts=facts, on=on)

    async def post(self, actor: Actor, batch: str, *, reference: str) -> PostReceipt:
        return await (await self.adapters())[2].post(actor, batch, reference=reference)

    async def tacks(self, actor: Actor) -> list[PostReceipt]:
        return await (await self.adapters())[2].tacks(actor)

    async def fetch(self, actor: Actor) -> list[AsyncMessage]:
        return await (await self.adapters())[2].fetch(actor)

    async def confirm(self, actor: Actor, messages: list[AsyncMessage]) -> None:
        await (await self.adapters())[2].confirm(actor, messages)

    async def consult_gmd(self, actor: Actor, ssin: str, on: date) -> GmdFacts:
        return await (await self.adapters())[3].consult_gmd(actor, ssin, on)


def build_claims(
    settings: Settings,
    engine: AsyncEngine,
    *,
    gate: PermitGate,
    ports: LazyMyCareNet,
    connectors: ConnectorStack,
    delivery: DeliveryEngine,
    audit: AuditLog,
) -> ClaimsService:
    """Journey 3 over the MyCareNet ports, its ``mycarenet`` delivery destination registered
    (with the private insurers that follow a mutuality's answer: ``bootstrap.insurers``, and
    Mental Health Care for psychologists' sessions: ``bootstrap.mhc``); the
    tariff table is loaded and validated here, at start-up."""
    followers = build_insurers(settings, engine, connectors, gate=gate, delivery=delivery)
    if DESTINATION not in delivery.destinations:
        mhc = LazyMhc(settings, connectors) if settings.mycarenet.mhc.enabled else None
        delivery.register(
            DESTINATION,
            ClaimDelivery(engine, ports, ports, settings.mycarenet, followers=followers, mhc=mhc),
        )
    return ClaimsService(
        gate,
        ports,
        engine,
        settings.mycarenet,
        billing=BillingCheck(load_rules(settings.mycarenet.billing_rules_file), ports),
        audit=audit,
        insurers=followers,
    )
