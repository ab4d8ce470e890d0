"""The MyCareNet adapters through the real stacks (zeep AsyncClient, httpx, WS-Security with STS
holder-of-key tokens, ETEE sealing) against the MyCareNet simulator."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import date

import pytest
from cryptography import x509
from lxml import etree

from ehealth_hub.connectors.mycarenet.envelope import Envelope, Sealing
from ehealth_hub.core.errors import (
    DownstreamProtocolError,
    DownstreamUnavailable,
    EncryptionError,
    HostileXmlError,
)
from ehealth_hub.core.mycarenet_types import CareProvider
from ehealth_hub.core.xml import SOAP11_NS
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.fixtures.sim_mycarenet_base import GA
from ehealth_hub.fixtures.soap_server import SoapFault
from ehealth_hub.mappings import mycarenet_attest as attest_map
from ehealth_hub.mappings import mycarenet_efact as ef
from ehealth_hub.mappings import mycarenet_efact_answers as ans
from ehealth_hub.mappings import mycarenet_insurability as ins
from ehealth_hub.trust import xades
from ehealth_hub.trust.credentials import Credential
from tests.mycarenet.claims_data import app_claim, luc_insurability
from tests.mycarenet.conftest import Clock, MyCareNet, actor

ON = date(2026, 11, 23)
SARAH = actor("sarah")


async def test_memberdata_answers_the_sandbox_insurability_of_a_patient(
    mycarenet: MyCareNet,
) -> None:
    facts = await mycarenet.memberdata.consult(SARAH, "49090908855", ON)
    assert (facts.insured, facts.mutuality, facts.membership) == (True, "900", "90000077777")
    assert (facts.ct1, facts.ct2, facts.third_party_payer) == ("131", "131", True)
    assert mycarenet.sim.inbox["900"].memberdata == ["8855"]


@pytest.mark.parametrize(
    ("ssin", "on", "reason"),
    [
        ("05041823170", ON, ins.STATUS_NOT_INSURED),
        ("85031212362", date(2024, 6, 1), ins.STATUS_NOT_INSURED),
        ("82020212345"[:9] + "79", ON, ins.STATUS_UNKNOWN),
    ],
)
async def test_memberdata_makes_refusals_explicit(
    mycarenet: MyCareNet, ssin: str, on: date, reason: str
) -> None:
    facts = await mycarenet.memberdata.consult(SARAH, ssin, on)
    assert not facts.insured
    assert facts.reasons == (reason,)


async def test_the_detail_travels_sealed_and_the_licence_in_common_input(
    mycarenet: MyCareNet,
) -> None:
    await mycarenet.memberdata.consult(SARAH, "85031212362", ON)
    envelope = etree.fromstring(mycarenet.sim.memberdata.received[-1].envelope)
    assert b"85031212362" not in etree.tostring(
        envelope.find(f".//{{{SOAP11_NS}}}Body/*/*[@ContentEncryption]")
    )
    texts = {etree.QName(e).localname: e.text for e in envelope.iter() if isinstance(e.tag, str)}
    assert texts["Username"] == "hub-licence"
    assert texts["IsTest"] == "true"
    assert texts["Value"] == SARAH.nihii
    assert texts["Quality"] == "doctor"


async def test_an_unsealed_answer_is_refused(
    mycarenet: MyCareNet, pki: SandboxPki, clock: Clock
) -> None:
    class Plain:
        _value_1 = b"<samlp:Response/>"
        ContentEncryption = None
        HashValue = None

    with pytest.raises(EncryptionError):
        await mycarenet.envelope.open(Plain())


async def _answer(
    mycarenet: MyCareNet, sealer: Credential, recipient: x509.Certificate, clock: Clock
) -> object:
    """An answer Detail (as zeep hands it over) sealed by ``sealer`` for ``recipient``'s ETK."""

    async def etk() -> x509.Certificate:
        return recipient

    envelope = Envelope(mycarenet.envelope.package, Sealing(sealer, (), etk, clock), is_test=True)
    sealed = await envelope.detail(b"<ack>accepted</ack>", content_type="text/xml")

    class Detail:
        _value_1 = sealed["_value_1"]
        ContentEncryption = sealed["ContentEncryption"]
        HashValue = sealed["HashValue"]

    return Detail()


