"""Wiring of the private insurers for the composition root: the ``insurer`` delivery destination
(consent gate -> minimal Claim -> the insurer's FHIR API) and the hook the ``mycarenet``
destination calls once the mutuality answered (:func:`bootstrap.claims.build_claims` calls
:func:`build_insurers`). Its retry policy is ``delivery.policies.insurer`` (else the default)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.bootstrap.connectors import ConnectorStack
from ehealth_hub.bootstrap.wiring import policy
from ehealth_hub.connectors.gp import GpSystemClient
from ehealth_hub.connectors.insurer import InsurerClient, insurer_config
from ehealth_hub.core.errors import ConfigurationError
from ehealth_hub.delivery.engine import DeliveryEngine
from ehealth_hub.services.gate import PermitGate
from ehealth_hub.services.insurer_claims import DESTINATION, InsurerClaims, InsurerDelivery
from ehealth_hub.settings import Settings
from ehealth_hub.transport.resilience import Resilience


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
                    insurer_config(key, conf),
                    Resilience(name, policy(self.settings.endpoints, name)),
                    clock=self.clock,
                )
                self._built[key] = InsurerClient(fhir)
            return self._built[key]

    async def submit(self, insurer: str, claim: dict[str, Any]) -> dict[str, Any]:
        return await (await self._client(insurer)).submit(claim)


def build_insurers(
    settings: Settings,
    engine: AsyncEngine,
    connectors: ConnectorStack,
    *,
    gate: PermitGate,
    delivery: DeliveryEngine,
) -> InsurerClaims:
    """Register the ``insurer`` destination; the hook for the ``mycarenet`` destination."""
    insurers = settings.payers.insurers
    if DESTINATION not in delivery.destinations:
        adapters = LazyInsurers(settings, connectors)
        delivery.register(DESTINATION, InsurerDelivery(gate, adapters, insurers))
    return InsurerClaims(engine, insurers)
