"""eAttest v3 mapping: the request message against the HL7-BE eAttestation IG (profiles, shape of
the IG examples) and the answer messages of the IG read back as outcomes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.claimresponse import ClaimResponse
from lxml import etree

from ehealth_hub.core.errors import MappingError
from ehealth_hub.core.mycarenet_types import (
    AttestOutcome,
    CareProvider,
    CareReceiver,
    InsurabilityFacts,
)
from ehealth_hub.fhir import profiles as p
from ehealth_hub.fhir.bundle import validate_bundle
from ehealth_hub.mappings import mycarenet_attest as m
from tests.mycarenet.claims_data import app_claim

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
MESSAGE_ID = "6d1f0a5e-3c0e-4c55-9a62-0e8d7c1a2b3c"
SARAH = CareProvider("11530231003", "doctor", "Sarah", "Vermeulen")
AN = InsurabilityFacts(
    "85031212362", date(2026, 11, 23), True, "134", "13400012345", "110", "110", True
)
FHIR = "{http://hl7.org/fhir}"
IG = "be-fhir-examples/examples/hl7.fhir.be.eattestation"


def _request() -> dict:
    return m.create_request(
        m.read_app_claim(app_claim("c-1", fee=25.4)), SARAH, AN, message_id=MESSAGE_ID, now=NOW
    )


def _types(bundle: dict) -> list[str]:
    return [e["resource"]["resourceType"] for e in bundle["entry"]]


def test_create_request_parses_with_fhir_r4b_and_carries_the_eattestation_profiles() -> None:
    bundle = _request()
    validate_bundle(bundle)
    Bundle.model_validate(bundle)
    assert bundle["meta"]["profile"] == [m.EATTEST_REQUEST]
    claim = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Claim")
    assert claim["meta"]["profile"] == [p.BE_EATTESTATION_CLAIM]
    Claim.model_validate(claim)
    header = bundle["entry"][0]["resource"]
    assert header["eventCoding"] == {"system": m.MESSAGE_EVENTS, "code": "eattest-create"}
    assert header["destination"] == [
        {"name": "MyCareNet", "endpoint": "urn:be:fgov:kbo-bce:organization:cbe-number:0820563481"}
    ]
    assert header["id"] == MESSAGE_ID
    assert header["focus"] == [{"reference": f"urn:uuid:{claim['id']}"}]


def test_create_request_names_code_date_fee_place_and_remote_identification() -> None:
    bundle = _request()
    claim = bundle["entry"][-1]["resource"]
    item = claim["item"][0]
    assert item["productOrService"]["coding"] == [
        {"system": m.NOMENCLATURE_SYSTEM, "code": "101673"}
    ]
    assert item["servicedDate"] == "2026-11-23"
    assert item["net"] == {"value": 25.4, "currency": "EUR"}
    location = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Location"
    )
    assert item["locationReference"]["reference"] == f"urn:uuid:{location['id']}"
    assert location["physicalType"]["coding"][0]["code"] == "vi"
    identity = item["extension"][0]
    assert identity["url"] == m.ID_DOC_EXT
    parts = {e["url"] for e in identity["extension"]}
    assert parts == {"readingDate", "entryType", "reasonManual", "medium"}
    patient = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    membership = patient["identifier"][1]
    assert membership["value"] == "13400012345"
    assert membership["assigner"]["identifier"]["value"] == "134"


def test_supplement_goes_to_the_claim_extension_and_the_total() -> None:
    claim = app_claim("c-2", fee=20.0)
    claim["extension"].append(
        {"url": m.SUPPLEMENT_EXT, "valueMoney": {"value": 2.5, "currency": "EUR"}}
    )
    bundle = m.create_request(m.read_app_claim(claim), SARAH, AN, message_id=MESSAGE_ID, now=NOW)
    resource = bundle["entry"][-1]["resource"]
    assert resource["extension"] == [
        {"url": m.SUPPLEMENT_EXT, "valueMoney": {"value": 2.5, "currency": "EUR"}}
    ]
    assert resource["total"] == {"value": 22.5, "currency": "EUR"}


def test_the_same_message_id_gives_the_same_message_byte_for_byte() -> None:
    assert json.dumps(_request(), sort_keys=True) == json.dumps(_request(), sort_keys=True)


def test_entry_order_follows_the_ig_general_practice_example(shared_dir: Path) -> None:
    example = etree.parse(
        str(shared_dir / IG / "FHIR_GeneralPractice_eAttestCreateRequest_ex11.xml")
    )
    expected = [etree.QName(r[0]).localname for r in example.getroot().iter(f"{FHIR}resource")]
    ours = [t for t in _types(_request()) if t != "Location"]
    assert ours == expected


def test_cancel_request_names_the_attestation_and_reason() -> None:
    bundle = m.cancel_request(
        "134-1-261123-0000001-58",
        "A",
        SARAH,
        CareReceiver("85031212362", "An", "Peeters"),
        AN,
        message_id=MESSAGE_ID,
        now=NOW,
    )
    validate_bundle(bundle)
    assert bundle["entry"][0]["resource"]["eventCoding"]["code"] == "eattest-cancel"
    claim = bundle["entry"][-1]["resource"]
    assert claim["identifier"] == [
        {"system": m.EATTEST_ID_SYSTEM, "value": "134-1-261123-0000001-58"}
    ]
    assert claim["supportingInfo"][0]["code"]["coding"][0] == {
        "system": m.CANCEL_REASON_SYSTEM,
        "code": "A",
    }
    with pytest.raises(MappingError) as refused:
        m.cancel_request(
            "x",
            "Z",
            SARAH,
            CareReceiver("85031212362", "An", "Peeters"),
            AN,
            message_id=MESSAGE_ID,
            now=NOW,
        )
    assert refused.value.rule == "eattest.cancel-reason"


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        (
            lambda c: c["item"][0]["productOrService"].update(coding=[{"code": "101032"}]),
            "Claim.item[0].productOrService",
            "claim.teleconsultation-code",
        ),
        (
            lambda c: c["patient"].update(identifier={}),
            "Claim.patient.identifier",
            "claim.patient-ssin",
        ),
        (
            lambda c: c["item"][0].pop("servicedDate"),
            "Claim.item[0].servicedDate",
            "claim.serviced-date",
        ),
        (lambda c: c["item"][0]["net"].update(value=-1), "Claim.item[0].net", "amount"),
        (lambda c: c["item"].append(dict(c["item"][0])), "Claim.item", "claim.one-item"),
        (
            lambda c: c["extension"][0].update(valueCode="phone"),
            "Claim.extension.video-identification",
            "claim.identification",
        ),
    ],
)
def test_refuses_a_claim_naming_the_field_and_rule(change, field: str, rule: str) -> None:
    claim = app_claim("c-3")
    change(claim)
    with pytest.raises(MappingError) as refused:
        m.read_app_claim(claim)
    assert (refused.value.field, refused.value.rule) == (field, rule)


def _example_json(path: Path) -> dict:
    """The IG's XML example as FHIR-JSON-shaped dicts (enough for the outcome)."""
    root = etree.parse(str(path)).getroot()
    kind = root.find(f"{FHIR}type")
    assert kind is not None
    return {
        "resourceType": "Bundle",
        "type": kind.get("value"),
        "entry": [{"resource": _resource(e)} for e in root.iter(f"{FHIR}entry")],
    }


