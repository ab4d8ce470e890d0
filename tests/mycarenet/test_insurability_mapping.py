"""MemberData mapping: the AttributeQuery, the SAML answer read back, Coverage and
CoverageEligibilityResponse as valid FHIR R4."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from lxml import etree

from ehealth_hub.core.errors import MappingError
from ehealth_hub.core.mycarenet_types import InsurabilityFacts
from ehealth_hub.core.xml import parse_xml
from ehealth_hub.mappings import mycarenet_insurability as m
from tests.mycarenet.claims_data import luc_insurability

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
ON = date(2026, 11, 23)
LUC = luc_insurability(ON)


def test_attribute_query_asks_the_insurability_facet_for_the_ssin_on_the_date() -> None:
    query = m.attribute_query(
        "90070104521", reference_date=ON, requester_nihii="11530231003", query_id="q1", now=NOW
    )
    assert m.read_query(parse_xml(etree.tostring(query))) == ("90070104521", ON, "q1")
    facet = query.find(f".//{{{m.EXT_NS}}}Facet")
    assert facet is not None
    assert facet.get("id") == m.FACET_INSURABILITY
    dimensions = {d.get("id"): d.text for d in facet}
    assert dimensions == {"requestType": "invoicing", "contactType": "other"}


def test_answer_round_trips_every_fact_of_a_medical_house_member() -> None:
    answer = m.answer(LUC, in_response_to="_q1", response_id="_r1", issuer="306", now=NOW)
    assert m.read_answer(parse_xml(etree.tostring(answer)), ssin=LUC.ssin, reference_date=ON) == LUC


@pytest.mark.parametrize("status", [m.STATUS_NOT_INSURED, m.STATUS_UNKNOWN])
def test_a_refusal_status_reads_as_not_insured_with_the_reason(status: str) -> None:
    facts = InsurabilityFacts("05041823170", ON, False, reasons=(status,))
    answer = m.answer(facts, in_response_to="_q", response_id="_r", issuer="MyCareNet", now=NOW)
    read = m.read_answer(answer, ssin="05041823170", reference_date=ON)
    assert not read.insured
    assert read.reasons == (status,)


def test_a_partial_answer_without_mutuality_is_not_taken_for_insured() -> None:
    answer = m.answer(LUC, in_response_to="_q", response_id="_r", issuer="306", now=NOW)
    for attribute in answer.iter(f"{{{m.SAML20_NS}}}Attribute"):
        if attribute.get("Name") == m.ATTR_MUTUALITY:
            attribute.getparent().remove(attribute)
    read = m.read_answer(answer, ssin=LUC.ssin, reference_date=ON)
    assert not read.insured
    assert read.reasons == ("partial-answer: no mutuality code",)


def test_an_assertion_about_another_person_is_refused() -> None:
    answer = m.answer(LUC, in_response_to="_q", response_id="_r", issuer="306", now=NOW)
    with pytest.raises(MappingError) as refused:
        m.read_answer(answer, ssin="85031212362", reference_date=ON)
    assert refused.value.rule == "memberdata.subject-mismatch"


def test_coverage_and_eligibility_are_valid_r4_with_payor_ct_and_period() -> None:
    coverage = m.coverage(LUC, rid="cov-1")
    Coverage.model_validate(coverage)
    assert coverage["payor"][0]["identifier"]["value"] == "306"
    assert [c["value"] for c in coverage["class"]] == ["110", "110"]
    assert coverage["period"] == {"start": "2025-01-01", "end": "2026-12-31"}
    eligibility = m.eligibility_response(
        LUC, rid="el-1", coverage_id="cov-1", requestor_nihii="11530231003", now=NOW
    )
    CoverageEligibilityResponse.model_validate(eligibility)
    assert eligibility["insurance"] == [
        {"coverage": {"reference": "Coverage/cov-1"}, "inforce": True}
    ]


def test_not_insured_gives_an_eligibility_error_and_no_coverage() -> None:
    emma = InsurabilityFacts("05041823170", ON, False, reasons=(m.STATUS_NOT_INSURED,))
    eligibility = m.eligibility_response(
        emma, rid="el-2", coverage_id="-", requestor_nihii="11530231003", now=NOW
    )
    CoverageEligibilityResponse.model_validate(eligibility)
    assert eligibility["outcome"] == "error"
    assert eligibility["error"][0]["code"]["text"] == m.STATUS_NOT_INSURED
    with pytest.raises(MappingError):
        m.coverage(emma, rid="x")
