"""The STS client against the STS simulator, through zeep and httpx (in-process ASGI)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from lxml import etree

from ehealth_hub.core.errors import BusinessRejection, SignatureError, TokenError
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.fixtures.sim_sts import StsSimulator, in_process_client
from ehealth_hub.fixtures.soap_server import SoapRequest, SoapSimulator
from ehealth_hub.transport.wsdl import create_client, wsdl_path
from ehealth_hub.trust.saml import SAML11_NS
from ehealth_hub.trust.sts import StsClient
from ehealth_hub.trust.wsse import SamlSigner, use_token
from tests.trust.conftest import Clock


async def test_issues_a_doctor_token_bound_to_the_callers_certificate(
    sts_client: StsClient, pki: SandboxPki, sts_sim: StsSimulator
) -> None:
    sarah = pki.practitioner("sarah")
    token = await sts_client.token(sarah, "doctor")
    assertion = etree.fromstring(token.assertion)
    values = {
        a.get("AttributeName"): a.findtext(f"{{{SAML11_NS}}}AttributeValue")
        for a in assertion.iter(f"{{{SAML11_NS}}}Attribute")
    }
    assert values["urn:be:fgov:person:ssin:ehealth:1.0:doctor:nihii11"] == "11530231003"
    assert values["urn:be:fgov:person:ssin:doctor:boolean"] == "true"
    assert values["urn:be:fgov:ehealth:1.0:certificateholder:person:ssin"] == "80021512354"
    assert token.holder is sarah
    assert sts_sim.soap.received[0].signer == sarah.certificate


async def test_reuses_a_token_while_more_than_half_its_life_remains(
    sts_client: StsClient, pki: SandboxPki, sts_sim: StsSimulator, clock: Clock
) -> None:
    sarah = pki.practitioner("sarah")
    first = await sts_client.token(sarah, "doctor")
    clock.advance(timedelta(minutes=29))
    assert await sts_client.token(sarah, "doctor") is first
    clock.advance(timedelta(minutes=2))
    renewed = await sts_client.token(sarah, "doctor")
    assert renewed.assertion_id != first.assertion_id
    assert sts_sim.issued == 2


async def test_sends_one_request_for_concurrent_callers_of_one_key(
    sts_client: StsClient, pki: SandboxPki, sts_sim: StsSimulator
) -> None:
    sarah, koen = pki.practitioner("sarah"), pki.practitioner("koen")
    tokens = await asyncio.gather(
        *(sts_client.token(sarah, "doctor") for _ in range(8)),
        sts_client.token(koen, "clinical_psychologist"),
    )
    assert len({t.assertion_id for t in tokens[:8]}) == 1
    assert sts_sim.issued == 2


async def test_refuses_a_quality_the_practitioner_does_not_hold(
    sts_client: StsClient, pki: SandboxPki
) -> None:
    with pytest.raises(BusinessRejection, match="cannot be certified"):
        await sts_client.token(pki.practitioner("koen"), "doctor")


async def test_refuses_a_revoked_certificate(
    sts_client: StsClient, pki: SandboxPki, sts_sim: StsSimulator
) -> None:
    sts_sim.revoke(pki.practitioner("jan"))
    with pytest.raises(BusinessRejection, match="revoked") as caught:
        await sts_client.token(pki.practitioner("jan"), "doctor")
    assert caught.value.code == "SOA-01001"


async def test_refuses_an_expired_certificate(
    sts_client: StsClient, pki: SandboxPki, clock: Clock
) -> None:
    expired = pki.issue(
        pki.practitioner("jan"),
        not_before=clock.now - timedelta(days=9),
        not_after=clock.now - timedelta(days=1),
    )
    with pytest.raises(BusinessRejection, match="not valid"):
        await sts_client.token(expired, "doctor")


async def test_refuses_an_assertion_not_signed_by_the_pinned_sts(
    sts_sim: StsSimulator, pki: SandboxPki, clock: Clock
) -> None:
    pinned = [pki.hub_tls.certificate]
    async with in_process_client(sts_sim, pki, clock=clock, pinned=pinned) as pinned_elsewhere:
        with pytest.raises(TokenError, match="trusted STS"):
            await pinned_elsewhere.token(pki.practitioner("sarah"), "doctor")


async def test_business_call_carries_the_token_and_is_signed_with_the_holder_key(
    sts_client: StsClient, pki: SandboxPki, clock: Clock
) -> None:
    token = await sts_client.token(pki.practitioner("sarah"), "doctor")

    async def echo(request: SoapRequest) -> etree._Element:
        answer = etree.Element("{urn:be:fgov:ehealth:etkdepot:1_0:protocol}GetEtkResponse")
        status = etree.SubElement(answer, "{urn:be:fgov:ehealth:commons:1_0:core}Status")
        etree.SubElement(status, "{urn:be:fgov:ehealth:commons:1_0:core}Code").text = "200"
        assert request.verified is not None
        assert request.verified.assertion is not None
        etree.SubElement(answer, "{urn:be:fgov:ehealth:etkdepot:1_0:protocol}ETK").text = "AAAA"
        return answer

    business = SoapSimulator(
        "business",
        handlers={"GetEtkRequest": echo},
        security="saml",
        truststore=pki.truststore,
        sts=[pki.sts.certificate],
        clock=clock,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=business.app), base_url="http://b"
    ) as http:
        soap = create_client(
            wsdl_path("etkdepot_v1.wsdl"),
            http=http,
            sign=SamlSigner(clock),
            address="http://b/",
            system="business",
        )
        criteria = {"Identifier": [{"Type": "SSIN", "Value": "65050511172"}]}
        with pytest.raises(SignatureError, match="no SAML token"):
            await soap.call("GetEtk", SearchCriteria=criteria)
        assert not business.received
        with use_token(token):
            answer = await soap.call("GetEtk", SearchCriteria=criteria)
    assert answer.Status.Code == "200"
    assert business.received[0].signer == pki.practitioner("sarah").certificate
