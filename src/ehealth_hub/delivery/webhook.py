"""The webhook destination: POST the payload as JSON to a URL, the message id as Idempotency-Key.

Configured by ``delivery.webhooks`` (name -> URL). The receiver is expected to de-duplicate on the
``Idempotency-Key`` header (draft-ietf-httpapi-idempotency-key-header) and to answer 2xx with a
JSON object (the receipt). Statuses: 2xx -> delivered; 408, 425, 429 and 5xx -> retryable
(DownstreamUnavailable); other 4xx -> BusinessRejection (parked as failed, the body's first 500
characters as the reason).

The client is aiohttp rather than the hub's usual httpx: a webhook delivery is the hot path of the
outbox, and on the 2-core reference machine aiohttp costs ~0.1 ms of CPU per request where httpx
costs ~1.1 ms (measured with benchmarks/outbox.py's receiver). This module is the one place where
aiohttp exceptions become HubErrors (:func:`translate`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Final

import aiohttp
import orjson

from ehealth_hub.core.errors import (
    BusinessRejection,
    ConfigurationError,
    DownstreamProtocolError,
    DownstreamUnavailable,
    HubError,
)

_RETRYABLE: Final = frozenset({408, 425, 429})


def translate(exc: BaseException, *, system: str, operation: str) -> HubError:
    """The HubError for an aiohttp (or timeout) exception raised while delivering."""
    where: dict[str, Any] = {"system": system, "operation": operation}
    match exc:
        case HubError():
            return exc
        case aiohttp.InvalidURL():
            return ConfigurationError(f"webhook URL unusable: {exc}", **where)
        case TimeoutError() | asyncio.TimeoutError() | aiohttp.ServerTimeoutError():
            return DownstreamUnavailable(f"timeout: {type(exc).__name__}", code="timeout", **where)
        case aiohttp.ClientConnectionError():
            return DownstreamUnavailable(
                f"transport failure: {type(exc).__name__}", code="transport", **where
            )
        case aiohttp.ClientError():
            return DownstreamProtocolError(f"HTTP exchange failed: {type(exc).__name__}", **where)
    raise TypeError(f"translate() handles aiohttp exceptions, not {type(exc).__name__}")


class WebhookSession:
    """One aiohttp session shared by the webhook destinations, opened on first use."""

    def __init__(self, connections: int, timeout_seconds: float = 30.0) -> None:
        self._connections = connections
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        """The session (created inside the running event loop)."""
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._connections)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self._session

    async def aclose(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None


class WebhookDestination:
    """A destination handler posting JSON to ``url``."""

    def __init__(self, name: str, url: str, session: WebhookSession) -> None:
        self.name = name
        self.url = url
        self.session = session

    async def __call__(self, payload: Mapping[str, Any], message_id: str) -> Mapping[str, Any]:
        """Deliver one item; the receiver's JSON answer is the receipt."""
        headers = {"Idempotency-Key": message_id, "Content-Type": "application/json"}
        try:
            async with self.session.get().post(
                self.url, data=orjson.dumps(payload), headers=headers
            ) as response:
                status, body = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise translate(exc, system=self.name, operation="post") from exc
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
