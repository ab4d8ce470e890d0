"""The hub's HTTP client for the network (connectors and webhook deliveries): httpx's API over
aiohttp's connections, and the one translation of its errors into HubErrors
(:func:`translate_http`).

Why httpx-aiohttp (``AiohttpTransport``) rather than httpx's own transport: every downstream call
of a read pays the HTTP client's CPU, and httpx's httpcore/anyio stack spent 1.11 ms per
request against 0.20 ms for the same request through aiohttp's connection pool and parser
(loopback, 12 KB SOAP request, 3 KB answer, 20 in flight; ``docs/benchmarks.md``). The
callers keep one API (``httpx.AsyncClient``, ``httpx.Response``) and one error translation
(:func:`translate_http`), so nothing above this module knows aiohttp.

SOAP calls, the GP systems' REST calls and the webhook deliveries skip ``httpx.AsyncClient``
itself (:class:`DirectClient`): they go straight to the client's transport, with httpx's request and
response objects.

Errors: httpx-aiohttp maps aiohttp's connection, timeout, payload and proxy errors onto httpx's
exception classes; :class:`NetworkTransport` maps whatever else aiohttp or asyncio raise
(another ``aiohttp.ClientError``, a bare ``asyncio.TimeoutError``) onto ``httpx.NetworkError`` /
``httpx.TimeoutException``, so that a foreign exception never crosses the transport boundary, and
corrects httpx-aiohttp's one wrong mapping (a refused connection is a ``ConnectError``, not a
``ConnectTimeout``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from ehealth_hub import __version__
from ehealth_hub.errors import (
    ConfigurationError,
    DownstreamProtocolError,
    DownstreamUnavailable,
    HubError,
)
from ehealth_hub.transport.timing import event_hooks, record

_UNAVAILABLE_STATUS: Final = frozenset({408, 429, 500, 502, 503, 504})
LIMITS: Final = httpx.Limits(max_connections=200, max_keepalive_connections=100)
"""Connections per client: the hubs, the STS, MyCareNet and the GP systems share it."""


HTTPX_ERRORS: Final = (httpx.HTTPError, httpx.InvalidURL, httpx.CookieConflict, httpx.StreamError)
"""What an exchange through this module may raise; :func:`translate_http` takes each."""


@contextlib.contextmanager
def as_httpx(request: httpx.Request) -> Iterator[None]:
    """Re-raise what aiohttp or asyncio raise inside the block as the httpx exception."""
    try:
        yield
    except httpx.ConnectTimeout as exc:
        cause = exc.__cause__
        if isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(cause, TimeoutError):
            # httpx-aiohttp maps every ClientConnectionError (a refused connection too) to
            # ConnectTimeout: only a timeout is one
            raise httpx.ConnectError(type(cause).__name__, request=request) from cause
        raise
    except httpx.HTTPError:
        raise
    except TimeoutError as exc:  # asyncio.TimeoutError is TimeoutError since 3.11
        raise httpx.TimeoutException(f"timeout: {exc}", request=request) from exc
    except aiohttp.InvalidURL as exc:  # as httpx-aiohttp maps InvalidUrlClientError
        raise httpx.UnsupportedProtocol(type(exc).__name__, request=request) from exc
    except aiohttp.ClientError as exc:
        raise httpx.NetworkError(type(exc).__name__, request=request) from exc


def translate_http(exc: BaseException, *, system: str, operation: str) -> HubError:
    """The HubError for an httpx exception (what every exchange here raises)::

    timeouts                                    -> DownstreamUnavailable code "timeout"
    network, remote protocol, proxy errors      -> DownstreamUnavailable code "transport"
    HTTPStatusError                             -> by status (:func:`status_error`)
    invalid URL, unsupported scheme             -> ConfigurationError
    others (decoding, redirects, streams, ...)  -> DownstreamProtocolError
    """
    if isinstance(exc, HubError):
        return exc
    if not isinstance(exc, HTTPX_ERRORS):
        raise TypeError(f"translate_http() handles httpx exceptions, not {type(exc).__name__}")
    name = type(exc).__name__
    where: dict[str, Any] = {"system": system, "operation": operation}
    if isinstance(exc, httpx.HTTPStatusError):
        return status_error(exc.response.status_code, **where)
    if isinstance(exc, httpx.TimeoutException):
        return DownstreamUnavailable(f"timeout: {name}", code="timeout", **where)
    if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError | httpx.ProxyError):
        return DownstreamUnavailable(f"transport failure: {name}", code="transport", **where)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return ConfigurationError(f"endpoint URL unusable: {exc}", **where)
    return DownstreamProtocolError(f"HTTP exchange failed: {name}", **where)


def status_error(status: int, *, system: str, operation: str) -> HubError:
    """An HTTP error status: 408, 429 and 5xx are unavailability, others a protocol error."""
    where: dict[str, Any] = {"system": system, "operation": operation, "code": f"http-{status}"}
    if status in _UNAVAILABLE_STATUS or status >= 500:
        return DownstreamUnavailable(f"HTTP {status}", **where)
    return DownstreamProtocolError(f"unexpected HTTP {status}", **where)


class _MappedStream(httpx.AsyncByteStream):
    """The response body, read with the same error mapping as the request."""

    def __init__(self, inner: httpx.AsyncByteStream, request: httpx.Request) -> None:
        self.inner, self.request = inner, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with as_httpx(self.request):
            async for chunk in self.inner:
                yield chunk

    async def aclose(self) -> None:
        with as_httpx(self.request):
            await self.inner.aclose()


class NetworkTransport(AiohttpTransport):
    """httpx-aiohttp's transport, with every aiohttp/asyncio failure as an httpx exception."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with as_httpx(request):
            response = await super().handle_async_request(request)
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)  # an async transport's response
        response.stream = _MappedStream(stream, request)
        return response


