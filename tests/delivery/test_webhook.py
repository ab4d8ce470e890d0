"""The webhook destination against the loopback receiver, and the translation of every aiohttp
error its network path (transport.network) can meet."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import aiohttp
import httpx
import pytest

from ehealth_hub.core.errors import (
    BusinessRejection,
    ConfigurationError,
    DownstreamUnavailable,
    HubError,
)
from ehealth_hub.delivery.webhook import WebhookDestination, WebhookSession
from ehealth_hub.fixtures.receiver import Receiver, serve
from ehealth_hub.transport.http_errors import httpx_error, translate_http


@pytest.fixture
async def session() -> AsyncIterator[WebhookSession]:
    shared = WebhookSession(4, timeout_seconds=5)
    yield shared
    await shared.aclose()


async def test_a_delivery_returns_the_receipt_and_a_redelivery_has_no_second_effect(
    session: WebhookSession,
) -> None:
    receiver = Receiver()
    async with serve(receiver) as url:
        deliver = WebhookDestination("gp", url, session)
        first = await deliver({"note": 1}, "m-1")
        again = await deliver({"note": 1}, "m-1")
    assert first == again == {"messageId": "m-1", "receipt": first["receipt"]}
    assert receiver.effects == {"m-1": {"note": 1}}
    assert receiver.received["m-1"] == 2


async def test_a_503_is_retryable_and_a_422_is_a_business_rejection(
    session: WebhookSession,
) -> None:
    receiver = Receiver(unavailable=1, reject={"bad"})
    async with serve(receiver) as url:
        deliver = WebhookDestination("gp", url, session)
        with pytest.raises(DownstreamUnavailable, match="503"):
            await deliver({}, "m-1")
        with pytest.raises(BusinessRejection, match="422") as rejected:
            await deliver({}, "bad")
    assert rejected.value.retryable is False
    assert receiver.effects == {}


async def test_an_unreachable_receiver_is_retryable(session: WebhookSession) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    deliver = WebhookDestination("gp", f"http://127.0.0.1:{port}/x", session)
    with pytest.raises(DownstreamUnavailable) as failed:
        await deliver({}, "m-1")
    assert failed.value.code == "transport"


def _all_subclasses(cls: type[BaseException]) -> list[type[BaseException]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found += _all_subclasses(sub)
    return found


def _through_the_network_path(exc: aiohttp.ClientError | TimeoutError) -> HubError:
    """What a delivery raises when aiohttp raised ``exc`` under the network transport."""
    request = httpx.Request("POST", "http://receiver.test/x")
    return translate_http(httpx_error(exc, request), system="gp", operation="post")


@pytest.mark.parametrize("cls", _all_subclasses(aiohttp.ClientError), ids=lambda c: c.__name__)
def test_every_aiohttp_client_error_translates_into_a_hub_error(
    cls: type[BaseException],
) -> None:
    exc = aiohttp.InvalidURL("nope") if issubclass(cls, aiohttp.InvalidURL) else cls.__new__(cls)
    error = _through_the_network_path(exc)
    assert isinstance(error, HubError)
    if isinstance(exc, aiohttp.InvalidURL):
        assert isinstance(error, ConfigurationError)
    else:  # one mapping for connectors and webhooks: the exchange failed, a retry may succeed
        assert isinstance(error, DownstreamUnavailable)
        assert error.retryable


def test_a_timeout_is_retryable_unavailability() -> None:
    error = _through_the_network_path(TimeoutError())
    assert isinstance(error, DownstreamUnavailable)
    assert error.code == "timeout"


def test_translate_refuses_foreign_exceptions() -> None:
    with pytest.raises(TypeError):
        translate_http(ValueError("x"), system="gp", operation="post")
