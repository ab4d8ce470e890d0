"""Wiring of MyCareNet Mental Health Care (psychologist sessions) for the composition root, and
the start-up refusal that keeps its ACCEPTANCE-ONLY adapter out of production.

:class:`LazyMhc` builds :class:`~ehealth_hub.connectors.mycarenet.mhc.MhcClient` on first use over
the connector stack (its httpx client for ``mycarenet.mhc.url``: in the sandbox, the in-process
simulator; the trust layer's STS tokens), with the endpoint's resilience policy
(``endpoints.timeouts["mycarenet.mhc"]``). :func:`check_mhc` runs first thing in
``build_container``.
"""

from __future__ import annotations

import asyncio

from ehealth_hub.bootstrap.connectors import ConnectorStack
from ehealth_hub.bootstrap.wiring import policy
from ehealth_hub.connectors.mycarenet.mhc import SYSTEM, MhcClient
from ehealth_hub.core.errors import ConfigurationError
from ehealth_hub.core.ports import Actor
from ehealth_hub.settings import Settings
from ehealth_hub.transport.resilience import Resilience
from ehealth_hub.trust.saml import SamlToken


def check_mhc(settings: Settings) -> None:
    """ConfigurationError when production would start with the acceptance-only MHC adapter."""
    conf = settings.mycarenet.mhc
    if settings.env == "production" and conf.enabled and not conf.shape_verified:
        raise ConfigurationError(
            "mycarenet.mhc is enabled in production but its message shape is not verified: the "
            "MHC adapter sends an ASSUMED message (mappings/mhc.py ASSUMED) and is acceptance-only."
            " Verify it against MyCareNet's MHC specification and set "
            "mycarenet.mhc.shape_verified = true, or set mycarenet.mhc.enabled = false",
            system="mycarenet.mhc",
            code="mhc-acceptance-only",
        )


class LazyMhc:
    """The MHC port, built on first use over the connector stack."""

    def __init__(self, settings: Settings, stack: ConnectorStack) -> None:
        self.settings, self.stack = settings, stack
        self._built: MhcClient | None = None
        self._lock = asyncio.Lock()

    async def _client(self) -> MhcClient:
        async with self._lock:
            if self._built is None:
                await self.stack.get()
                http, trust = self.stack.http, self.stack.trust
                if http is None or trust is None:
                    raise ConfigurationError(
                        "the connector stack has no httpx clients or trust layer", system=SYSTEM
                    )

                async def tokens(actor: Actor) -> SamlToken:
                    return await trust.token(actor.nihii, actor.quality)

                url = self.settings.mycarenet.mhc.url
                resilience = Resilience(SYSTEM, policy(self.settings.endpoints, SYSTEM))
                self._built = MhcClient(http.direct(url), url, tokens, resilience)
            return self._built

    async def record_session(self, actor: Actor, message: dict[str, object]) -> dict[str, object]:
        return await (await self._client()).record_session(actor, message)
