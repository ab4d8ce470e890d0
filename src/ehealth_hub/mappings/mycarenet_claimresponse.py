"""The ClaimResponse the app receives for its teleconsultation Claim, by eAttest or by eFact.

An accepted eAttest claims be-eattestation-claimresponse (HL7-BE eAttestation IG 1.0.0): the
attestation number under ``https://www.mycarenet.be/eattest`` (slice ``eattestid``, 1..1), subType
and decision as the mutuality answered them, ``requestor`` and ``addItem.provider`` as a literal
reference to the care provider (a contained be-practitionerrole: the profile requires
``requestor.reference``, and the app's resource stands alone, outside the message Bundle), and
one ``addItem`` per service the mutuality answered, with its date, quantity, unit price, fee,
decision and MyCareNet amount extensions as answered (an eFact answer states no items: the
claim's service stands in). Every other answer claims the base R4 profile,
because none of the BE profiles fits it: a refused eAttest has no attestation number (the IG
answers a refusal with an OperationOutcome, no ClaimResponse: ex17), and eFact is a flat-file
exchange with no FHIR profile; their identifiers are the eFact invoice number and batch reference
(hub NamingSystems). Every ClaimResponse also carries the hub's message id (the Task's identifier).

Errors keep the code system they were filed under (:class:`AttestError.system`). The amounts are
added by :mod:`.claim_amounts`. See docs/claimresponse-reference.md. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ehealth_hub.core.mycarenet_types import (
    AttestedItem,
    AttestOutcome,
    CareProvider,
    TeleconsultationClaim,
)
from ehealth_hub.fhir import profiles as p
from ehealth_hub.fhir.builders import Json, coding, concept, identifier
from ehealth_hub.mappings.mycarenet_fhir import (
    APP_CLAIM_SYSTEM,
    CLAIM_TYPE_SYSTEM,
    DECISION_VALUES,
    EATTEST_CLAIMRESPONSE,
    EATTEST_ID_SYSTEM,
    EFACT_BATCH_SYSTEM,
    EFACT_INVOICE_SYSTEM,
    ERRORS_SYSTEM,
    HCPARTY_OF_QUALITY,
    ITEM_PATIENTFEE_EXT,
    ITEM_REIMBURSEMENT_EXT,
    NOMENCLATURE_SYSTEM,
    TYPES_SYSTEM,
    attestation_type,
    money,
)

BASE_PROFILE = "http://hl7.org/fhir/StructureDefinition/ClaimResponse"
PROVIDER_ID = "provider"
"""Id of the contained PractitionerRole (``#provider``)."""


@dataclass(frozen=True, slots=True)
class EfactNumbers:
    """The numbers an eFact invoice went under (record 10 batch reference, record 20 invoice)."""

    batch_reference: int
    invoice_number: int


def _identifiers(outcome: AttestOutcome, rid: str, efact: EfactNumbers | None) -> list[Json]:
    out = []
    if outcome.attestation_id:
        out.append(identifier(EATTEST_ID_SYSTEM, outcome.attestation_id))
    if efact is not None:
        out.append(identifier(EFACT_INVOICE_SYSTEM, f"{efact.invoice_number:012d}"))
        out.append(identifier(EFACT_BATCH_SYSTEM, f"{efact.batch_reference:014d}"))
    out.append(identifier(p.OUTBOUND_MESSAGE_ID_SYSTEM, rid))
    return out


def _role(claim: TeleconsultationClaim, provider: CareProvider | None) -> Json:
    """The care provider as a contained be-practitionerrole (the practitioner by NIHII)."""
    practitioner: Json = {"identifier": identifier(p.NIHDI_SYSTEM, claim.provider_nihii)}
    role: Json = {
        "resourceType": "PractitionerRole",
        "id": PROVIDER_ID,
        "meta": {"profile": [p.BE_PRACTITIONER_ROLE]},
        "practitioner": practitioner,
    }
    if provider is not None:
        name = " ".join(x for x in (provider.given, provider.family) if x)
        if name:
            practitioner["display"] = name
        if provider.quality in HCPARTY_OF_QUALITY:
            hcparty = HCPARTY_OF_QUALITY[provider.quality]
            role["code"] = [concept([coding(p.CD_HCPARTY_SYSTEM, hcparty)])]
    return role


def _added_item(item: AttestedItem) -> Json:
    """One attested service, as the eAttest answer gives it (``addItem``); an answer without a
    decision code (eFact's result: accepted or not) is ``agreement``."""
    out: Json = {
        "itemSequence": [item.sequence],
        "provider": [{"reference": f"#{PROVIDER_ID}"}],
        "productOrService": concept([coding(NOMENCLATURE_SYSTEM, item.code)]),
        "servicedDate": item.serviced.isoformat() if item.serviced else None,
        "quantity": {"value": float(item.quantity)},
        "unitPrice": money(item.unit_price) if item.unit_price is not None else None,
        "net": money(item.net) if item.net is not None else None,
        "adjudication": [
            {"category": concept([coding(DECISION_VALUES, item.decision or "agreement")])}
        ],
    }
    extension = [
        {"url": url, "valueMoney": money(value)}
        for url, value in (
            (ITEM_PATIENTFEE_EXT, item.patient_fee),
            (ITEM_REIMBURSEMENT_EXT, item.reimbursement),
        )
        if value is not None
    ]
    if extension:
        out["extension"] = extension
    return {k: v for k, v in out.items() if v is not None}


def _added_items(claim: TeleconsultationClaim, outcome: AttestOutcome) -> list[Json]:
    """The services the mutuality answered, else (eFact: no items in its result) the claim's."""
    items = outcome.items or (
        AttestedItem(claim.code, claim.serviced, Decimal(1), claim.fee, claim.fee),
    )
    return [_added_item(item) for item in items]


def claim_response(
    claim: TeleconsultationClaim,
    outcome: AttestOutcome,
    *,
    rid: str,
    now: datetime,
    provider: CareProvider | None = None,
    efact: EfactNumbers | None = None,
) -> Json:
    """The ClaimResponse for ``claim`` answered ``outcome`` (``efact``: sent as an eFact
    invoice under those numbers); see the module docstring."""
    attested = outcome.accepted and outcome.attestation_id is not None and efact is None
    kind = outcome.attestation_type or attestation_type(provider.quality if provider else "doctor")
    base: Json = {
        "resourceType": "ClaimResponse",
        "id": rid,
        "meta": {"profile": [EATTEST_CLAIMRESPONSE if attested else BASE_PROFILE]},
        "contained": [_role(claim, provider)],
        "identifier": _identifiers(outcome, rid, efact),
        "status": "active",
        "type": concept([coding(CLAIM_TYPE_SYSTEM, outcome.claim_type or "professional")]),
        "subType": concept([coding(TYPES_SYSTEM, kind)]),
        "use": "claim",
        "patient": {"identifier": identifier(p.SSIN_SYSTEM, claim.patient.ssin)},
        "created": now.isoformat(),
        "insurer": {"identifier": identifier(p.INSURANCE_NUMBER_SYSTEM, outcome.insurer or "000")},
        "requestor": {
            "reference": f"#{PROVIDER_ID}",
            "identifier": identifier(p.NIHDI_SYSTEM, claim.provider_nihii),
        },
        "request": {"identifier": identifier(APP_CLAIM_SYSTEM, claim.claim_id)},
        "outcome": "complete" if outcome.accepted else "error",
    }
    if outcome.accepted:
        base["addItem"] = _added_items(claim, outcome)
    if outcome.errors:
        base["error"] = [
            # R4 ClaimResponse.error has no expression: the text keeps where, when nothing else
            {
                "code": concept(
                    [coding(e.system or ERRORS_SYSTEM, e.code)], e.message or e.expression or None
                )
            }
            for e in outcome.errors
        ]
    return base
