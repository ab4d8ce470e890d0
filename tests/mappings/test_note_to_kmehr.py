"""FHIR consultation note -> KMEHR 1.38 for the patient's GP (XSD-validated in place)."""

from __future__ import annotations

import base64
import copy
from datetime import datetime
from typing import Any

import pytest
from lxml import etree

from ehealth_hub.core.errors import MappingError
from ehealth_hub.core.xml import KMEHR_NS
from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import IdFactory, Json
from ehealth_hub.mappings.kmehr_to_fhir import translate_kmehr
from ehealth_hub.mappings.kmehr_write import Party
from ehealth_hub.mappings.note_to_kmehr import note_to_kmehr
from tests.mappings._support import assert_valid, only

K = f"{{{KMEHR_NS}}}"
TEXT = "Teleconsultatie: acute bronchitis. Rust, veel drinken; controle bij huisarts na 1 week."


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def make_note(**content: Any) -> Json:
    attachment = content or {
        "contentType": "text/plain",
        "language": "nl",
        "data": _b64(TEXT.encode()),
    }
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:doc",
                "resource": {
                    "resourceType": "DocumentReference",
                    "meta": {"profile": [prof.BE_DOCUMENT_REFERENCE]},
                    "status": "current",
                    "subject": {"reference": "urn:uuid:pat"},
                    "author": [{"reference": "urn:uuid:role"}],
                    "date": "2026-11-20T10:05:00+01:00",
                    "context": {"encounter": [{"reference": "urn:uuid:enc"}]},
                    "content": [{"attachment": attachment}],
                },
            },
            {
                "fullUrl": "urn:uuid:pat",
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": prof.SSIN_SYSTEM, "value": "85031212362"}],
                    "name": [{"family": "Peeters", "given": ["An", "Marie"]}],
                    "gender": "female",
                    "birthDate": "1985-03-12",
                    "communication": [{"language": {"coding": [{"code": "nl"}]}}],
                    "generalPractitioner": [{"reference": "Practitioner/jan"}],
                },
            },
            {
                "fullUrl": "urn:uuid:role",
                "resource": {
                    "resourceType": "PractitionerRole",
                    "practitioner": {"reference": "Practitioner/sarah"},
                },
            },
            {
                "resource": {
                    "resourceType": "Practitioner",
                    "id": "sarah",
                    "identifier": [{"system": prof.NIHDI_SYSTEM, "value": "11530231003"}],
                    "name": [{"family": "Vermeulen", "given": ["Sarah"]}],
                }
            },
            {
                "resource": {
                    "resourceType": "Practitioner",
                    "id": "jan",
                    "identifier": [{"system": prof.NIHDI_SYSTEM, "value": "23456776003"}],
                    "name": [{"family": "Janssens", "given": ["Jan"]}],
                }
            },
            {
                "fullUrl": "urn:uuid:enc",
                "resource": {
                    "resourceType": "Encounter",
                    "status": "finished",
                    "period": {"start": "2026-11-20T09:40:00+01:00"},
                },
            },
        ],
    }


def _doc(note: Json) -> Json:
    return note["entry"][0]["resource"]


@pytest.fixture
def kmehr(now: datetime, ids: IdFactory) -> etree._Element:
    return etree.fromstring(note_to_kmehr(make_note(), now=now, new_id=ids))


@pytest.mark.corpus
def test_writes_a_contact_report_valid_against_kmehr_1_38(
    now: datetime, ids: IdFactory, kmehr_schema: etree.XMLSchema
) -> None:
    assert_valid(kmehr_schema, note_to_kmehr(make_note(), now=now, new_id=ids))


@pytest.mark.corpus
def test_writes_a_pdf_note_valid_against_kmehr_1_38(
    now: datetime, ids: IdFactory, kmehr_schema: etree.XMLSchema
) -> None:
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF"
    kmehr = note_to_kmehr(
        make_note(contentType="application/pdf", data=_b64(pdf)), now=now, new_id=ids
    )
    assert_valid(kmehr_schema, kmehr)
    lnk = etree.fromstring(kmehr).find(f".//{K}transaction/{K}lnk")
    assert lnk is not None
    assert (lnk.get("TYPE"), lnk.get("MEDIATYPE")) == ("multimedia", "application/pdf")
    assert base64.b64decode(lnk.text or "") == pdf


def test_uses_contactreport_with_an_encounter_and_note_without(
    now: datetime, ids: IdFactory
) -> None:
    note = make_note()
    without = copy.deepcopy(note)
    del _doc(without)["context"]
    kinds = [
        etree.fromstring(note_to_kmehr(n, now=now, new_id=ids)).findtext(f".//{K}transaction/{K}cd")
        for n in (note, without)
    ]
    assert kinds == ["contactreport", "note"]


def test_dates_the_transaction_at_the_encounter_in_brussels_time(kmehr: etree._Element) -> None:
    tx = kmehr.find(f".//{K}transaction")
    assert tx is not None
    assert (tx.findtext(f"{K}date"), tx.findtext(f"{K}time")) == ("2026-11-20", "09:40:00")


