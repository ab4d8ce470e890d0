"""Downstream timing for ``Server-Timing``: a request's calls' waits, overlaps counted once."""

from __future__ import annotations

import asyncio

from ehealth_hub.transport.network import network_client
from ehealth_hub.transport.timing import close_spans, open_spans, waited


def test_overlapping_waits_count_once() -> None:
    assert waited([(0.0, 1.0), (0.5, 1.5), (3.0, 4.0)]) == 2.5
    assert waited([]) == 0.0


async def _answer_after(
    delay: float, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    await reader.readuntil(b"\r\n\r\n")
    await asyncio.sleep(delay)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    await writer.drain()
    writer.close()


async def _get_twice(delay: float) -> None:
    server = await asyncio.start_server(lambda r, w: _answer_after(delay, r, w), "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    try:
        async with network_client(timeout=5) as client:
            await asyncio.gather(client.get(url), client.get(url))
    finally:
        server.close()
        await server.wait_closed()


async def test_records_the_wait_of_each_call_made_for_the_request() -> None:
    spans, token = open_spans()
    try:
        await _get_twice(0.05)  # concurrent: about one wait
    finally:
        close_spans(token)
    assert len(spans) == 2
    assert waited(spans) >= 0.05
    assert waited(spans) < sum(stop - start for start, stop in spans)  # overlap counted once


async def test_calls_outside_a_request_are_not_recorded() -> None:
    spans, token = open_spans()
    close_spans(token)
    await _get_twice(0.0)
    assert spans == []
