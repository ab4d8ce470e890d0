"""Wiring of the eHealth connectors (issue 5), for the composition root (``bootstrap.py``) only.

``settings.endpoints`` -> one httpx client per world (the in-process simulators of
``fixtures.simulate`` for every ``*.sandbox`` URL, a real client otherwise) -> the trust layer
(STS tokens, ETK depot) -> Consent, Therapeutic Link, one IntraHub client per configured hub (+ the
cross-hub exclusions), AddressBook, eHealthBox and the GP systems, each with its own
:class:`~ehealth_hub.connectors.resilience.Resilience` (timeout, retries, breaker).

The stack is built on first use (:class:`ConnectorStack`): deriving the sandbox PKI costs seconds,
and a container whose ports are replaced by fakes (API tests) never pays it. The port objects
handed to the gate and the services (:class:`LazyPorts`) forward to the built stack.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from ehealth_hub.connectors.addressbook import AddressBookClient
from ehealth_hub.connectors.consent import ConsentClient
from ehealth_hub.connectors.ehbox import EhboxClient, EteeSealing
from ehealth_hub.connectors.etee import EtkId
from ehealth_hub.connectors.gp import GpSystemClient, GpSystemConfig
from ehealth_hub.connectors.intrahub import HubExclusions, HubRecords, IntraHubClient
from ehealth_hub.connectors.ports import (
    Actor,
    Exclusion,
    NationalConsent,
    OutgoingMessage,
    ProviderEntry,
    SendReceipt,
    TherapeuticLink,
    TransactionRef,
)
from ehealth_hub.connectors.resilience import (
    BreakerPolicy,
    DownstreamPolicy,
    ProtectedSoap,
    Resilience,
    RetryPolicy,
)
from ehealth_hub.connectors.soap import create_client, translate, wsdl_path
from ehealth_hub.connectors.therlink import TherapeuticLinkClient
from ehealth_hub.connectors.trust import TrustLayer
from ehealth_hub.consent.permit import Permit, require
from ehealth_hub.errors import DownstreamUnavailable, HubError
from ehealth_hub.settings import EndpointSettings, Settings

Clock = Callable[[], datetime]
EHBOX_NS = "{urn:be:fgov:ehealth:ehbox:wsdl:v3}"
OWN_WSDL = {
    "consent": "consent_v3.wsdl",
    "therlink": "therlink_v1.wsdl",
    "intrahub": "intrahub_v3.wsdl",
    "addressbook": "addressbook_v1.wsdl",
    "ehbox": "ehbox_v3.wsdl",
}


def is_sandbox_url(url: str) -> bool:
    """URLs on a ``*.sandbox`` host are served by the in-process simulators."""
    return (httpx.URL(url).host or "").endswith(".sandbox")


def policy(conf: EndpointSettings, name: str) -> DownstreamPolicy:
    """The resilience policy of one downstream from ``settings.endpoints``."""
    return DownstreamPolicy(
        timeout=conf.timeouts.get(name, conf.timeout_seconds),
        retry=RetryPolicy(
            conf.retry_attempts,
            conf.retry_initial_seconds,
            conf.retry_max_seconds,
            conf.retry_jitter_seconds,
        ),
        breaker=BreakerPolicy(conf.breaker_failures, conf.breaker_reset_seconds),
    )


@dataclass
class HttpClients:
    """The httpx clients of the connectors: in-process simulators or the network."""

    sandbox: httpx.AsyncClient | None
    network: httpx.AsyncClient

    def for_url(self, url: str) -> httpx.AsyncClient:
        if is_sandbox_url(url):
            if self.sandbox is None:
                raise HubError(f"{url} is a sandbox URL but no simulators run", system="bootstrap")
            return self.sandbox
        return self.network

    async def aclose(self) -> None:
        if self.sandbox is not None:
            await self.sandbox.aclose()
        await self.network.aclose()


@dataclass
class EhealthConnectors:
    """The built connectors and what their readiness checks need."""

    consent: ConsentClient
    therlink: TherapeuticLinkClient
    hubs: list[IntraHubClient]
    records: HubRecords
    exclusions: HubExclusions
    addressbook: AddressBookClient
    ehbox: EhboxClient
    gp_systems: list[GpSystemClient]
    endpoints: dict[str, tuple[str, Resilience]] = field(default_factory=dict)
    """Readiness targets: name -> (endpoint URL, its resilience/breaker)."""


def _soap(
    settings: Settings,
    http: HttpClients,
    trust: TrustLayer,
    clock: Clock,
    kind: str,
    name: str,
    url: str,
    *,
    binding: str | None = None,
) -> ProtectedSoap:
    official = settings.endpoints.wsdl.get(kind)
    soap = create_client(
        str(official) if official else wsdl_path(OWN_WSDL[kind]),
        http=http.for_url(url),
        plugins=[trust.saml_plugin()],
        address=url,
        binding=None if official else binding,
        system=name,
    )

    async def tokens(actor: Actor) -> Any:
        return await trust.token(actor.nihii, actor.quality)

    return ProtectedSoap(soap, Resilience(name, policy(settings.endpoints, name)), tokens)


def build_connectors(
    settings: Settings, *, trust: TrustLayer, http: HttpClients, clock: Clock
) -> EhealthConnectors:
    """Every eHealth connector for ``settings`` over ``trust`` and ``http``."""
    conf = settings.endpoints

    def soap(kind: str, name: str, url: str, binding: str | None = None) -> ProtectedSoap:
        return _soap(settings, http, trust, clock, kind, name, url, binding=binding)

    sealing = EteeSealing(
        trust.etk_depot,
        credentials=lambda actor: trust.credential(actor.nihii),
        own_etk=lambda actor: EtkId("NIHII", actor.nihii),
        box_key=trust.hub_etk,
        truststore=trust.truststore,
        clock=clock,
    )
    hubs = [
        IntraHubClient(
            key, conf.hub_ids.get(key, ""), soap("intrahub", key, url), clock=clock, sealing=sealing
        )
        for key, url in conf.hubs.items()
    ]
    publication = soap(
        "ehbox", "ehbox", conf.ehbox_publication, f"{EHBOX_NS}EhBoxPublicationBinding"
    )
    consultation = soap(
        "ehbox", "ehbox", conf.ehbox_consultation, f"{EHBOX_NS}EhBoxConsultationBinding"
    )
    gps = [
        GpSystemClient(
            http.for_url(gp.base_url),
            GpSystemConfig(key, gp.base_url, gp.token_url, gp.client_id, gp.client_secret),
            Resilience(key, policy(conf, key)),
            clock=clock,
        )
        for key, gp in conf.gp_systems.items()
    ]
    built = EhealthConnectors(
        consent=ConsentClient(soap("consent", "consent", conf.consent), clock=clock),
        therlink=TherapeuticLinkClient(soap("therlink", "therlink", conf.therlink), clock=clock),
        hubs=hubs,
        records=HubRecords(hubs),
        exclusions=HubExclusions(hubs),
        addressbook=AddressBookClient(
            soap("addressbook", "addressbook", conf.addressbook), clock=clock
        ),
        ehbox=EhboxClient(publication, consultation, sealing, clock=clock),
        gp_systems=gps,
    )
    built.endpoints = {
        "consent": (conf.consent, built.consent.endpoint.resilience),
        "therlink": (conf.therlink, built.therlink.endpoint.resilience),
        "addressbook": (conf.addressbook, built.addressbook.endpoint.resilience),
        "ehbox": (conf.ehbox_publication, publication.resilience),
        **{f"hub.{h.name}": (conf.hubs[h.name], h.endpoint.resilience) for h in hubs},
    }
    return built


class ConnectorStack:
    """Builds the connectors (and, in the sandbox, the simulators) once, on first use."""

    def __init__(self, settings: Settings, *, clock: Clock = lambda: datetime.now(UTC)) -> None:
        self.settings, self.clock = settings, clock
        self._task: asyncio.Future[EhealthConnectors] | None = None
        self.http: HttpClients | None = None
        self.trust: TrustLayer | None = None
        """The one trust layer (STS tokens, ETK depot) of the process, shared with MyCareNet."""
        self.simulators: Any = None
        """The sandbox's :class:`~ehealth_hub.fixtures.simulate.Simulators` (None elsewhere)."""

    async def get(self) -> EhealthConnectors:
        """The connectors, built once (off the event loop: the sandbox PKI derivation is CPU-bound);
        a caller that gives up waiting (readiness timeout) does not abort the build."""
        if self._task is None:
            self._task = asyncio.ensure_future(asyncio.to_thread(self._build))
        return await asyncio.shield(self._task)

    def _build(self) -> EhealthConnectors:
        settings = self.settings
        urls = [
            *settings.endpoints.urls().values(),
            settings.trust.sts_url,
            settings.trust.etkdepot_url,
        ]
        sandbox_client = None
        if settings.is_sandbox and any(is_sandbox_url(u) for u in urls):
            from ehealth_hub.fixtures.pki import SandboxPki  # sandbox only: never in production
            from ehealth_hub.fixtures.simulate import build_simulators

            pki = SandboxPki.load_or_create(self.pki_dir)
            self.simulators = build_simulators(pki, clock=self.clock)
            sandbox_client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.simulators.app),
                base_url="http://simulators.sandbox",
            )
        self.http = HttpClients(
            sandbox_client, httpx.AsyncClient(timeout=settings.endpoints.timeout_seconds)
        )
        trust = self.trust = TrustLayer.from_settings(
            settings,
            sts_http=self.http.for_url(settings.trust.sts_url),
            etk_http=self.http.for_url(settings.trust.etkdepot_url),
            clock=self.clock,
        )
        return build_connectors(settings, trust=trust, http=self.http, clock=self.clock)

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            await asyncio.wait([self._task])
        if self.http is not None:
            await self.http.aclose()

    @property
    def pki_dir(self) -> Path:
        """Where the sandbox PKI lives (the trust layer's choice of directory)."""
        return self.settings.trust.pki_dir or Path(self.settings.data_dir) / "sandbox" / "pki"

    async def ready_stack(self, name: str) -> EhealthConnectors:
        """The stack for a readiness check. Deriving a missing sandbox PKI takes seconds of CPU,
        so a check never starts that: it reports the PKI missing until first use or
        ``ehealth-hub pki init`` created it."""
        untouched = self._task is None and self.settings.is_sandbox
        if untouched and not (self.pki_dir / "manifest.json").exists():
            raise DownstreamUnavailable(
                f"sandbox PKI not initialised in {self.pki_dir} (ehealth-hub pki init)",
                system=name,
                operation="ready",
                code="not-initialised",
            )
        return await self.get()

    def readiness(self) -> dict[str, Callable[[], Awaitable[None]]]:
        """One check per downstream (names known from settings, without building anything)."""
        conf = self.settings.endpoints
        names = ["consent", "therlink", "addressbook", "ehbox", *(f"hub.{k}" for k in conf.hubs)]
        checks = {f"downstream.{n}": self._soap_check(n) for n in names}
        checks.update({f"downstream.gp.{k}": self._gp_check(k) for k in conf.gp_systems})
        return checks

    def _soap_check(self, name: str) -> Callable[[], Awaitable[None]]:
        async def check() -> None:
            built = await self.ready_stack(name)
            url, resilience = built.endpoints[name]
            if resilience.breaker.state == "open":
                raise DownstreamUnavailable(
                    "circuit open", system=name, operation="ready", code="circuit-open"
                )
            assert self.http is not None  # set by get()
            try:
                response = await self.http.for_url(url).get(
                    url, params={"wsdl": ""}, timeout=resilience.policy.timeout
                )
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise translate(exc, system=name, operation="ready") from exc
            if response.status_code >= 400:
                raise DownstreamUnavailable(
                    f"WSDL answered HTTP {response.status_code}", system=name, operation="ready"
                )

        return check

    def _gp_check(self, key: str) -> Callable[[], Awaitable[None]]:
        async def check() -> None:
            built = await self.ready_stack(f"gp.{key}")
            await next(g for g in built.gp_systems if g.name == key).ping()

        return check


