"""MyCareNet MemberData (insurability): the SAML 2.0 AttributeQuery the hub sends, the SAML 2.0
Response the mutuality answers, and that answer as FHIR Coverage + CoverageEligibilityResponse.

Standard: MyCareNet MemberData v1 (``mycarenet-memberdata-protocol-1_0``; the Detail blob holds a
SAML 2.0 ``samlp:AttributeQuery`` with the ``urn:be:cin:nippin:memberdata:saml:extension`` Facet
extension), cookbook 1.4. Verified names: Subject NameID format ``urn:be:fgov:person:ssin`` (or
``urn:be:cin:nippin:careReceiver:registrationNumber@mut``), the Facet
``urn:be:cin:nippin:insurability`` with Dimensions ``requestType`` (information|invoicing) and
``contactType``, assertion Advice types ``urn:be:cin:nippin:insurability:patientData`` /
``...:generalSituation``, attributes ``urn:be:cin:nippin:careReceiver:registrationNumber``,
``...:careReceiver:mutuality``, ``urn:be:cin:nippin:cb1`` / ``cb2`` (CT1/CT2). The names of the
third-party-payer and medical-house attributes (:data:`ATTR_PAYMENT`, :data:`ATTR_MEDICAL_HOUSE`)
are the hub's reading, not verified against the cookbook.

FHIR: Coverage per be-mycarenet-coverage (MyCareNet IG 2.1.2: payor = the mutuality, two classes
CT1 and CT2), CoverageEligibilityResponse R4. Pure: ``now`` and ids are passed in.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final

from lxml import etree

from ehealth_hub.core.errors import MappingError
from ehealth_hub.core.mycarenet_types import InsurabilityFacts
from ehealth_hub.core.xml import SAML20_NS
from ehealth_hub.fhir import profiles as p
from ehealth_hub.fhir.builders import Json, coding, concept, identifier

SAMLP2_NS: Final = "urn:oasis:names:tc:SAML:2.0:protocol"
EXT_NS: Final = "urn:be:cin:nippin:memberdata:saml:extension"
SSIN_FORMAT: Final = "urn:be:fgov:person:ssin"
FACET_INSURABILITY: Final = "urn:be:cin:nippin:insurability"
ADVICE_PATIENT: Final = "urn:be:cin:nippin:insurability:patientData"
ADVICE_SITUATION: Final = "urn:be:cin:nippin:insurability:generalSituation"
ATTR_MEMBERSHIP: Final = "urn:be:cin:nippin:careReceiver:registrationNumber"
ATTR_MUTUALITY: Final = "urn:be:cin:nippin:careReceiver:mutuality"
ATTR_CT1: Final = "urn:be:cin:nippin:cb1"
ATTR_CT2: Final = "urn:be:cin:nippin:cb2"
ATTR_PAYMENT: Final = "urn:be:cin:nippin:payment:byIO"
ATTR_MEDICAL_HOUSE: Final = "urn:be:cin:nippin:medicalHouse"
ATTR_START: Final = "urn:be:cin:nippin:insurability:startDate"
ATTR_END: Final = "urn:be:cin:nippin:insurability:endDate"
SUCCESS: Final = "urn:oasis:names:tc:SAML:2.0:status:Success"
STATUS_NOT_INSURED: Final = "urn:be:cin:nippin:status:notInsured"
STATUS_UNKNOWN: Final = "urn:be:cin:nippin:status:unknownCareReceiver"
MYCARENET_COVERAGE: Final = (
    "https://www.ehealth.fgov.be/standards/fhir/mycarenet/StructureDefinition/be-mycarenet-coverage"
)
HOLDER_CODE_1: Final = (
    "https://www.ehealth.fgov.be/standards/fhir/mycarenet/CodeSystem/be-cs-holder-code-1"
)
HOLDER_CODE_2: Final = (
    "https://www.ehealth.fgov.be/standards/fhir/mycarenet/CodeSystem/be-cs-holder-code-2"
)


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def attribute_query(
    ssin: str,
    *,
    reference_date: date,
    requester_nihii: str,
    request_type: str = "invoicing",
    contact_type: str = "other",
    query_id: str,
    now: datetime,
) -> etree._Element:
    """The ``samlp:AttributeQuery`` for one patient's insurability on ``reference_date``."""
    query = etree.Element(
        _q(SAMLP2_NS, "AttributeQuery"),
        nsmap={"samlp": SAMLP2_NS, "saml": SAML20_NS, "ext": EXT_NS},
    )
    query.set("ID", query_id if query_id[:1].isalpha() or query_id[:1] == "_" else f"_{query_id}")
    query.set("Version", "2.0")
    query.set("IssueInstant", now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    etree.SubElement(
        query, _q(SAML20_NS, "Issuer"), Format="urn:be:cin:nippin:nihii11"
    ).text = requester_nihii
    extensions = etree.SubElement(query, _q(SAMLP2_NS, "Extensions"))
    facet = etree.SubElement(extensions, _q(EXT_NS, "Facet"), id=FACET_INSURABILITY)
    etree.SubElement(facet, _q(EXT_NS, "Dimension"), id="requestType").text = request_type
    etree.SubElement(facet, _q(EXT_NS, "Dimension"), id="contactType").text = contact_type
    subject = etree.SubElement(query, _q(SAML20_NS, "Subject"))
    etree.SubElement(subject, _q(SAML20_NS, "NameID"), Format=SSIN_FORMAT).text = ssin
    confirmation = etree.SubElement(
        subject,
        _q(SAML20_NS, "SubjectConfirmation"),
        Method="urn:be:cin:nippin:memberIdentification",
    )
    data = etree.SubElement(confirmation, _q(SAML20_NS, "SubjectConfirmationData"))
    data.set("NotBefore", f"{reference_date.isoformat()}T00:00:00Z")
    data.set("NotOnOrAfter", f"{reference_date.isoformat()}T23:59:59Z")
    return query


def read_query(query: etree._Element) -> tuple[str, date, str]:
    """(SSIN, reference date, query id) of an AttributeQuery (the simulator's side)."""
    name_id = query.findtext(f"{_q(SAML20_NS, 'Subject')}/{_q(SAML20_NS, 'NameID')}")
    data = query.find(f".//{_q(SAML20_NS, 'SubjectConfirmationData')}")
    if not name_id or data is None:
        raise MappingError(
            "AttributeQuery without Subject NameID/SubjectConfirmationData",
            field="AttributeQuery.Subject",
            rule="memberdata.subject",
        )
    return (
        name_id.strip(),
        date.fromisoformat(str(data.get("NotBefore", ""))[:10]),
        str(query.get("ID", "")),
    )


def _attributes(values: dict[str, str]) -> etree._Element:
    statement = etree.Element(_q(SAML20_NS, "AttributeStatement"))
    for name, value in values.items():
        attribute = etree.SubElement(statement, _q(SAML20_NS, "Attribute"), Name=name)
        etree.SubElement(attribute, _q(SAML20_NS, "AttributeValue")).text = value
    return statement


def answer(
    facts: InsurabilityFacts, *, in_response_to: str, response_id: str, issuer: str, now: datetime
) -> etree._Element:
    """The ``samlp:Response`` a mutuality gives for ``facts`` (built by the simulator)."""
    response = etree.Element(
        _q(SAMLP2_NS, "Response"), nsmap={"samlp": SAMLP2_NS, "saml": SAML20_NS}
    )
    response.set("ID", response_id)
    response.set("InResponseTo", in_response_to)
    response.set("Version", "2.0")
    response.set("IssueInstant", now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    etree.SubElement(response, _q(SAML20_NS, "Issuer")).text = issuer
    status = etree.SubElement(response, _q(SAMLP2_NS, "Status"))
    code = etree.SubElement(status, _q(SAMLP2_NS, "StatusCode"), Value=SUCCESS)
    if not facts.insured:
        etree.SubElement(
            code,
            _q(SAMLP2_NS, "StatusCode"),
            Value=facts.reasons[0] if facts.reasons else STATUS_NOT_INSURED,
        )
        return response
    values = {
        ATTR_MEMBERSHIP: facts.membership,
        ATTR_MUTUALITY: facts.mutuality,
        ATTR_CT1: facts.ct1,
        ATTR_CT2: facts.ct2,
        ATTR_PAYMENT: "true" if facts.third_party_payer else "false",
        ATTR_MEDICAL_HOUSE: "true" if facts.medical_house else "false",
    }
    if facts.period_start:
        values[ATTR_START] = facts.period_start.isoformat()
    if facts.period_end:
        values[ATTR_END] = facts.period_end.isoformat()
    assertion = etree.SubElement(
        response, _q(SAML20_NS, "Assertion"), ID=f"{response_id}-1", Version="2.0"
    )
    assertion.set("IssueInstant", response.get("IssueInstant", ""))
    etree.SubElement(assertion, _q(SAML20_NS, "Issuer")).text = issuer
    subject = etree.SubElement(assertion, _q(SAML20_NS, "Subject"))
    etree.SubElement(subject, _q(SAML20_NS, "NameID"), Format=SSIN_FORMAT).text = facts.ssin
    advice = etree.SubElement(assertion, _q(SAML20_NS, "Advice"))
    etree.SubElement(advice, _q(SAML20_NS, "AssertionIDRef")).text = ADVICE_PATIENT
    assertion.append(_attributes(values))
    return response


def read_answer(response: etree._Element, *, ssin: str, reference_date: date) -> InsurabilityFacts:
    """The facts of a MemberData Response; a refusal status gives ``insured=False`` with reasons."""
    if response.tag != _q(SAMLP2_NS, "Response"):
        raise MappingError(
            "MemberData answer is not a samlp:Response", field="Detail", rule="memberdata.response"
        )
    codes = [str(c.get("Value", "")) for c in response.iter(_q(SAMLP2_NS, "StatusCode"))]
    if not codes or codes[0] != SUCCESS or len(codes) > 1:
        return InsurabilityFacts(ssin, reference_date, False, reasons=tuple(codes[1:] or codes))
    values: dict[str, str] = {}
    for assertion in response.iter(_q(SAML20_NS, "Assertion")):
        subject = assertion.findtext(f"{_q(SAML20_NS, 'Subject')}/{_q(SAML20_NS, 'NameID')}")
        if subject is not None and subject.strip() != ssin:
            raise MappingError(
                "MemberData assertion about another person",
                field="Assertion.Subject",
                rule="memberdata.subject-mismatch",
            )
        for attribute in assertion.iter(_q(SAML20_NS, "Attribute")):
            values[str(attribute.get("Name"))] = (
                attribute.findtext(_q(SAML20_NS, "AttributeValue")) or ""
            ).strip()
    mutuality = values.get(ATTR_MUTUALITY, "")
    if len(mutuality) != 3 or not mutuality.isdigit():
        return InsurabilityFacts(
            ssin, reference_date, False, reasons=("partial-answer: no mutuality code",)
        )
    start, end = values.get(ATTR_START), values.get(ATTR_END)
    return InsurabilityFacts(
        ssin,
        reference_date,
        True,
        mutuality,
        values.get(ATTR_MEMBERSHIP, ""),
        values.get(ATTR_CT1, ""),
        values.get(ATTR_CT2, ""),
        values.get(ATTR_PAYMENT) == "true",
        values.get(ATTR_MEDICAL_HOUSE) == "true",
        date.fromisoformat(start) if start else None,
        date.fromisoformat(end) if end else None,
    )


def coverage(facts: InsurabilityFacts, *, rid: str) -> Json:
    """The patient's Coverage (be-mycarenet-coverage): payor, membership, CT1/CT2, period."""
    if not facts.insured:
        raise MappingError(
            "no Coverage for a patient without insurability",
            field="insurability",
            rule="memberdata.not-insured",
        )
    out: Json = {
        "resourceType": "Coverage",
        "id": rid,
        "meta": {"profile": [MYCARENET_COVERAGE]},
        "status": "active",
        "type": concept(
            [
                coding(
                    "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "PUBLICPOL",
                    "public healthcare",
                )
            ]
        ),
        "subscriberId": facts.membership,
        "beneficiary": {"identifier": identifier(p.SSIN_SYSTEM, facts.ssin)},
        "payor": [{"identifier": identifier(p.INSURANCE_NUMBER_SYSTEM, facts.mutuality)}],
        "class": [
            {
                "type": concept(
                    [coding("http://terminology.hl7.org/CodeSystem/coverage-class", "plan")]
                ),
                "value": facts.ct1,
                "name": "CT1",
            },
            {
                "type": concept(
                    [coding("http://terminology.hl7.org/CodeSystem/coverage-class", "subplan")]
                ),
                "value": facts.ct2,
                "name": "CT2",
            },
        ],
        "extension": [
            {
                "url": f"{p.HUB_SYSTEM_BASE}/StructureDefinition/third-party-payer",
                "valueBoolean": facts.third_party_payer,
            },
            {
                "url": f"{p.HUB_SYSTEM_BASE}/StructureDefinition/medical-house",
                "valueBoolean": facts.medical_house,
            },
        ],
    }
    if facts.period_start or facts.period_end:
        out["period"] = {
            k: v.isoformat()
            for k, v in (("start", facts.period_start), ("end", facts.period_end))
            if v
        }
    return out


def eligibility_response(
    facts: InsurabilityFacts, *, rid: str, coverage_id: str, requestor_nihii: str, now: datetime
) -> Json:
    """The CoverageEligibilityResponse: inforce or not on the date, with the reasons when not."""
    out: Json = {
        "resourceType": "CoverageEligibilityResponse",
        "id": rid,
        "meta": {
            "profile": ["http://hl7.org/fhir/StructureDefinition/CoverageEligibilityResponse"]
        },
        "status": "active",
        "purpose": ["validation"],
        "patient": {"identifier": identifier(p.SSIN_SYSTEM, facts.ssin)},
        "servicedDate": facts.reference_date.isoformat(),
        "created": now.isoformat(),
        "requestor": {"identifier": identifier(p.NIHDI_SYSTEM, requestor_nihii)},
        "request": {"display": "MemberData consultation"},
        "outcome": "complete" if facts.insured else "error",
        "insurer": {"identifier": identifier(p.INSURANCE_NUMBER_SYSTEM, facts.mutuality or "000")},
    }
    if facts.insured:
        out["insurance"] = [{"coverage": {"reference": f"Coverage/{coverage_id}"}, "inforce": True}]
    else:
        out["error"] = [
            {"code": concept([], reason)} for reason in facts.reasons or ("not insured",)
        ]
    return out
