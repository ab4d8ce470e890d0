"""The connectors' network client (httpx over aiohttp): answers read, and every way the network
fails leaves as an httpx exception that :func:`http_errors.translate_http` turns into a HubError."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from ehealth_hub.core.errors import DownstreamUnavailable, HubError
from ehealth_hub.transport.http_errors import translate_http
from ehealth_hub.transport.network import DirectClient, DirectPost, NetworkTransport, network_client
from ehealth_hub.transport.timing import close_spans, open_spans

Peer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def _serve(peer: Peer) -> AsyncIterator[str]:
    """A raw TCP peer on loopback behaving as ``peer`` says; every connection closed after."""
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.readuntil(b"\r\n\r\n")
        await peer(reader, writer)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()


async def _answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 4\r\n\r\n<a/>")
    await writer.drain()


async def _drops_mid_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<partial")
    await writer.drain()
    writer.close()


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads the request and never answers."""


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
    await writer.drain()
    writer.close()


async def _fetch(url: str, seconds: float, way: str = "client") -> None:
    """GET through the client, or POST straight through its transport (:class:`DirectPost`)."""
    transport = NetworkTransport()
    async with network_client(timeout=seconds, transport=transport) as client:
        if way == "client":
            (await client.get(url)).raise_for_status()
        else:
            direct = DirectPost(DirectClient(transport, httpx.Timeout(seconds)), httpx.URL(url))
            (await direct.post(b"<r/>", {})).raise_for_status()


async def _failure(peer: Peer, seconds: float = 5.0, way: str = "client") -> HubError:
    async with _serve(peer) as url:
        with pytest.raises(httpx.HTTPError) as caught:
            await _fetch(url, seconds, way)
    return translate_http(caught.value, system="peer", operation="get")


WAYS = pytest.mark.parametrize("way", ["client", "direct"])


async def test_reads_an_answer_over_loopback() -> None:
    async with _serve(_answers) as url, network_client(timeout=5) as client:
        response = await client.post(url, content=b"<r/>", headers={"SOAPAction": '""'})
    assert response.status_code == 200
    assert response.content == b"<a/>"


async def test_a_refused_connection_is_unavailable_and_not_a_timeout() -> None:
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(httpx.HTTPError) as caught:
        await _fetch(f"http://127.0.0.1:{port}/", 5)
    error = translate_http(caught.value, system="peer", operation="get")
    assert isinstance(error, DownstreamUnavailable)
    assert error.code == "transport"


@WAYS
async def test_a_connection_dropped_mid_answer_is_unavailable(way: str) -> None:
    error = await _failure(_drops_mid_answer, way=way)
    assert isinstance(error, DownstreamUnavailable)
    assert error.retryable


@WAYS
async def test_a_silent_server_times_out(way: str) -> None:
    error = await _failure(_silent, seconds=0.2, way=way)
    assert isinstance(error, DownstreamUnavailable)
    assert error.code == "timeout"


@WAYS
async def test_an_answer_that_is_not_http_is_a_hub_error(way: str) -> None:
    assert isinstance(await _failure(_garbage, way=way), HubError)


async def test_direct_post_sends_the_body_and_its_headers_and_reads_the_answer() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"<a/>", headers={"set-cookie": "s=1"})

    url = httpx.URL("https://hub.test/v3")
    direct = DirectPost(DirectClient(httpx.MockTransport(answer), httpx.Timeout(3.0)), url)
    spans, token = open_spans()
    try:
        response = await direct.post(b"<r/>", {"SOAPAction": '"x"'})
    finally:
        close_spans(token)
    assert response.content == b"<a/>"
    (request,) = seen
    assert (request.url, request.content) == (url, b"<r/>")
    assert request.headers["soapaction"] == '"x"'
    assert request.headers["user-agent"].startswith("ehealth-hub/")
    assert request.extensions["timeout"]["read"] == 3.0
    assert len(spans) == 1  # its wait counts in the request's Server-Timing