class LazyPorts:
    """The port objects for the gate and the services, forwarding to the stack once built."""

    def __init__(self, stack: ConnectorStack) -> None:
        self.stack = stack
        self.consent = _LazyConsent(stack)
        self.links = _LazyLinks(stack)
        self.exclusions = _LazyExclusions(stack)
        self.addressbook = _LazyAddressBook(stack)
        self.mailbox = _LazyMailbox(stack, stack.clock)
        conf = stack.settings.endpoints
        self.sources = [_LazySource(stack, k, stack.clock) for k in (*conf.hubs, *conf.gp_systems)]


class _LazyConsent:
    def __init__(self, stack: ConnectorStack) -> None:
        self.stack = stack

    async def get_consent(self, patient_ssin: str, actor: Actor) -> NationalConsent | None:
        return await (await self.stack.get()).consent.get_consent(patient_ssin, actor)

    async def put_consent(self, consent: NationalConsent, actor: Actor) -> None:
        await (await self.stack.get()).consent.put_consent(consent, actor)

    async def revoke_consent(self, patient_ssin: str, actor: Actor) -> None:
        await (await self.stack.get()).consent.revoke_consent(patient_ssin, actor)


class _LazyLinks:
    def __init__(self, stack: ConnectorStack) -> None:
        self.stack = stack

    async def get_links(
        self, patient_ssin: str, actor: Actor, *, hcparty_nihii: str | None = None
    ) -> list[TherapeuticLink]:
        return await (await self.stack.get()).therlink.get_links(
            patient_ssin, actor, hcparty_nihii=hcparty_nihii
        )

    async def put_link(self, link: TherapeuticLink, actor: Actor) -> None:
        await (await self.stack.get()).therlink.put_link(link, actor)

    async def revoke_link(self, link: TherapeuticLink, actor: Actor) -> None:
        await (await self.stack.get()).therlink.revoke_link(link, actor)


