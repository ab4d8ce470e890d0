"""The SOAP client factory: complete translation of zeep and httpx errors, fault injection."""

from __future__ import annotations

import inspect

import httpx
import pytest
import zeep.exceptions as zx
from lxml import etree

from ehealth_hub.core.errors import (
    BusinessRejection,
    ConfigurationError,
    DownstreamProtocolError,
    DownstreamUnavailable,
    HostileXmlError,
    HubError,
    SignatureError,
    UnverifiedAnswer,
)
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.fixtures.sim_etkdepot import CORE_NS, ETK_NS, EtkDepotSimulator
from ehealth_hub.fixtures.soap_server import SoapFault, SoapRequest, SoapSimulator
from ehealth_hub.transport.wsdl import create_client, translate, wsdl_path
from ehealth_hub.trust.etee import EtkDepotClient, EtkId
from ehealth_hub.trust.wsse import WsseAnswerPolicy, X509Signer
from tests.trust.conftest import Clock


def _classes(module: object, base: type[BaseException]) -> list[type[BaseException]]:
    return [
        c
        for _, c in inspect.getmembers(module, inspect.isclass)
        if issubclass(c, base) and c.__module__.startswith(module.__name__.split(".")[0])
    ]  # type: ignore[attr-defined]


def _instance(cls: type[BaseException]) -> BaseException:
    request = httpx.Request("POST", "http://x")
    if issubclass(cls, httpx.HTTPStatusError):
        return cls("boom", request=request, response=httpx.Response(503, request=request))
    if issubclass(cls, zx.Fault):
        return cls("boom", code="soapenv:Server")
    if issubclass(cls, zx.TransportError):
        return cls("boom", status_code=502)
    if issubclass(cls, httpx.RequestError):
        return cls("boom", request=request)
    params = [p for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"]
    required = [p for p in params if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
    return cls(*(["boom"] * len(required)))


ZEEP = [c for c in _classes(zx, Exception) if issubclass(c, zx.Error)]
HTTPX = [c for c in _classes(httpx, Exception) if c.__module__.startswith("httpx")]


@pytest.mark.parametrize(
    "cls", ZEEP + HTTPX, ids=lambda c: f"{c.__module__.split('.')[0]}.{c.__name__}"
)
def test_translates_every_zeep_and_httpx_exception(cls: type[BaseException]) -> None:
    error = translate(_instance(cls), system="x", operation="Op")
    assert isinstance(error, HubError)
    assert (error.system, error.operation) == ("x", "Op")


def test_translation_table_is_specific() -> None:
    request = httpx.Request("POST", "http://x")
    cases = {
        zx.Fault("m", code="soapenv:Client"): BusinessRejection,
        zx.Fault("m", code="soapenv:Server"): DownstreamProtocolError,
        zx.TransportError("m", status_code=503): DownstreamUnavailable,
        zx.TransportError("m", status_code=404): DownstreamProtocolError,
        zx.DTDForbidden("n", "s", "p"): HostileXmlError,
        zx.WsdlSyntaxError("m"): ConfigurationError,
        httpx.ReadTimeout("t", request=request): DownstreamUnavailable,
        httpx.ConnectError("c", request=request): DownstreamUnavailable,
        httpx.UnsupportedProtocol("u", request=request): ConfigurationError,
        httpx.DecodingError("d", request=request): DownstreamProtocolError,
    }
    for exc, expected in cases.items():
        assert type(translate(exc, system="s", operation="o")) is expected, exc
    assert translate(zx.Fault("m", code="soapenv:Server"), system="s", operation="o").retryable


def test_refuses_to_translate_foreign_exceptions() -> None:
    with pytest.raises(TypeError):
        translate(KeyError("k"), system="s", operation="o")


def test_refuses_to_load_a_missing_wsdl() -> None:
    with pytest.raises(ConfigurationError, match="cannot be loaded"):
        create_client("/nonexistent.wsdl", http=httpx.AsyncClient(), system="x")


JAN = EtkId("SSIN", "65050511172")


async def test_maps_injected_http_503_to_unavailable(
    depot: EtkDepotClient, etk_sim: EtkDepotSimulator
) -> None:
    etk_sim.soap.faults.http_status = 503
    etk_sim.soap.faults.times = 1
    with pytest.raises(DownstreamUnavailable) as caught:
        await depot.get_etk(JAN)
    assert caught.value.retryable
    assert (await depot.get_etk(JAN)).subject.rfc4514_string().startswith("CN=SSIN=65050511172")


async def test_maps_an_ehealth_soap_fault_to_a_business_rejection_with_its_code(
    depot: EtkDepotClient, etk_sim: EtkDepotSimulator
) -> None:
    etk_sim.soap.faults.soap_fault = SoapFault("SOA-03003", "invalid identifier")
    with pytest.raises(BusinessRejection) as caught:
        await depot.get_etk(JAN)
    assert caught.value.code == "SOA-03003"


async def test_maps_a_malformed_response_to_a_protocol_error(
    depot: EtkDepotClient, etk_sim: EtkDepotSimulator
) -> None:
    etk_sim.soap.faults.malformed = True
    with pytest.raises(DownstreamProtocolError):
        await depot.get_etk(JAN)


async def test_refuses_a_hostile_response_before_zeep_parses_it() -> None:
    hostile = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'

    async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/xml")],
            }
        )  # type: ignore[operator]
        await send({"type": "http.response.body", "body": hostile})  # type: ignore[operator]

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://h"
    ) as http:
        soap = create_client(
            wsdl_path("etkdepot_v1.wsdl"), http=http, address="http://h/", system="etkdepot"
        )
        with pytest.raises(HostileXmlError):
            await soap.call(
                "GetEtk", SearchCriteria={"Identifier": [{"Type": "SSIN", "Value": "1"}]}
            )


