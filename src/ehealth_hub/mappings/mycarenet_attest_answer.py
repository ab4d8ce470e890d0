"""eAttest v3 answers: the be-eattestation-response message read as an outcome, and the
ClaimResponse the app receives (HL7-BE eAttestation IG 1.0.0; checked against IG examples ex12
(accepted, attestation id) and ex17 (reject with a be-cs-eattestation-errors code)).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from ehealth_hub.core.errors import MappingError
from ehealth_hub.core.mycarenet_types import (
    AttestError,
    AttestOutcome,
    TeleconsultationClaim,
)
from ehealth_hub.fhir import profiles as p
from ehealth_hub.fhir.builders import Json, coding, concept, identifier
from ehealth_hub.mappings.mycarenet_fhir import (
    DECISION_VALUES,
    EATTEST_ID_SYSTEM,
    ERRORS_SYSTEM,
    NOMENCLATURE_SYSTEM,
    TYPES_SYSTEM,
    find_identifier,
    money,
)


def _resources(bundle: Json) -> dict[str, list[Json]]:
    out: dict[str, list[Json]] = {}
    for entry in bundle.get("entry", []):
        res = entry.get("resource", {})
        out.setdefault(res.get("resourceType", ""), []).append(res)
    return out


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
    insurer = (
        next(
            (find_identifier(o, p.INSURANCE_NUMBER_SYSTEM) for o in found.get("Organization", [])),
            None,
        )
        or ""
    )
    errors = tuple(
        AttestError(
            next(
                (c.get("code", "") for c in issue.get("details", {}).get("coding", [])),
                issue.get("code", ""),
            ),
            "; ".join(issue.get("expression", [])),
            issue.get("diagnostics", ""),
        )
        for outcome in found.get("OperationOutcome", [])
        for issue in outcome.get("issue", [])
    )
    responses = found.get("ClaimResponse", [])
    if event == "reject" or not responses:
        return AttestOutcome(False, None, insurer, None, errors or (AttestError("REJECTED"),))
    response = responses[0]
    attestation = find_identifier(
        {"identifier": (response.get("identifier") or [{}])[0]}, EATTEST_ID_SYSTEM
    )
    nets = [Decimal(str(i.get("net", {}).get("value", 0))) for i in response.get("addItem", [])]
    accepted = response.get("outcome") in ("complete", "partial") and attestation is not None
    return AttestOutcome(
        accepted, attestation, insurer, sum(nets, Decimal("0")) if nets else None, errors
    )


def claim_response(
    claim: TeleconsultationClaim, outcome: AttestOutcome, *, rid: str, now: datetime
) -> Json:
    """The ClaimResponse the app receives (base R4 profile: the app gets identifiers, not the
    message's contained references the be-eattestation-claimresponse profile requires)."""
    issues = [
        {"code": concept([coding(ERRORS_SYSTEM, e.code)], e.message or None)}
        for e in outcome.errors
    ]
    base: Json = {
        "resourceType": "ClaimResponse",
        "id": rid,
        "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/ClaimResponse"]},
        "status": "active",
        "type": concept(
            [coding("http://terminology.hl7.org/CodeSystem/claim-type", "professional")]
        ),
        "subType": concept([coding(TYPES_SYSTEM, "generalpractice")]),
        "use": "claim",
        "patient": {"identifier": identifier(p.SSIN_SYSTEM, claim.patient.ssin)},
        "created": now.isoformat(),
        "insurer": {"identifier": identifier(p.INSURANCE_NUMBER_SYSTEM, outcome.insurer or "000")},
        "requestor": {"identifier": identifier(p.NIHDI_SYSTEM, claim.provider_nihii)},
        "request": {
            "identifier": identifier(f"{p.HUB_SYSTEM_BASE}/NamingSystem/app-claim", claim.claim_id)
        },
        "outcome": "complete" if outcome.accepted else "error",
    }
    if outcome.attestation_id:
        base["identifier"] = [identifier(EATTEST_ID_SYSTEM, outcome.attestation_id)]
    if outcome.accepted:
        base["addItem"] = [
            {
                "itemSequence": [1],
                "productOrService": concept([coding(NOMENCLATURE_SYSTEM, claim.code)]),
                "servicedDate": claim.serviced.isoformat(),
                "quantity": {"value": 1},
                "unitPrice": money(claim.fee),
                "net": money(outcome.reimbursed if outcome.reimbursed is not None else claim.fee),
                "adjudication": [{"category": concept([coding(DECISION_VALUES, "agreement")])}],
            }
        ]
    if issues:
        base["error"] = issues
    return base
