"""A SOAP endpoint called as an actor: the actor's SAML holder-of-key token bound for the call, the
call itself under the endpoint's :class:`~ehealth_hub.transport.resilience.Resilience` (timeout,
retries of reads, circuit breaker). The eHealth connectors and the MyCareNet adapters call their
services through it; errors leave as HubError (the SOAP client translates foreign ones).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from ehealth_hub.transport.resilience import Resilience
from ehealth_hub.trust.saml import SamlToken
from ehealth_hub.trust.wsse import use_token

if TYPE_CHECKING:  # the actor is the connectors' vocabulary; only its type is needed here
    from ehealth_hub.core.ports import Actor

TokenSource = Callable[["Actor"], Awaitable[SamlToken]]
"""Gives the SAML holder-of-key token to act as ``actor`` (the STS client's cache in production)."""


class SoapCaller(Protocol):
    """A SOAP endpoint that signs with the bound token and translates its own foreign errors."""

    @property
    def call(self) -> Callable[..., Awaitable[Any]]:
        """``call(operation, **parts)``; errors leave as HubError."""
        ...


class ProtectedSoap:
    """A SOAP endpoint called as an actor (SAML HoK token bound) under a :class:`Resilience`."""

    def __init__(self, soap: SoapCaller, resilience: Resilience, tokens: TokenSource) -> None:
        self.soap, self.resilience, self.tokens = soap, resilience, tokens

    async def call(self, actor: Actor, operation: str, *, idempotent: bool, **kwargs: Any) -> Any:
        """Call ``operation`` with the actor's token; errors leave as HubError."""
        token = await self.tokens(actor)

        async def attempt() -> Any:
            with use_token(token):
                return await self.soap.call(operation, **kwargs)

        return await self.resilience.call(attempt, operation=operation, idempotent=idempotent)
