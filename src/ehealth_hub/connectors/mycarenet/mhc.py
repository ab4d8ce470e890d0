"""MyCareNet Mental Health Care (MHC): the adapter of
:class:`~ehealth_hub.core.ports.MentalHealthCarePort`. ACCEPTANCE-ONLY.

The MHC platform records the sessions of first-line psychological care; its system-to-system
message is not public in what the hub was built from, so this adapter sends the ASSUMED message
of :mod:`ehealth_hub.mappings.mhc` (every assumption in :data:`~ehealth_hub.mappings.mhc.ASSUMED`:
JSON over HTTPS, the practitioner's SAML assertion as credential, the hub's message id as the
session id). ``mycarenet.mhc.shape_verified`` stays false until someone checks it against
MyCareNet's specification; until then the hub refuses to start in production with MHC enabled
(``bootstrap.claims.check_mhc``).

Calls go through the hub's one HTTP path (:class:`~ehealth_hub.transport.network.DirectClient`)
under the endpoint's :class:`~ehealth_hub.transport.resilience.Resilience` (timeout, breaker).
A call is attempted once: a resend is the outbox's, and the platform (assumed) answers a known
session id with its first answer. Errors: unreachable, timeout, 5xx -> DownstreamUnavailable
(the claim is retried); an answer that is not the assumed shape -> DownstreamProtocolError.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any, Final

import httpx
import orjson

from ehealth_hub.core.errors import DownstreamProtocolError
from ehealth_hub.core.ports import Actor
from ehealth_hub.transport.http_errors import HTTPX_ERRORS, status_error, translate_http
from ehealth_hub.transport.network import DirectClient
from ehealth_hub.transport.resilience import Resilience
from ehealth_hub.trust.saml import SamlToken

SYSTEM: Final = "mycarenet.mhc"
OPERATION: Final = "record-session"


class MhcClient:
    """Records psychologist sessions on MHC (assumed message); see the module docstring."""

    def __init__(
        self,
        http: DirectClient,
        url: str,
        tokens: Callable[[Actor], Awaitable[SamlToken]],
        resilience: Resilience,
    ) -> None:
        self.http, self.url, self.tokens = http, url.rstrip("/"), tokens
        self.resilience = resilience

    async def record_session(self, actor: Actor, message: dict[str, object]) -> dict[str, object]:
        """POST the session; the platform's answer (a JSON object)."""
        token = await self.tokens(actor)
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": "SAML " + base64.b64encode(token.assertion).decode("ascii"),
        }
        body = orjson.dumps(message)

        async def attempt() -> dict[str, object]:
            try:
                response = await self.http.request(
                    "POST", f"{self.url}/sessions", headers=headers, content=body
                )
            except HTTPX_ERRORS as exc:
                raise translate_http(exc, system=SYSTEM, operation=OPERATION) from exc
            return _answer(response)

        return await self.resilience.call(attempt, operation=OPERATION, idempotent=False)


def _answer(response: httpx.Response) -> dict[str, Any]:
    if response.status_code not in (200, 201, 422):
        raise status_error(response.status_code, system=SYSTEM, operation=OPERATION)
    try:
        body = response.json()
    except ValueError as exc:
        raise DownstreamProtocolError(
            "MHC answer is not JSON", system=SYSTEM, operation=OPERATION
        ) from exc
    if not isinstance(body, dict):
        raise DownstreamProtocolError(
            "MHC answer is not a JSON object", system=SYSTEM, operation=OPERATION
        )
    return body