async def test_serves_its_wsdl(etk_sim: EtkDepotSimulator) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=etk_sim.app), base_url="http://e"
    ) as http:
        answer = await http.get(etk_sim.path + "?wsdl")
    assert (
        etree.fromstring(answer.content).get("targetNamespace")
        == "urn:be:fgov:ehealth:etkdepot:1_0:service"
    )


async def test_verifies_signed_responses_and_refuses_an_unsigned_one(
    pki: SandboxPki, clock: Clock
) -> None:
    async def answer(request: SoapRequest) -> etree._Element:
        response = etree.Element(f"{{{ETK_NS}}}GetEtkResponse")
        status = etree.SubElement(response, f"{{{CORE_NS}}}Status")
        etree.SubElement(status, f"{{{CORE_NS}}}Code").text = "200"
        return response

    signing = SoapSimulator(
        "signing",
        handlers={"GetEtkRequest": answer},
        security="x509",
        truststore=pki.truststore,
        clock=clock,
        signer=pki.hub_etk,
    )
    signer = X509Signer(clock, credential=pki.practitioner("sarah"))
    verifier = WsseAnswerPolicy(pki.truststore, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=signing.app), base_url="http://s"
    ) as http:
        soap = create_client(
            wsdl_path("etkdepot_v1.wsdl"),
            http=http,
            sign=signer,
            verifier=verifier,
            address="http://s/",
            system="s",
        )
        criteria = {"Identifier": [{"Type": "SSIN", "Value": "1"}]}
        assert (await soap.call("GetEtk", SearchCriteria=criteria)).Status.Code == "200"
        signing.faults.unsigned = True
        with pytest.raises(UnverifiedAnswer, match="Security header") as refused:
            await soap.call("GetEtk", SearchCriteria=criteria)
        assert isinstance(refused.value.__cause__, SignatureError)
    assert [r.signer for r in signing.received] == [pki.practitioner("sarah").certificate] * 2


async def test_answers_an_unsigned_request_with_an_ehealth_style_fault(
    pki: SandboxPki, clock: Clock
) -> None:
    strict = SoapSimulator(
        "strict", handlers={}, security="x509", truststore=pki.truststore, clock=clock
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=strict.app), base_url="http://s"
    ) as http:
        soap = create_client(
            wsdl_path("etkdepot_v1.wsdl"), http=http, address="http://s/", system="s"
        )
        with pytest.raises(BusinessRejection) as caught:
            await soap.call(
                "GetEtk", SearchCriteria={"Identifier": [{"Type": "SSIN", "Value": "1"}]}
            )
    assert caught.value.code == "SOA-01001"
    assert not strict.received


async def test_maps_an_injected_timeout_to_unavailable_over_loopback(
    etk_sim: EtkDepotSimulator,
) -> None:
    import asyncio

    import uvicorn

    config = uvicorn.Config(
        etk_sim.app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    for _ in range(500):  # uvicorn exposes no started event; poll its flag for up to 5 s
        if server.started:
            break
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    etk_sim.soap.faults.timeout = True
    try:
        async with httpx.AsyncClient(timeout=0.3) as http:
            soap = create_client(
                wsdl_path("etkdepot_v1.wsdl"),
                http=http,
                address=f"http://127.0.0.1:{port}{etk_sim.path}",
                system="etkdepot",
            )
            with pytest.raises(DownstreamUnavailable) as caught:
                await soap.call(
                    "GetEtk", SearchCriteria={"Identifier": [{"Type": "SSIN", "Value": "1"}]}
                )
        assert caught.value.code == "timeout"
    finally:
        server.should_exit = True
        await serving


async def test_fault_plan_applies_to_one_operation_for_a_bounded_number_of_calls(
    depot: EtkDepotClient, etk_sim: EtkDepotSimulator
) -> None:
    plan = etk_sim.soap.faults
    plan.http_status, plan.times, plan.operation = 502, 2, "GetEtkRequest"
    for _ in range(2):
        with pytest.raises(DownstreamUnavailable):
            await depot.get_etk(JAN)
    assert await depot.get_etk(JAN)
    plan.http_status, plan.operation = 503, "SomethingElse"
    plan.times = None
    assert plan.active("GetEtkRequest") is False
    plan.clear()
    assert (plan.http_status, plan.operation, plan.times) == (None, None, None)