async def test_an_answer_sealed_for_someone_else_is_refused(
    mycarenet: MyCareNet, pki: SandboxPki, clock: Clock
) -> None:
    mycarenet_etk = pki.mycarenet_etk
    answer = await _answer(mycarenet, mycarenet_etk, mycarenet_etk.certificate, clock)
    with pytest.raises(EncryptionError):
        await mycarenet.envelope.open(answer)


async def test_an_answer_sealed_for_the_hub_by_anyone_but_mycarenet_is_refused(
    mycarenet: MyCareNet, pki: SandboxPki, clock: Clock
) -> None:
    answer = await _answer(mycarenet, pki.practitioner("koen"), pki.hub_etk.certificate, clock)
    with pytest.raises(EncryptionError) as refused:
        await mycarenet.envelope.open(answer)
    assert "other than MyCareNet" in refused.value.detail


async def test_attest_is_routed_to_the_patients_mutuality_and_accepted(
    mycarenet: MyCareNet,
) -> None:
    facts = await mycarenet.memberdata.consult(SARAH, "85031212362", ON)
    claim = attest_map.read_app_claim(app_claim("c-1"))
    message = attest_map.create_request(
        claim,
        CareProvider(SARAH.nihii, "doctor", "Sarah", "Vermeulen"),
        facts,
        message_id="6d1f0a5e-3c0e-4c55-9a62-0e8d7c1a2b3c",
        now=mycarenet.sim.clock(),
    )
    answer = await mycarenet.attest.send(SARAH, message, facts=facts, on=ON)
    outcome = attest_map.read_response(answer)
    assert outcome.accepted
    assert outcome.attestation_id is not None
    assert outcome.attestation_id.startswith("134-1-261123-")
    assert mycarenet.sim.inbox["100"].attestations == [
        {"operation": "SendAttestationRequest", "answer": "eattestresponse-create"}
    ]
    cancel = attest_map.cancel_request(
        outcome.attestation_id,
        "B",
        CareProvider(SARAH.nihii, "doctor", "Sarah", "Vermeulen"),
        claim.patient,
        facts,
        message_id="7d1f0a5e-3c0e-4c55-9a62-0e8d7c1a2b3c",
        now=mycarenet.sim.clock(),
    )
    cancelled = attest_map.read_response(
        await mycarenet.attest.cancel(SARAH, cancel, facts=facts, on=ON)
    )
    assert cancelled.accepted
    assert mycarenet.sim.book.attestations[outcome.attestation_id].cancelled


async def test_throttling_and_http_failures_become_retryable_errors(mycarenet: MyCareNet) -> None:
    mycarenet.sim.behaviour["900"].not_enough_time = 1
    with pytest.raises(DownstreamProtocolError) as throttled:
        await mycarenet.memberdata.consult(SARAH, "49090908855", ON)
    assert throttled.value.retryable
    assert throttled.value.code == "MCN-00429"
    mycarenet.sim.memberdata.faults.http_status = 503
    with pytest.raises(DownstreamUnavailable):
        await mycarenet.memberdata.consult(SARAH, "49090908855", ON)


async def test_a_soap_client_fault_is_a_business_rejection_and_malformed_xml_is_refused(
    mycarenet: MyCareNet,
) -> None:
    from ehealth_hub.core.errors import BusinessRejection

    mycarenet.sim.memberdata.faults.soap_fault = SoapFault("MCN-00400", "bad request")
    mycarenet.sim.memberdata.faults.times = 1
    with pytest.raises(BusinessRejection):
        await mycarenet.memberdata.consult(SARAH, "49090908855", ON)
    mycarenet.sim.memberdata.faults.clear()
    mycarenet.sim.memberdata.faults.malformed = True
    mycarenet.sim.memberdata.faults.times = 1
    with pytest.raises((DownstreamProtocolError, HostileXmlError)):
        await mycarenet.memberdata.consult(SARAH, "49090908855", ON)


