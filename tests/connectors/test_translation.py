"""Every zeep and httpx exception reaching a connector leaves it as a HubError (the translation
table itself is soap.translate; these tests pin that the connectors route everything through it)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import zeep.exceptions as zx
from zeep import Plugin

from ehealth_hub.connectors.consent import ConsentClient
from ehealth_hub.connectors.gp import GpSystemClient, GpSystemConfig
from ehealth_hub.connectors.network import DirectClient
from ehealth_hub.connectors.resilience import (
    DownstreamPolicy,
    ProtectedSoap,
    Resilience,
    RetryPolicy,
)
from ehealth_hub.connectors.soap import create_client, wsdl_path
from ehealth_hub.connectors.wsse import WsseSignPlugin
from ehealth_hub.core.errors import ConfigurationError, DownstreamUnavailable, HubError
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.simulate import SANDBOX_BASE, Simulators
from tests.connectors.conftest import Clock, actor, permit

ONCE = DownstreamPolicy(timeout=10.0, retry=RetryPolicy(attempts=1))
REQUEST = httpx.Request("POST", SANDBOX_BASE)


def _build(cls: type[BaseException], attempts: list[Callable[[], BaseException]]) -> BaseException:
    for make in attempts:
        try:
            return make()
        except TypeError:
            continue
    raise AssertionError(f"cannot build {cls.__name__}")


def httpx_errors() -> list[BaseException]:
    classes = [c for _, c in inspect.getmembers(httpx, inspect.isclass) if issubclass(c, Exception)]
    response = httpx.Response(500, request=REQUEST)
    return [
        _build(
            c,
            [
                lambda c=c: c("boom", request=REQUEST, response=response),
                lambda c=c: c("boom", request=REQUEST),
                lambda c=c: c("boom"),
                lambda c=c: c(),
            ],
        )
        for c in classes
    ]


def zeep_errors() -> list[BaseException]:
    classes = [c for _, c in inspect.getmembers(zx, inspect.isclass) if issubclass(c, zx.Error)]
    makers = [
        lambda c: c("boom"),
        lambda c: c("boom", None, None),
        lambda c: c("boom", None),
        lambda c: c(),
    ]
    return [_build(c, [lambda c=c, m=m: m(c) for m in makers]) for c in classes]


class Raising(httpx.AsyncBaseTransport):
    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise self.error


class RaisingPlugin(Plugin):  # type: ignore[misc]  # zeep ships no type information
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def egress(self, envelope: Any, http_headers: Any, operation: Any, binding_options: Any) -> Any:
        raise self.error


def consent_over(
    http: httpx.AsyncClient,
    sims: Simulators,
    tokens: Any,
    clock: Clock,
    plugin: Plugin | None = None,
) -> ConsentClient:
    plugins = [WsseSignPlugin("saml", clock=clock), *([plugin] if plugin else [])]
    soap = create_client(
        wsdl_path("consent_v3.wsdl"),
        http=http,
        plugins=plugins,
        address=SANDBOX_BASE + sims.consent.path,
        system="consent",
    )
    return ConsentClient(ProtectedSoap(soap, Resilience("consent", ONCE), tokens), clock=clock)


@pytest.mark.parametrize("error", httpx_errors(), ids=lambda e: type(e).__name__)
async def test_every_httpx_error_leaves_the_soap_connector_as_a_hub_error(
    error: BaseException, sims: Simulators, tokens: Any, clock: Clock
) -> None:
    async with httpx.AsyncClient(transport=Raising(error)) as broken:
        with pytest.raises(HubError) as translated:
            await consent_over(broken, sims, tokens, clock).get_consent(
                sandbox.patient("an").ssin, actor("sarah")
            )
    assert translated.value.__cause__ is error or translated.value is error
    if isinstance(error, httpx.TimeoutException | httpx.NetworkError):
        assert isinstance(translated.value, DownstreamUnavailable)
        assert translated.value.retryable
    if isinstance(error, httpx.UnsupportedProtocol | httpx.InvalidURL):
        assert isinstance(translated.value, ConfigurationError)


@pytest.mark.parametrize("error", httpx_errors(), ids=lambda e: type(e).__name__)
async def test_every_httpx_error_leaves_the_gp_connector_as_a_hub_error(
    error: BaseException, gp_config: GpSystemConfig, clock: Clock
) -> None:
    broken = DirectClient(Raising(error), httpx.Timeout(5))
    client = GpSystemClient(broken, gp_config, Resilience("gp", ONCE), clock=clock)
    with pytest.raises(HubError) as translated:
        await client.read_summary(permit("an", now=clock()), actor("sarah"))
    assert translated.value.__cause__ is error
    assert translated.value.system == "gp"


@pytest.mark.parametrize("error", zeep_errors(), ids=lambda e: type(e).__name__)
async def test_every_zeep_error_leaves_the_soap_connector_as_a_hub_error(
    error: BaseException, http: httpx.AsyncClient, sims: Simulators, tokens: Any, clock: Clock
) -> None:
    client = consent_over(http, sims, tokens, clock, RaisingPlugin(error))
    with pytest.raises(HubError) as translated:
        await client.get_consent(sandbox.patient("an").ssin, actor("sarah"))
    assert translated.value.__cause__ is error
    assert (translated.value.system, translated.value.operation) == ("consent", "GetPatientConsent")
    assert not sims.consent.soap.received
