"""Private insurers' claims APIs: FHIR R4 with OAuth2 client credentials (bilateral, no standard).

The port is :class:`InsurerPort` (one call: submit a Claim, receive the ClaimResponse). The adapter
reuses the GP connector's FHIR + OAuth2 client path (:class:`~ehealth_hub.connectors.gp.
GpSystemClient`: token cache, one retry on 401, httpx errors translated, 4xx business answers
as BusinessRejection) rather than a second HTTP client. :class:`LazyInsurers` builds one adapter
per configured insurer on first use, over the connector stack's httpx clients (in the sandbox,
the in-process insurer simulator).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from ehealth_hub.connectors.gp import GpSystemClient, GpSystemConfig
from ehealth_hub.connectors.resilience import Resilience
from ehealth_hub.connectors.setup import ConnectorStack
from ehealth_hub.connectors.wiring import policy
from ehealth_hub.errors import ConfigurationError, DownstreamProtocolError
from ehealth_hub.settings import Settings
from ehealth_hub.settings.payers import InsurerSettings


class InsurerPort(Protocol):
    """A private insurer's claims API."""

    async def submit(self, insurer: str, claim: dict[str, Any]) -> dict[str, Any]:
        """Send ``claim`` to the insurer with key ``insurer``; its ClaimResponse."""
        ...


class InsurerClient:
    """One insurer's claims API (``POST {base}/Claim/$submit``)."""

    def __init__(self, fhir: GpSystemClient) -> None:
        self.fhir = fhir

    async def submit(self, claim: dict[str, Any]) -> dict[str, Any]:
        answer = await self.fhir.post_resource("Claim/$submit", claim, operation="claim-submit")
        if answer.get("resourceType") != "ClaimResponse":
            raise DownstreamProtocolError(
                f"the insurer answered a {answer.get('resourceType')}, not a ClaimResponse",
                system=self.fhir.name,
                operation="claim-submit",
            )
        return answer


def _config(key: str, conf: InsurerSettings) -> GpSystemConfig:
    return GpSystemConfig(
        f"insurer.{key}",
        conf.base_url,
        conf.token_url,
        conf.client_id,
        conf.client_secret,
        scope="system/Claim.write",
    )


class LazyInsurers:
    """Every configured insurer's adapter, built on first use over the connector stack."""

    def __init__(
        self,
        settings: Settings,
        stack: ConnectorStack,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings, self.stack, self.clock = settings, stack, clock
        self._built: dict[str, InsurerClient] = {}
        self._lock = asyncio.Lock()

    async def _client(self, key: str) -> InsurerClient:
        conf = self.settings.payers.insurers.get(key)
        if conf is None:
            raise ConfigurationError(f"no insurer {key!r} is configured", system="insurer")
        async with self._lock:
            if key not in self._built:
                await self.stack.get()
                if self.stack.http is None:
                    raise ConfigurationError(
                        "the connector stack has no httpx clients", system="insurer"
                    )
                name = f"insurer.{key}"
                fhir = GpSystemClient(
                    self.stack.http.direct(conf.base_url),
                    _config(key, conf),
                    Resilience(name, policy(self.settings.endpoints, name)),
                    clock=self.clock,
                )
                self._built[key] = InsurerClient(fhir)
            return self._built[key]

    async def submit(self, insurer: str, claim: dict[str, Any]) -> dict[str, Any]:
        return await (await self._client(insurer)).submit(claim)