async def test_efact_post_get_confirm_with_per_line_results(mycarenet: MyCareNet) -> None:
    sender = ef.Sender(SARAH.nihii, "0790000068", "BE71096123456769", "GKCCBEBB", "", "")
    invoices = (
        ef.Invoice(
            1,
            "85031212362",
            "female",
            "134",
            "110",
            "110",
            "an",
            (ef.InvoiceLine("101673", ON, ef.Decimal("25.40"), "line-an"),),
        ),
        ef.Invoice(
            2,
            "05041823170",
            "female",
            "134",
            "110",
            "110",
            "emma",
            (ef.InvoiceLine("101673", ON, ef.Decimal("25.40"), "line-emma"),),
        ),
    )
    batch = ef.Batch(sender, "100", 1, 12345678901234, 2026, 11, ON, True, invoices)
    receipt = await mycarenet.efact.post(SARAH, ef.write_batch(batch), reference="12345678901234")
    assert receipt.accepted
    again = await mycarenet.efact.post(SARAH, ef.write_batch(batch), reference="12345678901234")
    assert again.accepted, "a batch posted twice is taken once"
    messages = await mycarenet.efact.fetch(SARAH)
    assert sorted(m.name for m in messages) == ["920099", "931000"]
    posted = ef.write_batch(batch).encode("latin-1")
    assert _signed_by_mycarenet(mycarenet, posted) == 4, "two messages and two TAcks, signed"
    assert ans.read_ack(next(m for m in messages if m.name == "931000").content.decode()).accepted
    results = {
        r.line_ref: r
        for r in ans.read_result(next(m for m in messages if m.name == "920099").content.decode())
    }
    assert results["line-an"].accepted
    assert (results["line-emma"].accepted, results["line-emma"].code) == (False, "NOTINS")
    assert [t.reference for t in await mycarenet.efact.tacks(SARAH)] == [
        "12345678901234",
        "12345678901234",
    ]
    await mycarenet.efact.confirm(SARAH, messages)
    assert await mycarenet.efact.fetch(SARAH) == []
    assert mycarenet.sim.inspect()["federations"]["100"]["efact"] == [
        {"reference": "12345678901234", "lines": 2}
    ]


def _signed_by_mycarenet(mycarenet: MyCareNet, posted: bytes) -> int:
    """How many Xades-t the last ``get`` answer carries, each checked: MyCareNet's key over the
    decoded content of the element it signs; each TAck the HMAC of the batch keyed by its result."""
    get = next(a for a in reversed(mycarenet.sim.genasync.answered) if a.operation == "get")
    mycarenet_key = mycarenet.sim.pki.mycarenet_etk.certificate
    count = 0
    for carrier in etree.fromstring(get.envelope).iter(f"{{{GA}}}Xades-t"):
        signed = next(e for e in carrier.getparent() if e.get("Id"))  # type: ignore[union-attr]
        signature = etree.fromstring(base64.b64decode(carrier.text or ""))
        xades.signed_properties(signature, signed, mycarenet_key)
        if etree.QName(signed).localname == "TAck":
            mac = hmac.new(signed.get("ResultMajor", "").encode(), posted, hashlib.sha256)
            assert base64.b64decode(signed.text or "") == mac.digest()
        count += 1
    return count


async def test_a_batch_with_broken_totals_gets_a_failure_tack(mycarenet: MyCareNet) -> None:
    sender = ef.Sender(SARAH.nihii, "0790000068", "BE71096123456769", "GKCCBEBB", "", "")
    invoice = ef.Invoice(
        1,
        "85031212362",
        "female",
        "134",
        "110",
        "110",
        "an",
        (ef.InvoiceLine("101673", ON, ef.Decimal("25.40"), "l"),),
    )
    text = ef.write_batch(ef.Batch(sender, "100", 1, 1, 2026, 11, ON, True, (invoice,)))
    receipt = await mycarenet.efact.post(SARAH, text[:-350], reference="1")
    assert not receipt.accepted
    assert "failure" in receipt.result


async def test_a_token_of_another_practitioner_is_refused(mycarenet: MyCareNet) -> None:
    from ehealth_hub.core.errors import BusinessRejection, DownstreamError
    from ehealth_hub.core.ports import Actor

    impostor = Actor(SARAH.nihii, "doctor")
    original = mycarenet.memberdata.tokens

    async def wrong_token(who: Actor) -> object:
        return await original(actor("jan"))

    mycarenet.memberdata.tokens = wrong_token  # type: ignore[assignment]
    with pytest.raises((BusinessRejection, DownstreamError)):
        await mycarenet.memberdata.consult(impostor, "85031212362", ON)


def test_facts_of_the_simulator_follow_the_sandbox(mycarenet: MyCareNet) -> None:
    luc = mycarenet.sim.facts("90070104521", ON)
    assert luc == luc_insurability(ON)
    assert json.dumps(mycarenet.sim.inspect())
