"""Private insurers' claims APIs: FHIR R4 with OAuth2 client credentials (bilateral, no standard).

The port is :class:`InsurerPort` (one call: submit a Claim, receive the ClaimResponse). The adapter
reuses the GP connector's FHIR + OAuth2 client path (:class:`~ehealth_hub.connectors.gp.
GpSystemClient`: token cache, one retry on 401, httpx errors translated, 4xx business answers
as BusinessRejection) rather than a second HTTP client; ``bootstrap.insurers.LazyInsurers``
builds one adapter per configured insurer on first use, over the connector stack's httpx clients
(in the sandbox, the in-process insurer simulator).
"""

from __future__ import annotations

from typing import Any, Protocol

from ehealth_hub.connectors.gp import GpSystemClient, GpSystemConfig
from ehealth_hub.core.errors import DownstreamProtocolError
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


def insurer_config(key: str, conf: InsurerSettings) -> GpSystemConfig:
    """The OAuth2 FHIR client configuration of insurer ``key``."""
    return GpSystemConfig(
        f"insurer.{key}",
        conf.base_url,
        conf.token_url,
        conf.client_id,
        conf.client_secret,
        scope="system/Claim.write",
    )
