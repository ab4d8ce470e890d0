"""Every zeep and httpx exception reaching a connector leaves it as a HubError (the translation
tables are transport.wsdl.translate and transport.http_errors.translate_http; these tests pin that
the connectors route everything through them)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import zeep.exceptions as zx

from ehealth_hub.connectors.consent import ConsentClient
from ehealth_hub.connectors.gp import GpSystemClient, GpSystemConfig
from ehealth_hub.core.errors import ConfigurationError, DownstreamUnavailable, HubError
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.simulate import SANDBOX_BASE, Simulators
from ehealth_hub.transport.network import DirectClient
from ehealth_hub.transport.resilience import DownstreamPolicy, Resilience, RetryPolicy
from ehealth_hub.transport.wsdl import WsdlMessages, create_client, wsdl_path
from ehealth_hub.trust.protected import ProtectedSoap
from ehealth_hub.trust.wsse import SamlSigner
from tests.connectors.conftest import Clock, actor, permit

ONCE = DownstreamPolicy(timeout=10.0, retry=RetryPolicy(max_attempts=1))
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


@dataclass(frozen=True)
class RaisingBinding:
    """A WSDL binding whose every message zeep fails to build with ``error``."""

    binding: Any
    error: BaseException

    def get(self, operation: str) -> Any:
        def create(**parts: Any) -> Any:
            raise self.error

        return SimpleNamespace(soapaction=self.binding.get(operation).soapaction, create=create)


def consent_over(
    http: httpx.AsyncClient,
    sims: Simulators,
    tokens: Any,
    clock: Clock,
    error: BaseException | None = None,
) -> ConsentClient:
    soap = create_client(
        wsdl_path("consent_v3.wsdl"),
        http=http,
        sign=SamlSigner(clock),
        address=SANDBOX_BASE + sims.consent.path,
        system="consent",
    )
    if error is not None:
        assert isinstance(soap.messages, WsdlMessages)
        failing = WsdlMessages(RaisingBinding(soap.messages.binding, error), "consent")
        soap = replace(soap, messages=failing)
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
    client = consent_over(http, sims, tokens, clock, error)
    with pytest.raises(HubError) as translated:
        await client.get_consent(sandbox.patient("an").ssin, actor("sarah"))
    assert translated.value.__cause__ is error
    assert (translated.value.system, translated.value.operation) == ("consent", "GetPatientConsent")
    assert not sims.consent.soap.received