def test_sends_from_the_hub_application_and_the_author_to_the_gp(kmehr: etree._Element) -> None:
    senders = kmehr.findall(f"{K}header/{K}sender/{K}hcparty")
    assert [s.findtext(f"{K}cd") for s in senders] == ["application", "persphysician"]
    assert senders[1].findtext(f"{K}id") == "11530231003"
    recipient = kmehr.find(f"{K}header/{K}recipient/{K}hcparty")
    assert recipient is not None
    assert recipient.findtext(f"{K}id") == "23456776003"


@pytest.mark.corpus
def test_types_a_psychologist_author_by_the_role_code(
    now: datetime, ids: IdFactory, kmehr_schema: etree.XMLSchema
) -> None:
    note = make_note()
    note["entry"][2]["resource"]["code"] = [
        {"coding": [{"system": prof.CD_HCPARTY_SYSTEM, "code": "persclinicalpsychologist"}]}
    ]
    kmehr = note_to_kmehr(note, now=now, new_id=ids)
    assert_valid(kmehr_schema, kmehr)
    author = etree.fromstring(kmehr).find(f".//{K}transaction/{K}author/{K}hcparty")
    assert author is not None
    assert author.findtext(f"{K}cd") == "persclinicalpsychologist"


def test_keeps_the_text_and_its_language(kmehr: etree._Element) -> None:
    text = kmehr.find(f".//{K}transaction/{K}text")
    assert text is not None
    assert (text.text, text.get("L")) == (TEXT, "nl")


def test_sends_to_an_explicit_recipient(now: datetime, ids: IdFactory) -> None:
    gp = Party(kind="persphysician", nihii="34567830003")
    kmehr = etree.fromstring(note_to_kmehr(make_note(), now=now, new_id=ids, recipient=gp))
    assert kmehr.findtext(f"{K}header/{K}recipient/{K}hcparty/{K}id") == "34567830003"


def test_reads_a_bare_document_reference_with_contained_resources(
    now: datetime, ids: IdFactory
) -> None:
    bundle = make_note()
    doc = _doc(bundle)
    contained = [dict(e["resource"], id=f"r{i}") for i, e in enumerate(bundle["entry"][1:], 1)]
    contained[0]["generalPractitioner"] = [{"reference": "#r4"}]
    contained[1]["practitioner"] = {"reference": "#r3"}
    bare = {
        **{k: v for k, v in doc.items() if k != "context"},
        "contained": contained,
        "subject": {"reference": "#r1"},
        "author": [{"reference": "#r2"}],
        "context": {"encounter": [{"reference": "#r5"}]},
    }
    kmehr = etree.fromstring(note_to_kmehr(bare, now=now, new_id=ids))
    assert kmehr.findtext(f".//{K}patient/{K}id") == "85031212362"
    assert kmehr.findtext(f"{K}header/{K}recipient/{K}hcparty/{K}id") == "23456776003"
    assert kmehr.findtext(f".//{K}transaction/{K}cd") == "contactreport"


def test_round_trips_through_the_kmehr_reader(now: datetime, ids: IdFactory) -> None:
    bundle = translate_kmehr(note_to_kmehr(make_note(), now=now, new_id=ids), now=now, new_id=ids)
    patient = only(bundle, "Patient")
    assert patient["identifier"][0]["value"] == "85031212362"
    assert patient["name"][0]["given"] == ["An", "Marie"]


def _break(note: Json, path: str, value: Any) -> Json:
    broken = copy.deepcopy(note)
    target: Any = broken
    *parents, last = path.split(".")
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    if value is None:
        del target[last]
    else:
        target[last] = value
    return broken


@pytest.mark.parametrize(
    ("path", "value", "rule"),
    [
        ("entry.1.resource.identifier.0.value", "85031212363", "ssin-mod97"),
        ("entry.3.resource.identifier.0.value", "11530232003", "nihii-mod97"),
        ("entry.1.resource.name", [{"family": "Peeters"}], "note.patient-name"),
        ("entry.0.resource.status", "superseded", "note.status"),
        ("entry.0.resource.author", None, "note.author"),
        ("entry.0.resource.content", [], "note.content"),
        ("entry.0.resource.content.0.attachment.contentType", "image/png", "note.content-type"),
        ("entry.0.resource.content.0.attachment.data", "@@not base64@@", "note.attachment-data"),
        ("entry.0.resource.subject.reference", "urn:uuid:nobody", "note.reference"),
        ("entry.1.resource.generalPractitioner", None, "note.recipient"),
        ("entry.5.resource.period.start", "2026-11-20T09:40:00", "note.date"),
    ],
)
def test_refuses_notes_that_cannot_be_sent_faithfully(
    path: str, value: Any, rule: str, now: datetime, ids: IdFactory
) -> None:
    with pytest.raises(MappingError) as caught:
        note_to_kmehr(_break(make_note(), path, value), now=now, new_id=ids)
    assert caught.value.rule == rule
    assert caught.value.field


def test_refuses_a_pdf_attachment_that_is_not_a_pdf(now: datetime, ids: IdFactory) -> None:
    note = make_note(contentType="application/pdf", data=_b64(b"<html>"))
    with pytest.raises(MappingError) as caught:
        note_to_kmehr(note, now=now, new_id=ids)
    assert caught.value.rule == "note.pdf"
