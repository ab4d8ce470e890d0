"""The hub's one HTTP client path for the network (connectors, STS, GP systems, webhook deliveries):
httpx's request and response objects over aiohttp's connection pool and parser.

Why aiohttp underneath rather than httpx's own transport: every downstream call of a read and
every webhook delivery pays the HTTP client's CPU, and httpx's httpcore/anyio stack spent 1.11 ms
per request against 0.20 ms for the same request through aiohttp (loopback, 12 KB SOAP request,
3 KB answer, 20 in flight; ``docs/benchmarks.md``). :class:`NetworkTransport` is an httpx
transport that sends through one ``aiohttp.ClientSession`` and reads each answer whole (the hub
reads every answer whole), so the callers keep one API (``httpx.Request``, ``httpx.Response``),
the in-process sandbox (``httpx.ASGITransport``) is a drop-in replacement for it, and nothing
above this module knows aiohttp.

Calls skip ``httpx.AsyncClient`` (:class:`DirectClient`): they go straight to a transport, and
each call's wait is recorded for ``Server-Timing`` (:mod:`.timing`). Errors: whatever aiohttp or
asyncio raise leaves the transport as the httpx exception that names it
(:func:`.http_errors.httpx_error`), which :func:`.http_errors.translate_http` makes a HubError.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
import httpx
import yarl

from ehealth_hub import __version__
from ehealth_hub.transport.http_errors import httpx_error
from ehealth_hub.transport.timing import event_hooks, record

LIMITS: Final = httpx.Limits(max_connections=200, max_keepalive_connections=100)
"""Connections per client: the hubs, the STS, MyCareNet and the GP systems share it."""


def _timeouts(timeout: Mapping[str, float | None]) -> aiohttp.ClientTimeout:
    """httpx's connect/read/pool timeouts as aiohttp's (write has no aiohttp counterpart)."""
    return aiohttp.ClientTimeout(
        sock_connect=timeout.get("connect"),
        sock_read=timeout.get("read"),
        connect=timeout.get("pool"),
    )


class NetworkTransport(httpx.AsyncBaseTransport):
    """An httpx transport over one aiohttp session (TLS verified as httpx verifies: its default
    context), opened on first use inside the running event loop; no redirects, no proxies, no
    decompression by aiohttp (httpx decodes the body as its headers say)."""

    def __init__(self, *, limits: httpx.Limits = LIMITS) -> None:
        self._limits = limits
        self._ssl = httpx.create_ssl_context()
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._limits.max_connections or 0,
                keepalive_timeout=self._limits.keepalive_expiry,
                ssl=self._ssl,
            )
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; the answer with its body read (aiohttp failures as httpx's)."""
        content = await request.aread()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        limits = request.extensions.get("timeout", {})
        response = await self._send(request.method, request.url, headers, content, limits, request)
        response.request = request
        return response

    async def post(
        self, url: httpx.URL, content: bytes, headers: Mapping[str, str], limits: httpx.Timeout
    ) -> httpx.Response:
        """A POST without an ``httpx.Request`` built first (:class:`DirectPost`: every SOAP call
        and webhook delivery): same session, errors and answer (which carries no request)."""
        return await self._send("POST", url, headers, content, limits.as_dict(), None)

    async def _send(
        self,
        method: str,
        url: httpx.URL,
        headers: Mapping[str, str] | list[tuple[str, str]],
        content: bytes,
        limits: Mapping[str, float | None],
        request: httpx.Request | None,
    ) -> httpx.Response:
        try:
            async with self._client().request(
                method,
                yarl.URL(str(url), encoded=True),  # httpx already encoded it
                headers=headers,
                data=content or None,
                allow_redirects=False,
                timeout=_timeouts(limits),
            ) as answer:
                body = await answer.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            failed = request or httpx.Request(method, url, headers=headers)
            raise httpx_error(exc, failed) from exc
        reason = (answer.reason or "").encode()
        extensions = {"http_version": b"HTTP/1.1", "reason_phrase": reason}
        return httpx.Response(
            answer.status, headers=answer.raw_headers, content=body, extensions=extensions
        )

    async def aclose(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def network_client(
    *,
    timeout: float,
    limits: httpx.Limits = LIMITS,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` over ``transport`` (default: a :class:`NetworkTransport`),
    timing its calls for ``Server-Timing`` (:mod:`.timing`)."""
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
        """Send ``content``; the answer, read (over the network without an ``httpx.Request``:
        ~20 us less CPU a call, the outbox's hot path)."""
        transport = self.client.transport
        if not isinstance(transport, NetworkTransport):
            return await self.client.request("POST", self.url, content=content, headers=headers)
        sent = time.perf_counter()
        all_headers = {**DEFAULT_HEADERS, **headers}
        response = await transport.post(self.url, content, all_headers, self.client.timeout)
        record(sent, time.perf_counter())
        return response
