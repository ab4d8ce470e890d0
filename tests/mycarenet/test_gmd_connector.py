"""MyCareNet GlobalMedicalFile through the real stack (zeep, WS-Security with STS holder-of-key
tokens, ETEE sealing, the care provider's XAdES) against the simulator: who holds the GMD."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime

import pytest

from ehealth_hub.core.errors import BusinessRejection, DownstreamUnavailable, MappingError
from ehealth_hub.core.mycarenet_types import GmdFacts, GmdHolder
from ehealth_hub.core.xml import parse_xml
from ehealth_hub.fixtures import sandbox
from ehealth_hub.mappings import mycarenet_gmd as gmd
from ehealth_hub.trust.credentials import Credential
from tests.mycarenet.conftest import MyCareNet, actor

ON = date(2026, 11, 23)
SARAH = actor("sarah")


async def test_the_gmd_holder_of_a_patient_with_the_period_and_payment(
    mycarenet: MyCareNet,
) -> None:
    facts = await mycarenet.gmd.consult_gmd(SARAH, sandbox.patient("an").ssin, ON)
    jan = sandbox.practitioner("jan")
    assert facts.holder == GmdHolder(jan.nihii, jan.given, jan.family)
    assert (facts.start, facts.end) == (date(2025, 1, 1), date(2026, 12, 31))
    assert facts.payment
    assert facts.held_by(jan.nihii, ON)
    assert not facts.held_by(SARAH.nihii, ON)
    assert not facts.held_by(jan.nihii, date(2027, 1, 1))
    envelope = parse_xml(mycarenet.sim.gmd.received[-1].envelope)
    request = next(
        e for e in envelope.iter() if str(e.tag).endswith("}ConsultGlobalMedicalFileRequest")
    )
    names = {str(child.tag).rsplit("}", 1)[-1]: child for child in request}
    assert names["Detail"].get("ContentEncryption") == "encryptedForKnownRecipient"
    assert base64.b64decode(names["Xades"].text or "").startswith(b"<ds:Signature")


@pytest.mark.parametrize("ssin", [sandbox.patient("thomas").ssin, "10000106026"])
async def test_no_holder_for_a_patient_without_gmd_or_unknown(
    mycarenet: MyCareNet, ssin: str
) -> None:
    facts = await mycarenet.gmd.consult_gmd(SARAH, ssin, ON)
    assert facts.holder is None
    assert not facts.held_by(SARAH.nihii, ON)


async def test_a_request_without_the_care_providers_xades_is_refused(
    mycarenet: MyCareNet,
) -> None:
    async def no_signature(detail: dict[str, object], signer: Credential) -> bytes:
        return b""

    mycarenet.gmd.envelope.xades = no_signature  # type: ignore[method-assign]
    with pytest.raises(BusinessRejection) as refused:
        await mycarenet.gmd.consult_gmd(SARAH, sandbox.patient("an").ssin, ON)
    assert refused.value.code == "MCN-00010"


async def test_an_unreachable_service_is_a_retryable_unavailability(mycarenet: MyCareNet) -> None:
    mycarenet.sim.gmd.faults.http_status = 503
    with pytest.raises(DownstreamUnavailable) as down:
        await mycarenet.gmd.consult_gmd(SARAH, sandbox.patient("an").ssin, ON)
    assert down.value.retryable


def test_an_answer_about_another_patient_is_refused() -> None:
    now = datetime(2026, 11, 23, 10, tzinfo=UTC)
    an, luc = sandbox.patient("an"), sandbox.patient("luc")
    request = gmd.consult_request(
        an.ssin, requester=SARAH.nihii, quality_kind="persphysician", on=ON, message_id="1", now=now
    )
    answer = gmd.answer(request, GmdFacts(an.ssin, ON), message_id="2", now=now)
    assert gmd.read_answer(parse_xml(answer), ssin=an.ssin, on=ON).holder is None
    with pytest.raises(MappingError) as refused:
        gmd.read_answer(parse_xml(answer), ssin=luc.ssin, on=ON)
    assert refused.value.rule == "gmd.patient"