class _LazyExclusions:
    def __init__(self, stack: ConnectorStack) -> None:
        self.stack = stack

    async def get_exclusions(self, patient_ssin: str, actor: Actor) -> list[Exclusion]:
        return await (await self.stack.get()).exclusions.get_exclusions(patient_ssin, actor)


class _LazyAddressBook:
    def __init__(self, stack: ConnectorStack) -> None:
        self.stack = stack

    async def find_provider(self, nihii: str, actor: Actor) -> ProviderEntry:
        return await (await self.stack.get()).addressbook.find_provider(nihii, actor)


class _LazyMailbox:
    """Checks the permit itself too, so that nothing is built for a call that will be refused."""

    def __init__(self, stack: ConnectorStack, clock: Clock) -> None:
        self.stack, self.clock = stack, clock

    async def send_message(
        self, permit: Permit, actor: Actor, message: OutgoingMessage
    ) -> SendReceipt:
        require(permit, action="write-note", patient_ssin=message.patient_ssin, now=self.clock())
        return await (await self.stack.get()).ehbox.send_message(permit, actor, message)


class _LazySource:
    """Checks the permit itself too, so that nothing is built for a call that will be refused."""

    def __init__(self, stack: ConnectorStack, name: str, clock: Clock) -> None:
        self.stack, self.name, self.clock = stack, name, clock

    def _check(self, permit: Permit) -> None:
        patient = permit.patient_ssin if isinstance(permit, Permit) else ""
        require(permit, action="read-dossier", patient_ssin=patient, now=self.clock())

    async def _source(self) -> IntraHubClient | GpSystemClient:
        built = await self.stack.get()
        sources: list[IntraHubClient | GpSystemClient] = [*built.hubs, *built.gp_systems]
        return next(s for s in sources if s.name == self.name)

    async def list_transactions(
        self, permit: Permit, actor: Actor, *, types: tuple[str, ...], since: date | None = None
    ) -> list[TransactionRef]:
        self._check(permit)
        return await (await self._source()).list_transactions(
            permit, actor, types=types, since=since
        )

    async def get_transaction(self, permit: Permit, actor: Actor, ref: TransactionRef) -> bytes:
        self._check(permit)
        return await (await self._source()).get_transaction(permit, actor, ref)
