"""What can go wrong in an HTTP exchange, said once: aiohttp's and asyncio's exceptions as httpx's
(:func:`httpx_error`), and httpx's as HubErrors (:func:`translate_http`, :func:`status_error`).

Every exchange of the hub, over the network (:mod:`.network`) or in-process to the sandbox
simulators (``httpx.ASGITransport``), raises httpx exceptions only; the SOAP clients, the GP
client, the readiness probes and the webhook deliveries translate them with the one table here.
"""

from __future__ import annotations

from typing import Any, Final

import aiohttp
import httpx

from ehealth_hub.core.errors import (
    ConfigurationError,
    DownstreamProtocolError,
    DownstreamUnavailable,
    HubError,
)

HTTPX_ERRORS: Final = (httpx.HTTPError, httpx.InvalidURL, httpx.CookieConflict, httpx.StreamError)
"""What an exchange may raise; :func:`translate_http` takes each."""
_UNAVAILABLE_STATUS: Final = frozenset({408, 429, 500, 502, 503, 504})
_AIOHTTP: Final[tuple[tuple[type[BaseException], type[httpx.TransportError]], ...]] = (
    # most specific first: the first match names the failure
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (TimeoutError, httpx.TimeoutException),  # asyncio.TimeoutError is TimeoutError since 3.11
    (aiohttp.ClientProxyConnectionError, httpx.ProxyError),
    (aiohttp.ClientHttpProxyError, httpx.ProxyError),
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # refused, DNS, TLS handshake
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientError, httpx.NetworkError),
)


def httpx_error(exc: aiohttp.ClientError | TimeoutError, request: httpx.Request) -> httpx.HTTPError:
    """The httpx exception naming what aiohttp or asyncio raised during ``request``."""
    mapped = next(to for cls, to in _AIOHTTP if isinstance(exc, cls))
    return mapped(type(exc).__name__, request=request)


def translate_http(exc: BaseException, *, system: str, operation: str) -> HubError:
    """The HubError for an httpx exception::

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
