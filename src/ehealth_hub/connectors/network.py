"""The connectors' HTTP client for the network: httpx's API over aiohttp's connections.

Why httpx-aiohttp (``AiohttpTransport``) rather than httpx's own transport: every downstream call
of a read pays the HTTP client's CPU, and httpx's httpcore/anyio stack spent 1.11 ms per
request against 0.20 ms for the same request through aiohttp's connection pool and parser
(loopback, 12 KB SOAP request, 3 KB answer, 20 in flight; ``docs/benchmarks.md``). The
connectors keep one API (``httpx.AsyncClient``, ``httpx.Response``) and one error translation
(:func:`ehealth_hub.connectors.soap.translate`), so nothing above this module knows aiohttp.

Errors: httpx-aiohttp maps aiohttp's connection, timeout, payload and proxy errors onto httpx's
exception classes; :class:`NetworkTransport` maps whatever else aiohttp or asyncio raise
(another ``aiohttp.ClientError``, a bare ``asyncio.TimeoutError``) onto ``httpx.NetworkError`` /
``httpx.TimeoutException``, so that a foreign exception never crosses the connector boundary.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Final

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from ehealth_hub.connectors.timing import event_hooks

LIMITS: Final = httpx.Limits(max_connections=200, max_keepalive_connections=100)
"""Connections per client: the hubs, the STS, MyCareNet and the GP systems share it."""


@contextlib.contextmanager
def _as_httpx(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except httpx.HTTPError:
        raise
    except TimeoutError as exc:  # asyncio.TimeoutError is TimeoutError since 3.11
        raise httpx.TimeoutException(f"timeout: {exc}", request=request) from exc
    except aiohttp.ClientError as exc:
        raise httpx.NetworkError(f"{type(exc).__name__}: {exc}", request=request) from exc


class _MappedStream(httpx.AsyncByteStream):
    """The response body, read with the same error mapping as the request."""

    def __init__(self, inner: httpx.AsyncByteStream, request: httpx.Request) -> None:
        self.inner, self.request = inner, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx(self.request):
            async for chunk in self.inner:
                yield chunk

    async def aclose(self) -> None:
        with _as_httpx(self.request):
            await self.inner.aclose()


class NetworkTransport(AiohttpTransport):
    """httpx-aiohttp's transport, with every aiohttp/asyncio failure as an httpx exception."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with _as_httpx(request):
            response = await super().handle_async_request(request)
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)  # an async transport's response
        response.stream = _MappedStream(stream, request)
        return response


def network_client(*, timeout: float, limits: httpx.Limits = LIMITS) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` over :class:`NetworkTransport` (TLS verified, env proxies),
    timing its calls for ``Server-Timing`` (:mod:`.timing`)."""
    return httpx.AsyncClient(
        transport=NetworkTransport(limits=limits), timeout=timeout, event_hooks=event_hooks()
    )
