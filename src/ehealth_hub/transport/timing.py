"""How long one API request waited for the downstream systems, for its ``Server-Timing`` header.

W3C Server Timing (Working Draft, 2023): ``Server-Timing: downstream;dur=12.3, hub;dur=4.1``
tells a client (and a benchmark) how much of a response's latency the eHealth systems took
and how much was the hub's own work. The connectors' httpx clients carry :func:`event_hooks`
and :class:`~.network.DirectPost` calls :func:`record`: each call's wait (request sent ->
answer) is recorded in the request's span list, a context variable the API middleware opens
per request; the source calls a read makes concurrently overlap, so what counts is the union
of their waits, not the sum.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from typing import Any, Final

import httpx

Spans = list[tuple[float, float]]
_SPANS: ContextVar[Spans | None] = ContextVar("ehealth_hub_downstream_spans", default=None)
_SENT: Final = "ehealth_hub_sent"


def open_spans() -> tuple[Spans, Token[Spans | None]]:
    """Start recording the downstream waits of the current request (and its tasks)."""
    spans: Spans = []
    return spans, _SPANS.set(spans)


def close_spans(token: Token[Spans | None]) -> None:
    """Stop recording for the current request."""
    _SPANS.reset(token)


def waited(spans: Spans) -> float:
    """Seconds during which at least one downstream call was pending (union of the spans)."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(spans):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def record(sent: float, answered: float) -> None:
    """Add one call's wait (``perf_counter`` times) to the current request's spans, if any."""
    spans = _SPANS.get()
    if spans is not None:
        spans.append((sent, answered))


async def _sent(request: httpx.Request) -> None:
    request.extensions[_SENT] = time.perf_counter()


async def _answered(response: httpx.Response) -> None:
    sent = response.request.extensions.get(_SENT)
    if sent is not None:
        record(sent, time.perf_counter())


def event_hooks() -> dict[str, list[Callable[[Any], Awaitable[None]]]]:
    """httpx ``event_hooks`` recording each call's wait in the current request's spans."""
    return {"request": [_sent], "response": [_answered]}
