"""Building the eHealth connectors from settings (issue 5), for :mod:`.connectors` only.

``settings.endpoints`` -> one httpx client per world (:class:`HttpClients`: the in-process
simulators for every ``*.sandbox`` URL, a real client otherwise) -> over the trust layer (STS
tokens, ETK depot) -> Consent, Therapeutic Link, one IntraHub client per configured hub (+ the
cross-hub exclusions), AddressBook, eHealthBox and the GP systems, each with its own
:class:`~ehealth_hub.transport.resilience.Resilience` (timeout, retries, breaker). Every SOAP
answer is verified before it is believed: eHealth's services must sign as eHealth
(:data:`~.trust.EHEALTH_SIGNER`), each hub with its hub id (``endpoints.hub_ids``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from ehealth_hub.connectors.addressbook import AddressBookClient
from ehealth_hub.connectors.consent import ConsentClient
from ehealth_hub.connectors.ehbox import EhboxClient, EteeSealing
from ehealth_hub.connectors.gp import GpSystemClient, GpSystemConfig
from ehealth_hub.connectors.intrahub import ACTIONS, HubExclusions, IntraHubClient
from ehealth_hub.connectors.therlink import TherapeuticLinkClient
from ehealth_hub.core.errors import ConfigurationError, HubError
from ehealth_hub.core.ports import Actor
from ehealth_hub.settings import EndpointSettings, Settings
from ehealth_hub.transport.network import DirectClient, DirectPost
from ehealth_hub.transport.resilience import (
    BreakerPolicy,
    DownstreamPolicy,
    Resilience,
    RetryPolicy,
)
from ehealth_hub.transport.soap import LxmlMessages, SoapClient
from ehealth_hub.transport.wsdl import create_client, wsdl_path
from ehealth_hub.trust.etee import EtkId
from ehealth_hub.trust.layer import EHEALTH_SIGNER, TrustLayer
from ehealth_hub.trust.protected import ProtectedSoap
from ehealth_hub.trust.wsse import ExpectedSigner

Clock = Callable[[], datetime]
EHBOX_NS = "{urn:be:fgov:ehealth:ehbox:wsdl:v3}"
OWN_WSDL = {
    "consent": "consent_v3.wsdl",
    "therlink": "therlink_v1.wsdl",
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
            base_delay=conf.retry_initial_seconds,
            max_delay=conf.retry_max_seconds,
            jitter=conf.retry_jitter,
            max_attempts=conf.retry_attempts,
        ),
        breaker=BreakerPolicy(conf.breaker_failures, conf.breaker_reset_seconds),
    )


@dataclass
class HttpClients:
    """The httpx clients of the connectors: in-process simulators or the network, each with the
    transport it sends through (which :class:`~.network.DirectClient` uses directly)."""

    sandbox: httpx.AsyncClient | None
    network: httpx.AsyncClient
    transports: dict[str, httpx.AsyncBaseTransport] = field(default_factory=dict)
    """``"sandbox"`` / ``"network"`` -> the transport that client was built over."""

    def for_url(self, url: str) -> httpx.AsyncClient:
        if is_sandbox_url(url):
            if self.sandbox is None:
                raise HubError(f"{url} is a sandbox URL but no simulators run", system="bootstrap")
            return self.sandbox
        return self.network

    def direct(self, url: str) -> DirectClient:
        """Calls to ``url``'s world straight through its transport, with that client's timeout."""
        client = self.for_url(url)
        world = "sandbox" if client is self.sandbox else "network"
        if world not in self.transports:
            raise HubError(f"no {world} transport to call {url} directly", system="bootstrap")
        return DirectClient(self.transports[world], client.timeout)

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
        http=http.direct(url),
        sign=trust.saml_signer(),
        verifier=trust.verifier(EHEALTH_SIGNER, system=name),
        address=url,
        binding=None if official else binding,
        system=name,
    )

    async def tokens(actor: Actor) -> Any:
        return await trust.token(actor.nihii, actor.quality)

    return ProtectedSoap(soap, Resilience(name, policy(settings.endpoints, name)), tokens)


def _intrahub(
    settings: Settings, http: HttpClients, trust: TrustLayer, clock: Clock, name: str, url: str
) -> ProtectedSoap:
    """IntraHub's payloads are built and read with lxml (:class:`LxmlMessages`, no WSDL codec: the
    hot read path); each hub signs its answers with a certificate naming its hub id."""
    hub_id = settings.endpoints.hub_ids.get(name, "")
    if not hub_id:
        raise ConfigurationError(
            f"hub {name!r} has no hub id (endpoints.hub_ids): its signed answers cannot be checked",
            system=name,
        )
    endpoint = DirectPost(http.direct(url), httpx.URL(url))
    verifier = trust.verifier(ExpectedSigner("EHP", hub_id), system=name)
    soap = SoapClient(
        endpoint, LxmlMessages(ACTIONS), name, sign=trust.saml_signer(), verifier=verifier
    )

    async def tokens(actor: Actor) -> Any:
        return await trust.token(actor.nihii, actor.quality)

    return ProtectedSoap(soap, Resilience(name, policy(settings.endpoints, name)), tokens)


def _sealing(trust: TrustLayer, clock: Clock) -> EteeSealing:
    """End-to-end sealing for eHealthBox: each actor seals with its own keys."""
    return EteeSealing(
        trust.etk_depot,
        credentials=lambda actor: trust.credential(actor.nihii),
        own_etk=lambda actor: EtkId("NIHII", actor.nihii),
        box_key=trust.hub_etk,
        truststore=trust.truststore,
        clock=clock,
    )


def _gp_clients(conf: EndpointSettings, http: HttpClients, clock: Clock) -> list[GpSystemClient]:
    return [
        GpSystemClient(
            http.direct(gp.base_url),
            GpSystemConfig(key, gp.base_url, gp.token_url, gp.client_id, gp.client_secret),
            Resilience(key, policy(conf, key)),
            clock=clock,
        )
        for key, gp in conf.gp_systems.items()
    ]


def _readiness_targets(
    conf: EndpointSettings, built: EhealthConnectors, publication: ProtectedSoap
) -> dict[str, tuple[str, Resilience]]:
    """Readiness probes the WSDL of each SOAP endpoint through the breaker its calls use."""
    return {
        "consent": (conf.consent, built.consent.endpoint.resilience),
        "therlink": (conf.therlink, built.therlink.endpoint.resilience),
        "addressbook": (conf.addressbook, built.addressbook.endpoint.resilience),
        "ehbox": (conf.ehbox_publication, publication.resilience),
        **{f"hub.{h.name}": (conf.hubs[h.name], h.endpoint.resilience) for h in built.hubs},
    }


def build_connectors(
    settings: Settings, *, trust: TrustLayer, http: HttpClients, clock: Clock
) -> EhealthConnectors:
    """Every eHealth connector for ``settings`` over ``trust`` and ``http``."""
    conf = settings.endpoints

    def soap(kind: str, name: str, url: str, binding: str | None = None) -> ProtectedSoap:
        return _soap(settings, http, trust, clock, kind, name, url, binding=binding)

    sealing = _sealing(trust, clock)
    hubs = [
        IntraHubClient(
            key,
            conf.hub_ids.get(key, ""),
            _intrahub(settings, http, trust, clock, key, url),
            clock=clock,
        )
        for key, url in conf.hubs.items()
    ]
    publication = soap(
        "ehbox", "ehbox", conf.ehbox_publication, f"{EHBOX_NS}EhBoxPublicationBinding"
    )
    consultation = soap(
        "ehbox", "ehbox", conf.ehbox_consultation, f"{EHBOX_NS}EhBoxConsultationBinding"
    )
    gps = _gp_clients(conf, http, clock)
    built = EhealthConnectors(
        consent=ConsentClient(soap("consent", "consent", conf.consent), clock=clock),
        therlink=TherapeuticLinkClient(soap("therlink", "therlink", conf.therlink), clock=clock),
        hubs=hubs,
        exclusions=HubExclusions(hubs),
        addressbook=AddressBookClient(
            soap("addressbook", "addressbook", conf.addressbook), clock=clock
        ),
        ehbox=EhboxClient(publication, consultation, sealing, clock=clock),
        gp_systems=gps,
    )
    built.endpoints = _readiness_targets(conf, built, publication)
    return built
