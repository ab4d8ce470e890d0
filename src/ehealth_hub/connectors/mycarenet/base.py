"""What the three MyCareNet adapters share: a SOAP client, the envelope, STS tokens, a clock.

Every call binds the acting practitioner's SAML holder-of-key token for the WS-Security signer
(:func:`ehealth_hub.trust.wsse.use_token`) and logs with masked identifiers only.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from ehealth_hub.connectors.mycarenet.envelope import Envelope
from ehealth_hub.core.ports import Actor
from ehealth_hub.transport.soap import SoapClient
from ehealth_hub.trust.credentials import Credential
from ehealth_hub.trust.saml import SamlToken
from ehealth_hub.trust.wsse import use_token

TokenSource = Callable[[Actor], Awaitable[SamlToken]]
"""The STS: a holder-of-key token for the actor (cached by the STS client)."""


class MyCareNetService:
    """Base of the adapters; see the module docstring."""

    system = "mycarenet"

    def __init__(
        self,
        soap: SoapClient,
        envelope: Envelope,
        tokens: TokenSource,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.soap, self.envelope, self.tokens, self.clock = soap, envelope, tokens, clock

    async def call(self, actor: Actor, operation: str, **body: Any) -> Any:
        """Call ``operation`` signed with the actor's token; errors already translated."""
        token = await self.tokens(actor)
        with use_token(token):
            return await self.soap.call(operation, **body)

    async def care_provider_key(self, actor: Actor) -> Credential:
        """The key the actor's token is bound to: the care provider's own, which signs XAdES."""
        return (await self.tokens(actor)).holder

    def request_attributes(self) -> dict[str, Any]:
        """The Id and IssueInstant every SendRequest carries."""
        return {"Id": "_" + secrets.token_hex(16), "IssueInstant": self.clock()}
