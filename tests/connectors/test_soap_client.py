"""The SOAP client with IntraHub's lxml payloads: the same messages zeep builds from the WSDL,
and every way an answer can go wrong translated into the documented HubError."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time

import httpx
import pytest
import zeep
from lxml import etree

from ehealth_hub.connectors.hubservices_xml import (
    add,
    coded,
    request,
    select_patient,
)
from ehealth_hub.connectors.intrahub import ACTIONS
from ehealth_hub.core.errors import (
    BusinessRejection,
    DownstreamProtocolError,
    DownstreamUnavailable,
    HostileXmlError,
    SignatureError,
)
from ehealth_hub.core.ports import Actor
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.transport.network import DirectClient, DirectPost
from ehealth_hub.transport.soap import LxmlMessages, SoapClient
from ehealth_hub.transport.wsdl import wsdl_path
from ehealth_hub.trust.saml import SamlToken
from ehealth_hub.trust.wsse import use_token, verify_envelope
from ehealth_hub.trust.wsse_calls import SamlSigner
from ehealth_hub.trust.wsse_sign import SPLICE_TAG, serialize_spliced
from tests.trust.conftest import Clock

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SARAH = Actor("11530231003", "doctor")
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
TIMEOUT = httpx.Timeout(5)


def _client(transport: httpx.MockTransport | None = None) -> SoapClient:
    url = httpx.URL("https://hub.test/v3")
    endpoint = DirectPost(
        DirectClient(transport or httpx.MockTransport(_unreachable), TIMEOUT), url
    )
    return SoapClient(endpoint, LxmlMessages(ACTIONS), "rsw", sign=SamlSigner(lambda: NOW))


def _unreachable(request: httpx.Request) -> httpx.Response:
    raise AssertionError("nothing may be sent")


def _answer(body: bytes, status: int = 200, content_type: str = "text/xml") -> etree._Element:
    response = httpx.Response(status, content=body, headers={"content-type": content_type})
    return _client().answer(response, "GetTransactionList")[1]


def _envelope(inner: str) -> bytes:
    return f'<s:Envelope xmlns:s="{SOAP}"><s:Body>{inner}</s:Body></s:Envelope>'.encode()


def _zeep_payload(operation: str, **kwargs: object) -> bytes:
    client = zeep.Client(wsdl_path("intrahub_v3.wsdl"))  # type: ignore[no-untyped-call]  # zeep is untyped
    envelope = client.create_message(client.service, operation, **kwargs)
    body = envelope.find(f"{{{SOAP}}}Body")
    return etree.tostring(body[0], method="c14n", exclusive=True)


def _zeep_header() -> dict[str, object]:
    kid = {"_value_1": "11530231003.r1", "S": "ID-KMEHR", "SV": "1.0"}
    party = {
        "id": [{"_value_1": SARAH.nihii, "S": "ID-HCPARTY", "SV": "1.0"}],
        "cd": [{"_value_1": "persphysician", "S": "CD-HCPARTY", "SV": "1.1"}],
    }
    return {  # NOW in Brussels (CET in March): 10:30
        "id": kid,
        "author": {"hcparty": [party]},
        "date": date(2026, 3, 2),
        "time": time(10, 30),
    }


def test_builds_the_get_transaction_list_request_zeep_builds_from_the_wsdl() -> None:
    ours = request("GetTransactionList", SARAH, now=NOW, request_id="r1")
    period = add(select_patient(ours, "85031212362"), "transaction")
    coded(period, "cd", "sumehr", "CD-TRANSACTION")
    add(period, "begindate", "2025-01-01")
    theirs = _zeep_payload(
        "GetTransactionList",
        request=_zeep_header(),
        select={
            "patient": {"id": [{"_value_1": "85031212362", "S": "ID-PATIENT", "SV": "1.0"}]},
            "transaction": {
                "cd": [{"_value_1": "sumehr", "S": "CD-TRANSACTION", "SV": "1.0"}],
                "begindate": date(2025, 1, 1),
            },
        },
    )
    assert _same_tree(etree.tostring(ours, method="c14n", exclusive=True), theirs)


def _same_tree(left: bytes, right: bytes) -> bool:
    """Equal element names, attributes and texts (prefixes may differ)."""

    def shape(node: etree._Element) -> tuple[object, ...]:
        kids = tuple(shape(c) for c in node)
        text = (node.text or "").strip()
        return (node.tag, tuple(sorted(node.attrib.items())), text, kids)

    return shape(etree.fromstring(left)) == shape(etree.fromstring(right))


async def test_refuses_to_send_without_a_bound_token() -> None:
    client = _client()
    with pytest.raises(SignatureError):
        await client.call("GetTransactionList", payload=etree.Element("x"))


def test_refuses_a_hostile_answer_before_reading_it() -> None:
    hostile = b'<!DOCTYPE x [<!ENTITY e "boom">]>' + _envelope("<a>&e;</a>")
    with pytest.raises(HostileXmlError):
        _answer(hostile)


def test_a_gateway_error_without_xml_is_unavailable() -> None:
    with pytest.raises(DownstreamUnavailable) as caught:
        _answer(b"bad gateway", status=502, content_type="text/plain")
    assert caught.value.code == "http-502"


def test_a_non_xml_success_is_a_protocol_error() -> None:
    with pytest.raises(DownstreamProtocolError, match="not XML"):
        _answer(b"{}", content_type="application/json")


def test_an_envelope_without_body_content_is_a_protocol_error() -> None:
    with pytest.raises(DownstreamProtocolError, match="no SOAP Body"):
        _answer(_envelope(""))


def test_truncated_xml_is_a_protocol_error() -> None:
    with pytest.raises(DownstreamProtocolError, match="malformed"):
        _answer(_envelope("<a>")[:40])


def test_a_client_fault_is_a_rejection_with_the_ehealth_code() -> None:
    fault = (
        f'<s:Fault xmlns:s="{SOAP}"><faultcode>s:Client</faultcode>'
        "<faultstring>bad</faultstring><detail><Code>SOA-00003</Code></detail></s:Fault>"
    )
    with pytest.raises(BusinessRejection) as caught:
        _answer(_envelope(fault), status=500)
    assert caught.value.code == "SOA-00003"
    assert not caught.value.retryable


def test_a_server_fault_is_a_retryable_protocol_error() -> None:
    fault = (
        f'<s:Fault xmlns:s="{SOAP}"><faultcode>s:Server</faultcode>'
        "<faultstring>busy</faultstring></s:Fault>"
    )
    with pytest.raises(DownstreamProtocolError) as caught:
        _answer(_envelope(fault), status=500)
    assert caught.value.retryable


def test_an_error_status_with_a_normal_body_is_still_an_error() -> None:
    with pytest.raises(DownstreamUnavailable):
        _answer(_envelope("<a/>"), status=503)


def test_answers_the_first_body_element() -> None:
    assert _answer(_envelope('<a xmlns="urn:x"><b/></a>')).tag == "{urn:x}a"


async def test_a_signed_call_carries_the_assertion_byte_for_byte_and_verifies(
    tokens: Callable[[Actor], Awaitable[SamlToken]], sandbox_pki: SandboxPki, clock: Clock
) -> None:
    token = await tokens(SARAH)
    sent: list[bytes] = []

    def hub(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return httpx.Response(200, content=_envelope("<ok/>"), headers={"content-type": "text/xml"})

    endpoint = DirectPost(
        DirectClient(httpx.MockTransport(hub), TIMEOUT), httpx.URL("https://hub.test/v3")
    )
    client = SoapClient(endpoint, LxmlMessages(ACTIONS), "rsw", sign=SamlSigner(clock))
    with use_token(token):
        await client.call("GetTransactionList", payload=etree.Element("x"))
    (envelope,) = sent
    assert token.assertion.strip() in envelope  # as the STS issued it: its signature holds
    assert SPLICE_TAG.encode() not in envelope
    verified = verify_envelope(
        envelope, trusted=sandbox_pki.truststore, sts=[sandbox_pki.sts.certificate], now=clock()
    )
    assert verified.assertion is not None


def test_a_spliced_assertion_loses_its_xml_declaration() -> None:
    envelope = etree.fromstring(_envelope(f"<{SPLICE_TAG}/>"))
    assertion = b'<?xml version="1.0"?>\n<a:Assertion xmlns:a="urn:a" AssertionID="i"/>'
    spliced = serialize_spliced(envelope, assertion)
    assert spliced.count(b"<?xml") == 1  # the envelope's own
    assert etree.fromstring(spliced)[0][0].get("AssertionID") == "i"


def test_refuses_to_serialise_without_a_placeholder() -> None:
    with pytest.raises(SignatureError, match="placeholder"):
        serialize_spliced(etree.fromstring(_envelope("<x/>")), b"<a/>")
