"""Wiring of the eHealth connectors (issue 5), for the composition root only.

``settings.endpoints`` -> one httpx client per world (the in-process simulators of
``fixtures.simulate`` for every ``*.sandbox`` URL, a real client otherwise) -> the trust layer
(STS tokens, ETK depot) -> Consent, Therapeutic Link, one IntraHub client per configured hub (+ the
cross-hub exclusions), AddressBook, eHealthBox and the GP systems, each with its own
:class:`~ehealth_hub.transport.resilience.Resilience` (timeout, retries, breaker).

The stack is built on first use (:class:`ConnectorStack`, this module, with its readiness
checks): deriving the sandbox PKI costs seconds, and a container whose ports are replaced by fakes
(API tests) never pays it. The building itself is :mod:`.wiring`; the port objects handed to the
gate and the services (:class:`~ehealth_hub.bootstrap.lazy_ports.LazyPorts`) forward to the
built stack.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from ehealth_hub.bootstrap.wiring import (
    Clock,
    EhealthConnectors,
    HttpClients,
    build_connectors,
    is_sandbox_url,
)
from ehealth_hub.core.errors import DownstreamUnavailable
from ehealth_hub.settings import Settings
from ehealth_hub.transport.http_errors import translate_http
from ehealth_hub.transport.network import LIMITS, NetworkTransport, network_client
from ehealth_hub.transport.timing import event_hooks
from ehealth_hub.trust.layer import Identities, TrustLayer


def _sandbox_identities(directory: Path) -> Identities:
    """The sandbox PKI's identities, imported only when the trust layer asks for them."""
    from ehealth_hub.fixtures.pki import sandbox_identities  # sandbox only: never in production

    return sandbox_identities(directory)


if TYPE_CHECKING:
    from ehealth_hub.fixtures.pki import SandboxPki


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
        transports: dict[str, httpx.AsyncBaseTransport] = {}
        simulated = settings.is_sandbox and any(is_sandbox_url(u) for u in urls)
        pki = self._sandbox_pki(simulated)
        if pki is not None and simulated:
            from ehealth_hub.fixtures.simulate import build_simulators  # sandbox only

            self.simulators = build_simulators(pki, clock=self.clock)
            transports["sandbox"] = httpx.ASGITransport(app=self.simulators.app)
            sandbox_client = httpx.AsyncClient(
                transport=transports["sandbox"],
                base_url="http://simulators.sandbox",
                event_hooks=event_hooks(),
            )
        transports["network"] = NetworkTransport(limits=LIMITS)
        network = network_client(
            timeout=settings.endpoints.timeout_seconds, transport=transports["network"]
        )
        self.http = HttpClients(sandbox_client, network, transports)
        trust = self.trust = TrustLayer.from_settings(
            settings,
            sts_http=self.http.for_url(settings.trust.sts_url),
            etk_http=self.http.for_url(settings.trust.etkdepot_url),
            clock=self.clock,
            sandbox=_sandbox_identities,
        )
        return build_connectors(settings, trust=trust, http=self.http, clock=self.clock)

    def _sandbox_pki(self, simulated: bool) -> SandboxPki | None:
        """The sandbox PKI (derived once, then read from disk) when something needs it: the
        simulators, or trust files left unset (settings allow that in the sandbox only)."""
        conf = self.settings.trust
        if simulated or conf.truststore_file is None or conf.sts_certificate_file is None:
            from ehealth_hub.fixtures.pki import SandboxPki  # sandbox only: not loaded otherwise

            return SandboxPki.load_or_create(self.pki_dir)
        return None

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
                raise translate_http(exc, system=name, operation="ready") from exc
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
