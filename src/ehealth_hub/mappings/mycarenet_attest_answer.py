"""eAttest v3 answers: the be-eattestation-response message read as an outcome (HL7-BE
eAttestation IG 1.0.0; checked against IG examples ex12 (accepted, attestation id) and ex17
(reject with a be-cs-eattestation-errors code)).

From the answer's ClaimResponse: the attestation number (``identifier``, system
``https://www.mycarenet.be/eattest``), the attestation type (``subType``), the decision
(``addItem.adjudication.category``, decision-values), the fee it states (``addItem.net``, "fee for
item" in the IG) and, when the mutuality gives them, the MyCareNet item extensions
be-ext-mycarenet-item-reimbursement and -patientfee. Each error keeps the code system the answer
filed it under. The ClaimResponse the app receives is :mod:`.mycarenet_claimresponse`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from ehealth_hub.core.errors import MappingError
from ehealth_hub.core.mycarenet_types import AttestedItem, AttestError, AttestOutcome
from ehealth_hub.fhir import profiles as p
from ehealth_hub.fhir.builders import Json
from ehealth_hub.mappings.mycarenet_fhir import (
    CLAIM_TYPE_SYSTEM,
    DECISION_VALUES,
    EATTEST_ID_SYSTEM,
    ITEM_PATIENTFEE_EXT,
    ITEM_REIMBURSEMENT_EXT,
    MYCARENET_FAULT_SYSTEM,
    NOMENCLATURE_SYSTEM,
    TYPES_SYSTEM,
    find_identifier,
)


def _resources(bundle: Json) -> dict[str, list[Json]]:
    out: dict[str, list[Json]] = {}
    for entry in bundle.get("entry", []):
        res = entry.get("resource", {})
        out.setdefault(res.get("resourceType", ""), []).append(res)
    return out


def _errors(outcomes: Iterable[Json]) -> tuple[AttestError, ...]:
    out = []
    for outcome in outcomes:
        for issue in outcome.get("issue", []):
            codings = issue.get("details", {}).get("coding", [])
            first = codings[0] if codings else {}
            out.append(
                AttestError(
                    first.get("code") or issue.get("code", ""),
                    "; ".join(issue.get("expression", [])),
                    issue.get("diagnostics", ""),
                    # an issue without a details code keeps its IssueType, which is no eAttest code
                    first.get("system", "") if first else MYCARENET_FAULT_SYSTEM,
                )
            )
    return tuple(out)


def _sum(values: list[Decimal | None]) -> Decimal | None:
    known = [v for v in values if v is not None]
    return sum(known, Decimal("0")) if known else None


def _money(node: Json | None) -> Decimal | None:
    value = (node or {}).get("value")
    return None if value is None else Decimal(str(value))


def _ext_money(item: Json, url: str) -> Decimal | None:
    found = [_money(e.get("valueMoney")) for e in item.get("extension", []) if e.get("url") == url]
    return _sum(found)


def _code(concept: Json | None, system: str) -> str:
    for c in (concept or {}).get("coding", []):
        if c.get("system") == system and c.get("code"):
            return str(c["code"])
    return ""


def _item(item: Json) -> AttestedItem:
    serviced = item.get("servicedDate")
    decisions = [_code(a.get("category"), DECISION_VALUES) for a in item.get("adjudication", [])]
    return AttestedItem(
        _code(item.get("productOrService"), NOMENCLATURE_SYSTEM),
        date.fromisoformat(str(serviced)) if serviced else None,
        _money(item.get("quantity")) or Decimal(1),
        _money(item.get("unitPrice")),
        _money(item.get("net")),
        next((d for d in decisions if d), ""),
        _ext_money(item, ITEM_PATIENTFEE_EXT),
        _ext_money(item, ITEM_REIMBURSEMENT_EXT),
        int(next(iter(item.get("itemSequence") or [1]))),
    )


def read_response(bundle: Json) -> AttestOutcome:
    """The outcome of a be-eattestation-response message; MappingError when it is not one."""
    found = _resources(bundle)
    headers = found.get("MessageHeader", [])
    if bundle.get("type") != "message" or len(headers) != 1:
        raise MappingError(
            "eAttest answer must be a message Bundle with one MessageHeader",
            field="Bundle",
            rule="eattest.response-shape",
        )
    event = headers[0].get("eventCoding", {}).get("code", "")
    # the mutuality is the Organization with an insurance number (a hospital may come first)
    numbers = (find_identifier(o, p.INSURANCE_NUMBER_SYSTEM) for o in found.get("Organization", []))
    insurer = next((n for n in numbers if n), None)
    errors = _errors(found.get("OperationOutcome", []))
    responses = found.get("ClaimResponse", [])
    if event == "reject" or not responses:
        rejected = errors or (AttestError("REJECTED", system=MYCARENET_FAULT_SYSTEM),)
        return AttestOutcome(False, None, insurer or "", None, rejected)
    response = responses[0]
    attestation = find_identifier(
        {"identifier": (response.get("identifier") or [{}])[0]}, EATTEST_ID_SYSTEM
    )
    items = tuple(_item(i) for i in response.get("addItem", []))
    return AttestOutcome(
        response.get("outcome") in ("complete", "partial") and attestation is not None,
        attestation,
        insurer or "",
        _sum([i.reimbursement for i in items]),
        errors,
        charged=_sum([i.net for i in items]),
        patient_fee=_sum([i.patient_fee for i in items]),
        attestation_type=_code(response.get("subType"), TYPES_SYSTEM),
        claim_type=_code(response.get("type"), CLAIM_TYPE_SYSTEM),
        items=items,
    )