_LISTS = {
    "entry",
    "identifier",
    "issue",
    "coding",
    "addItem",
    "expression",
    "extension",
    "adjudication",
    "destination",
    "focus",
    "itemSequence",
}


def _resource(entry: etree._Element) -> dict:
    resource = entry.find(f"{FHIR}resource")
    assert resource is not None
    flat = _flatten(resource[0])
    flat["resourceType"] = etree.QName(resource[0]).localname
    return flat


def _flatten(node: etree._Element) -> dict:
    out: dict[str, list[object]] = {}
    for child in node:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        grand = [g for g in child if isinstance(g.tag, str)]
        out.setdefault(name, []).append(_flatten(child) if grand else child.get("value"))
    return {k: (v if k in _LISTS else v[0]) for k, v in out.items()}


def test_reads_the_ig_create_response_as_accepted_with_its_attestation_id(shared_dir: Path) -> None:
    bundle = _example_json(shared_dir / IG / "FHIR_GeneralPractice_eAttestCreateResponse_ex12.xml")
    outcome = m.read_response(bundle)
    assert outcome.accepted
    assert outcome.attestation_id == "300-1-170127-0000005-32"
    assert outcome.insurer == "300"
    # addItem.net is the IG's "fee for item": 21.09 + 17.77; the answer states no reimbursement
    assert outcome.charged == Decimal("38.86")
    assert outcome.reimbursed is None
    assert [(i.code, i.net, i.decision) for i in outcome.items] == [
        ("101032", Decimal("21.09"), "intreatment"),
        ("475075", Decimal("17.77"), "intreatment"),
    ]
    assert outcome.attestation_type == "generalpractice"


def test_reads_the_ig_reject_as_refused_with_the_eattestation_error_code(shared_dir: Path) -> None:
    bundle = _example_json(shared_dir / IG / "FHIR_All_eAttestReject_ex17.xml")
    outcome = m.read_response(bundle)
    assert not outcome.accepted
    assert [e.code for e in outcome.errors] == ["MISSING_PRACTITIONERROLE_PRACTITIONER_REFERENCE"]
    assert (
        outcome.errors[0].expression
        == "Bundle.entry[2].resource.ofType(PractitionerRole).practitioner"
    )


def test_refuses_an_answer_that_is_not_a_message() -> None:
    with pytest.raises(MappingError) as refused:
        m.read_response({"resourceType": "Bundle", "type": "collection", "entry": []})
    assert refused.value.rule == "eattest.response-shape"


def test_claim_response_for_the_app_is_valid_r4_with_outcome_and_errors() -> None:
    claim = m.read_app_claim(app_claim("c-4"))
    accepted = m.claim_response(
        claim,
        AttestOutcome(True, "134-1-261123-0000001-58", "134", Decimal("25.40")),
        rid="r1",
        now=NOW,
    )
    ClaimResponse.model_validate(accepted)
    assert accepted["outcome"] == "complete"
    assert accepted["identifier"][0]["value"] == "134-1-261123-0000001-58"
    from ehealth_hub.core.mycarenet_types import AttestError

    refused = m.claim_response(
        claim,
        AttestOutcome(False, None, "134", errors=(AttestError("NOT_INSURED_ON_DATE"),)),
        rid="r2",
        now=NOW,
    )
    ClaimResponse.model_validate(refused)
    assert refused["outcome"] == "error"
    assert refused["error"][0]["code"]["coding"][0] == {
        "system": m.ERRORS_SYSTEM,
        "code": "NOT_INSURED_ON_DATE",
    }
