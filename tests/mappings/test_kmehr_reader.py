"""The KMEHR reader tolerates what real messages do, and names the element when it refuses."""

from __future__ import annotations

import gc
from datetime import datetime

import pytest

from ehealth_hub.core.errors import MappingError
from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import IdFactory
from ehealth_hub.mappings.kmehr_to_fhir import translate_kmehr
from tests.mappings._support import kmehr_doc, only

PROBLEM = """<item><id S="ID-KMEHR" SV="1.0">1</id><cd S="CD-ITEM" SV="1.11">problem</cd>
  <content><cd S="ICPC" SV="2">  K86
  </cd></content><beginmoment><date>2012-04-02</date></beginmoment></item>"""


def test_reads_a_message_without_the_default_namespace(now: datetime, ids: IdFactory) -> None:
    bundle = translate_kmehr(kmehr_doc(PROBLEM, namespace=False), now=now, new_id=ids)
    assert only(bundle, "Condition")["code"]["coding"][0]["code"] == "K86"


def test_strips_padding_and_newlines_from_codes(now: datetime, ids: IdFactory) -> None:
    bundle = translate_kmehr(kmehr_doc(PROBLEM), now=now, new_id=ids)
    assert only(bundle, "Condition")["code"]["coding"][0]["code"] == "K86"


@pytest.mark.parametrize("scheme", ["INSS", "ID-PATIENT"])
def test_keeps_the_ssin_from_inss_or_id_patient(scheme: str, now: datetime, ids: IdFactory) -> None:
    doc = kmehr_doc(patient_id=f'<id S="{scheme}" SV="1.0">85031212362</id>')
    patient = only(translate_kmehr(doc, now=now, new_id=ids), "Patient")
    assert patient["identifier"] == [{"system": prof.SSIN_SYSTEM, "value": "85031212362"}]


def test_unwraps_a_soap_envelope(now: datetime, ids: IdFactory) -> None:
    inner = kmehr_doc(PROBLEM).split(b"?>", 1)[1]
    soap = (
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        b"<GetTransactionResponse>" + inner + b"</GetTransactionResponse></s:Body></s:Envelope>"
    )
    assert only(translate_kmehr(soap, now=now, new_id=ids), "Condition")


def test_prefers_the_inner_message_of_a_hub_request_wrapper(now: datetime, ids: IdFactory) -> None:
    inner = kmehr_doc(PROBLEM).split(b"?>", 1)[1]
    wrapped = (
        b"<kmehrmessage><header/><Base64EncryptedData>"
        + inner
        + b"</Base64EncryptedData></kmehrmessage>"
    )
    assert only(translate_kmehr(wrapped, now=now, new_id=ids), "Condition")


def test_refuses_two_messages_in_one_document(now: datetime, ids: IdFactory) -> None:
    inner = kmehr_doc(PROBLEM).split(b"?>", 1)[1]
    with pytest.raises(MappingError) as caught:
        translate_kmehr(b"<list>" + inner + inner + b"</list>", now=now, new_id=ids)
    assert caught.value.rule == "kmehr.single-message"


def test_refuses_a_document_without_kmehr(now: datetime, ids: IdFactory) -> None:
    with pytest.raises(MappingError) as caught:
        translate_kmehr(b"<single-message/>", now=now, new_id=ids)
    assert caught.value.rule == "kmehr.message-present"


def test_keeps_date_only_moments_date_only(now: datetime, ids: IdFactory) -> None:
    bundle = translate_kmehr(kmehr_doc(PROBLEM), now=now, new_id=ids)
    assert only(bundle, "Condition")["onsetDateTime"] == "2012-04-02"
    assert only(bundle, "Patient")["birthDate"] == "1985-03-12"


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("<time>10:15:00</time>", "2026-07-01T10:15:00+02:00"),
        ("<time>10:15:00Z</time>", "2026-07-01T10:15:00+00:00"),
    ],
)
def test_gives_times_the_brussels_offset_unless_they_carry_one(
    time: str, expected: str, now: datetime, ids: IdFactory
) -> None:
    bundle = translate_kmehr(kmehr_doc(PROBLEM, time=time), now=now, new_id=ids)
    assert only(bundle, "Condition")["recordedDate"] == expected


def test_uses_the_winter_offset_in_winter(now: datetime, ids: IdFactory) -> None:
    doc = kmehr_doc(PROBLEM).replace(
        b"<date>2026-07-01</date><time>", b"<date>2026-01-15</date><time>"
    )
    bundle = translate_kmehr(doc, now=now, new_id=ids)
    assert only(bundle, "Condition")["recordedDate"] == "2026-01-15T10:15:00+01:00"


def test_names_the_element_and_rule_of_an_invalid_date(now: datetime, ids: IdFactory) -> None:
    bad = PROBLEM.replace("2012-04-02", "2012-13-45")
    with pytest.raises(MappingError) as caught:
        translate_kmehr(kmehr_doc(bad), now=now, new_id=ids)
    assert caught.value.rule == "kmehr.date"
    assert "/kmehrmessage/folder/transaction/item/beginmoment" in caught.value.field
    assert "(line " in caught.value.field


def test_refuses_an_item_without_cd_item(now: datetime, ids: IdFactory) -> None:
    item = '<item><id S="ID-KMEHR" SV="1.0">1</id><content><text L="nl">x</text></content></item>'
    with pytest.raises(MappingError) as caught:
        translate_kmehr(kmehr_doc(item), now=now, new_id=ids)
    assert caught.value.rule == "kmehr.item-type"


def test_refuses_prescriptions_as_records(now: datetime, ids: IdFactory) -> None:
    with pytest.raises(MappingError) as caught:
        translate_kmehr(kmehr_doc(transaction="pharmaceuticalprescription"), now=now, new_id=ids)
    assert caught.value.rule == "kmehr.transaction-supported"


def test_reads_any_cd_standard_version(now: datetime, ids: IdFactory) -> None:
    for standard in (b"20131001", b"20231110", b"KMEHR_20161201"):
        doc = kmehr_doc(PROBLEM).replace(b"20161201", standard)
        assert only(translate_kmehr(doc, now=now, new_id=ids), "Condition")


def test_leaves_the_cyclic_collector_as_it_found_it(now: datetime, ids: IdFactory) -> None:
    assert gc.isenabled()
    translate_kmehr(kmehr_doc(PROBLEM), now=now, new_id=ids)
    with pytest.raises(MappingError):
        translate_kmehr(kmehr_doc(PROBLEM.replace("2012-04-02", "2012-99-99")), now=now, new_id=ids)
    assert gc.isenabled()
    gc.disable()
    try:
        translate_kmehr(kmehr_doc(PROBLEM), now=now, new_id=ids)
        assert not gc.isenabled()
    finally:
        gc.enable()
