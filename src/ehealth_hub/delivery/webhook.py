"""The webhook destination: POST the payload as JSON to a URL, the message id as Idempotency-Key.

Configured by ``delivery.webhooks`` (name -> URL). The receiver is expected to de-duplicate on the
``Idempotency-Key`` header (draft-ietf-httpapi-idempotency-key-header) and to answer 2xx with a
JSON object (the receipt). Statuses: 2xx -> delivered; 408, 425, 429 and 5xx -> retryable
(DownstreamUnavailable); other 4xx -> BusinessRejection (parked as failed, the body's first 500
characters as the reason).

The client is the hub's one network path (:mod:`ehealth_hub.transport.network`): a
:class:`~ehealth_hub.transport.network.DirectClient` over aiohttp's connection pool, whose errors
:func:`~ehealth_hub.transport.http_errors.translate_http` turns into HubErrors (a refused connection
or a timeout is retryable, an unusable URL a ConfigurationError). A webhook delivery is the hot
path of the outbox: going straight to the transport, it costs about what raw aiohttp did
(benchmarks/outbox.py), where ``httpx.AsyncClient`` over httpcore cost ten times more CPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import httpx
import orjson

from ehealth_hub.core.errors import (
    BusinessRejection,
    DownstreamProtocolError,
    DownstreamUnavailable,
)
from ehealth_hub.transport.http_errors import HTTPX_ERRORS, translate_http
from ehealth_hub.transport.network import DirectClient, DirectPost, NetworkTransport

_RETRYABLE: Final = frozenset({408, 425, 429})


class WebhookSession:
    """The network client the webhook destinations share (one connection pool), to close."""

    def __init__(self, connections: int, timeout_seconds: float = 30.0) -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.transport = NetworkTransport(limits=limits)
        self.client = DirectClient(self.transport, httpx.Timeout(timeout_seconds))

    async def aclose(self) -> None:
        """Close the pool and its connections."""
        await self.transport.aclose()


class WebhookDestination:
    """A destination handler posting JSON to ``url``."""

    def __init__(self, name: str, url: str, session: WebhookSession) -> None:
        self.name = name
        self.url = url
        self.session = session
        self._endpoint = DirectPost(session.client, httpx.URL(url))  # the URL parsed once

    async def __call__(self, payload: Mapping[str, Any], message_id: str) -> Mapping[str, Any]:
        """Deliver one item; the receiver's JSON answer is the receipt."""
        headers = {"Idempotency-Key": message_id, "Content-Type": "application/json"}
        try:
            response = await self._endpoint.post(orjson.dumps(payload), headers)
        except HTTPX_ERRORS as exc:
            raise translate_http(exc, system=self.name, operation="post") from exc
        status, body = response.status_code, response.content
        where: dict[str, Any] = {"system": self.name, "operation": "post", "code": f"http-{status}"}
        if 200 <= status < 300:
            return _answer(body, status, where)
        if status in _RETRYABLE or status >= 500:
            raise DownstreamUnavailable(f"receiver answered HTTP {status}", **where)
        text = body[:500].decode("utf-8", "replace")
        raise BusinessRejection(f"receiver refused (HTTP {status}): {text}", **where)


def _answer(body: bytes, status: int, where: dict[str, Any]) -> Mapping[str, Any]:
    if not body:
        return {"status": status}
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DownstreamProtocolError("receiver answer is not JSON", **where) from exc
    if not isinstance(answer, dict):
        raise DownstreamProtocolError("receiver answer is not a JSON object", **where)
    return answer
