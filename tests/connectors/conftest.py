"""Connector fixtures: every simulator in ONE in-process app (fixtures.simulate), reached through
the real zeep/httpx stack (httpx.ASGITransport, no sockets), tokens from the STS simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import pytest

from ehealth_hub.connectors.addressbook import AddressBookClient
from ehealth_hub.connectors.consent import ConsentClient
from ehealth_hub.connectors.ehbox import EhboxClient, EteeSealing
from ehealth_hub.connectors.gp import GpSystemClient, GpSystemConfig
from ehealth_hub.connectors.intrahub import ACTIONS, IntraHubClient
from ehealth_hub.connectors.therlink import TherapeuticLinkClient
from ehealth_hub.core.permit import Action, Permit, mint
from ehealth_hub.core.ports import Actor
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.fixtures.sim_gp import SANDBOX_CLIENTS
from ehealth_hub.fixtures.simulate import SANDBOX_BASE, Simulators, build_simulators
from ehealth_hub.transport.network import DirectClient, DirectPost
from ehealth_hub.transport.resilience import (
    BreakerPolicy,
    DownstreamPolicy,
    Resilience,
    RetryPolicy,
)
from ehealth_hub.transport.soap import LxmlMessages, SoapClient
from ehealth_hub.transport.wsdl import create_client, wsdl_path
from ehealth_hub.trust.etee import EtkDepotClient, EtkId
from ehealth_hub.trust.layer import EHEALTH_SIGNER
from ehealth_hub.trust.protected import ProtectedSoap, SoapCaller
from ehealth_hub.trust.saml import SamlToken
from ehealth_hub.trust.sts import StsClient
from ehealth_hub.trust.wsse import ExpectedSigner, WsseAnswerPolicy, X509Signer
from ehealth_hub.trust.wsse_calls import SamlSigner
from tests.trust.conftest import Clock  # the hand-moved clock (certificates valid 2025-2045)

FAST = DownstreamPolicy(
    # generous: no test here waits for it (timeout tests take their own), and a loaded CI machine
    # must not turn a slow in-process call into a spurious failure
    timeout=10.0,
    retry=RetryPolicy(base_delay=0.01, max_delay=0.02, jitter=0.0, max_attempts=3),
    breaker=BreakerPolicy(failure_threshold=3, reset_after=30.0),
)


@dataclass
class Monotonic:
    """A monotonic clock for the circuit breaker."""

    value: float = 1000.0

    def __call__(self) -> float:
        return self.value


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sims(sandbox_pki: SandboxPki, clock: Clock) -> Simulators:
    return build_simulators(sandbox_pki, clock=clock)


@pytest.fixture
def transport(sims: Simulators) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=sims.app)


@pytest.fixture
def direct(transport: httpx.ASGITransport) -> DirectClient:
    """The connectors' way out (straight through the transport), as wiring.py builds it."""
    return DirectClient(transport, httpx.Timeout(5))


@pytest.fixture
async def http(transport: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=transport, base_url=SANDBOX_BASE) as client:
        yield client


@pytest.fixture
def tokens(
    http: httpx.AsyncClient, sims: Simulators, sandbox_pki: SandboxPki, clock: Clock
) -> Callable[[Actor], object]:
    soap = create_client(
        wsdl_path("sts_v1.wsdl"),
        http=http,
        sign=X509Signer(clock),
        address=SANDBOX_BASE + sims.sts.path,
        system="sts",
    )
    sts = StsClient(
        soap,
        truststore=sandbox_pki.truststore,
        sts_certificates=[sandbox_pki.sts.certificate],
        clock=clock,
    )

    async def token(actor: Actor) -> SamlToken:
        return await sts.token(sandbox_pki.practitioner(actor.nihii), actor.quality)

    return token


