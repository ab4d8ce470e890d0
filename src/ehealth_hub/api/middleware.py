"""ASGI middleware: request ids, structured access log and Prometheus HTTP metrics.

Pure ASGI (no BaseHTTPMiddleware) so streaming and background tasks are untouched and the
overhead per request stays in microseconds.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Final

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ehealth_hub.transport.timing import Spans, close_spans, open_spans, waited

log = structlog.get_logger("ehealth_hub.access")

_SAFE_ID: Final = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


class HttpMetrics:
    """The HTTP metrics of one app, registered in the container's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "ehealth_hub_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "ehealth_hub_http_request_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )


class RequestContextMiddleware:
    """Give every request an id (``X-Request-ID``), log it once, count it, and (``timing``) say
    in ``Server-Timing`` how long it waited for the downstream systems and how long the hub
    itself took (:mod:`ehealth_hub.transport.timing`)."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics, *, timing: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.timing = timing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or uuid.uuid4().hex
        started = time.perf_counter()
        status = 500

        spans, token = open_spans()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = [(b"x-request-id", request_id.encode())]
                if self.timing:
                    extra.append((b"server-timing", _server_timing(spans, started)))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                close_spans(token)
                self._observe(scope, status, time.perf_counter() - started)

    def _observe(self, scope: Scope, status: int, elapsed: float) -> None:
        route = getattr(scope.get("route"), "path", "unmatched")
        method = scope["method"]
        self.metrics.requests.labels(method, route, str(status)).inc()
        self.metrics.latency.labels(method, route).observe(elapsed)
        log.info("http_request", method=method, route=route, status=status, ms=elapsed * 1000)


def _server_timing(spans: Spans, started: float) -> bytes:
    """``downstream`` = the union of the downstream waits; ``hub`` = the rest, so far (ms)."""
    total = (time.perf_counter() - started) * 1000
    downstream = waited(spans) * 1000
    return f"downstream;dur={downstream:.2f}, hub;dur={total - downstream:.2f}".encode()


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SAFE_ID.match(text) else None
    return None