def network_client(
    *,
    timeout: float,
    limits: httpx.Limits = LIMITS,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` over ``transport`` (default: a :class:`NetworkTransport`: TLS
    verified, env proxies), timing its calls for ``Server-Timing`` (:mod:`.timing`)."""
    return httpx.AsyncClient(
        transport=transport or NetworkTransport(limits=limits),
        timeout=timeout,
        event_hooks=event_hooks(),
    )


DEFAULT_HEADERS: Final = {
    "User-Agent": f"ehealth-hub/{__version__}",
    "Accept-Encoding": "gzip, deflate",
}
"""Sent on every :class:`DirectClient` call (httpx decodes a compressed answer)."""


@dataclass(frozen=True, slots=True)
class DirectClient:
    """Calls straight through an httpx transport: the connectors' way to the SOAP endpoints and
    the GP systems.

    Why not ``httpx.AsyncClient``: per call the client parses the URL, merges headers and
    cookies, walks its auth and redirect machinery and extracts cookies from the answer through
    ``http.cookiejar``: 140 us of CPU per call on the benchmark machine, as much as the exchange
    itself (``docs/benchmarks.md``). The connectors want none of it: no cookies, no redirects (a
    3xx is an error status like any other), credentials in explicit headers. The transport is a
    client's (same pool, TLS and error mapping) and each call's wait is recorded for
    ``Server-Timing``.
    """

    transport: httpx.AsyncBaseTransport
    """The transport of the client this world uses (network or sandbox)."""
    timeout: httpx.Timeout
    """Connect/read/write/pool timeouts, as the client would apply them."""

    async def request(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        headers: Mapping[str, str] | None = None,
        **options: Any,
    ) -> httpx.Response:
        """One exchange (``options``: httpx.Request's ``params``, ``content``, ``data``,
        ``json``); the answer with its body read and the connection released."""
        request = httpx.Request(
            method,
            url,
            headers={**DEFAULT_HEADERS, **(headers or {})},
            extensions={"timeout": self.timeout.as_dict()},
            **options,
        )
        sent = time.perf_counter()
        response = await self.transport.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        finally:
            await response.aclose()
        record(sent, time.perf_counter())
        return response


@dataclass(frozen=True, slots=True)
class DirectPost:
    """POSTs to one SOAP endpoint, its URL parsed once."""

    client: DirectClient
    """How the calls go out."""
    url: httpx.URL
    """The endpoint."""

    async def post(self, content: bytes, headers: Mapping[str, str]) -> httpx.Response:
        """Send ``content``; the answer, read."""
        return await self.client.request("POST", self.url, content=content, headers=headers)