@dataclass
class Sleeps:
    """Records the backoffs the retry policy asked for instead of sleeping."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def monotonic() -> Monotonic:
    return Monotonic()


@pytest.fixture
def protect(
    http: httpx.AsyncClient,
    direct: DirectClient,
    tokens: object,
    clock: Clock,
    sleeps: Sleeps,
    monotonic: Monotonic,
    sandbox_pki: SandboxPki,
) -> Callable[..., ProtectedSoap]:
    def answers(signer: ExpectedSigner, system: str) -> WsseAnswerPolicy:
        """Answers verified as wiring.py verifies them (TrustLayer.verifier)."""
        return WsseAnswerPolicy(sandbox_pki.truststore, clock=clock, signer=signer, system=system)

    def build(
        wsdl: str,
        path: str,
        system: str,
        *,
        binding: str | None = None,
        policy: DownstreamPolicy = FAST,
    ) -> ProtectedSoap:
        soap: SoapCaller
        if wsdl == "intrahub_v3.wsdl":  # IntraHub's payloads are lxml, as wiring.py builds them
            endpoint = DirectPost(direct, httpx.URL(SANDBOX_BASE + path))
            hub_id = next(h.hub_id for h in sandbox.HUBS if h.key == system)
            verifier = answers(ExpectedSigner("EHP", hub_id), system)
            messages = LxmlMessages(ACTIONS)
            soap = SoapClient(endpoint, messages, system, sign=SamlSigner(clock), verifier=verifier)
        else:
            soap = create_client(
                wsdl_path(wsdl),
                http=direct,
                sign=SamlSigner(clock),
                verifier=answers(EHEALTH_SIGNER, system),
                address=SANDBOX_BASE + path,
                binding=binding,
                system=system,
            )
        resilience = Resilience(system, policy, clock=monotonic, sleep=sleeps)
        return ProtectedSoap(soap, resilience, tokens)  # type: ignore[arg-type]  # fixture typed loosely

    return build


@pytest.fixture
def consent_client(
    protect: Callable[..., ProtectedSoap], sims: Simulators, clock: Clock
) -> ConsentClient:
    return ConsentClient(protect("consent_v3.wsdl", sims.consent.path, "consent"), clock=clock)


@pytest.fixture
def therlink_client(
    protect: Callable[..., ProtectedSoap], sims: Simulators, clock: Clock
) -> TherapeuticLinkClient:
    return TherapeuticLinkClient(
        protect("therlink_v1.wsdl", sims.therlink.path, "therlink"), clock=clock
    )


@pytest.fixture
def addressbook_client(
    protect: Callable[..., ProtectedSoap], sims: Simulators, clock: Clock
) -> AddressBookClient:
    return AddressBookClient(
        protect("addressbook_v1.wsdl", sims.addressbook.path, "addressbook"), clock=clock
    )


@pytest.fixture
def sealing(
    sims: Simulators, clock: Clock, http: httpx.AsyncClient, sandbox_pki: SandboxPki
) -> EteeSealing:
    depot_soap = create_client(
        wsdl_path("etkdepot_v1.wsdl"),
        http=http,
        address=SANDBOX_BASE + sims.etkdepot.path,
        system="etkdepot",
    )
    depot = EtkDepotClient(depot_soap, truststore=sandbox_pki.truststore, clock=clock)
    return EteeSealing(
        depot,
        credentials=lambda actor: sandbox_pki.practitioner(actor.nihii),
        own_etk=lambda actor: EtkId("NIHII", actor.nihii),
        box_key=sandbox_pki.hub_etk,
        truststore=sandbox_pki.truststore,
        clock=clock,
    )


@pytest.fixture
def hub_client(
    protect: Callable[..., ProtectedSoap], sims: Simulators, clock: Clock
) -> Callable[[str], IntraHubClient]:
    def build(key: str) -> IntraHubClient:
        hub = sandbox.hub(key)
        endpoint = protect("intrahub_v3.wsdl", sims.hubs[key].path, key)
        return IntraHubClient(key, hub.hub_id, endpoint, clock=clock)

    return build


@pytest.fixture
def ehbox_client(
    protect: Callable[..., ProtectedSoap], sims: Simulators, clock: Clock, sealing: EteeSealing
) -> EhboxClient:
    ns = "{urn:be:fgov:ehealth:ehbox:wsdl:v3}"
    publication = protect(
        "ehbox_v3.wsdl", sims.ehbox.path, "ehbox", binding=f"{ns}EhBoxPublicationBinding"
    )
    consultation = protect(
        "ehbox_v3.wsdl", sims.ehbox.path, "ehbox", binding=f"{ns}EhBoxConsultationBinding"
    )
    return EhboxClient(publication, consultation, sealing, clock=clock)


@pytest.fixture
def gp_config(sims: Simulators) -> GpSystemConfig:
    client_id, secret = next(iter(SANDBOX_CLIENTS.items()))
    base = SANDBOX_BASE + sims.gp.path
    return GpSystemConfig("gp", f"{base}/fhir", f"{base}/oauth2/token", client_id, secret)


@pytest.fixture
def gp_client(
    direct: DirectClient,
    gp_config: GpSystemConfig,
    clock: Clock,
    sleeps: Sleeps,
    monotonic: Monotonic,
) -> GpSystemClient:
    return GpSystemClient(
        direct, gp_config, Resilience("gp", FAST, clock=monotonic, sleep=sleeps), clock=clock
    )


def actor(key: str) -> Actor:
    who = sandbox.practitioner(key)
    return Actor(who.nihii, who.quality, who.ssin)


def permit(
    patient_key: str,
    actor_key: str = "sarah",
    action: Action = "read-dossier",
    *,
    now: datetime,
    break_the_glass: bool = False,
) -> Permit:
    return mint(
        patient_ssin=sandbox.patient(patient_key).ssin,
        actor_nihii=sandbox.practitioner(actor_key).nihii,
        action=action,
        decision_id="decision-test",
        valid_until=now + timedelta(minutes=5),
        break_the_glass=break_the_glass,
    )
