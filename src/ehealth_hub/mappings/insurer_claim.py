"""The minimal FHIR R4 Claim a private insurer receives once the mutuality has answered (pure).

Coordination of benefits in FHIR R4 terms: the insurer's coverage is the focal ``insurance``; the
mutuality's answer is a contained ClaimResponse referenced from the second (non-focal)
``insurance.claimResponse``, holding what the mutuality reimbursed (``benefit``), what remains for
the patient (``copay``) and the eFact/eAttest reference (``identifier``).

Data minimisation: the patient is named by her member number at the insurer, never by SSIN or name;
no note, supporting information or treatment relationship is ever written; the optional elements
(:data:`ELEMENTS`) are written only when ``allowed`` names them: the insurer's agreed ``data``, and
for ``diagnosis`` (the app Claim's ``diagnosis`` codes) the patient's opt-in too (the delivery
intersects both: ``services.insurer_claims``). The elements FHIR R4 requires (status, type, use,
patient, created, provider, priority, insurance) are always there, ``provider`` as the consultation
app unless ``provider`` is agreed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Final

from ehealth_hub.fhir.builders import Json
from ehealth_hub.fhir.profiles import CBE_SYSTEM, HUB_SYSTEM_BASE, INSURANCE_NUMBER_SYSTEM
from ehealth_hub.fhir.profiles import NIHDI_SYSTEM as NIHDI

MEMBER_SYSTEM: Final = f"{HUB_SYSTEM_BASE}/NamingSystem/insurer-member"
"""The member number at a private insurer (the Identifier's ``assigner`` names the insurer)."""
CLAIM_ID_SYSTEM: Final = f"{HUB_SYSTEM_BASE}/NamingSystem/insurer-claim"
"""The hub's id of the claim it sent an insurer (de-duplication key at the insurer)."""
REFERENCE_SYSTEM: Final = f"{HUB_SYSTEM_BASE}/NamingSystem/mycarenet-reference"
"""The eFact batch reference or eAttest id under which the mutuality answered."""
NOMENCLATURE: Final = (
    "https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/be-ns-nihdi-nomenclature"
)
ADJUDICATION: Final = "http://terminology.hl7.org/CodeSystem/adjudication"
_CLAIM_TYPE: Final = "http://terminology.hl7.org/CodeSystem/claim-type"
ELEMENTS: Final = (
    "service",
    "date",
    "fee",
    "mutuality-reimbursement",
    "patient-cost",
    "reference",
    "provider",
    "diagnosis",
)


def _money(value: str) -> Json:
    return {"value": float(value), "currency": "EUR"}


def _amount(code: str, value: str) -> Json:
    return {
        "category": {"coding": [{"system": ADJUDICATION, "code": code}]},
        "amount": _money(value),
    }


def _mutuality_answer(facts: Mapping[str, Any], allowed: Collection[str], created: str) -> Json:
    totals = []
    if "mutuality-reimbursement" in allowed:
        totals.append(_amount("benefit", facts["reimbursed"]))
    if "patient-cost" in allowed:
        totals.append(_amount("copay", facts["patient_cost"]))
    answer: Json = {
        "resourceType": "ClaimResponse",
        "id": "mutuality",
        "status": "active",
        "type": {"coding": [{"system": _CLAIM_TYPE, "code": "professional"}]},
        "use": "claim",
        "patient": _patient(facts),
        "created": created,
        "insurer": {"identifier": {"system": INSURANCE_NUMBER_SYSTEM, "value": facts["mutuality"]}},
        "outcome": "complete",
    }
    if "reference" in allowed:
        answer["identifier"] = [{"system": REFERENCE_SYSTEM, "value": facts["reference"]}]
    if totals:
        answer["total"] = totals
    return answer


def _patient(facts: Mapping[str, Any]) -> Json:
    return {"identifier": _member(facts)}


def _member(facts: Mapping[str, Any]) -> Json:
    return {
        "system": MEMBER_SYSTEM,
        "value": facts["member"],
        "assigner": {"identifier": {"system": CBE_SYSTEM, "value": facts["insurer_cbe"]}},
    }


def _item(facts: Mapping[str, Any], allowed: Collection[str]) -> Json:
    item: Json = {"sequence": 1}
    item["productOrService"] = (
        {"coding": [{"system": NOMENCLATURE, "code": facts["code"]}]}
        if "service" in allowed
        else {"text": "consultation"}  # FHIR R4 requires it; the code is not agreed
    )
    if "date" in allowed:
        item["servicedDate"] = facts["serviced"]
    if "fee" in allowed:
        item["net"] = _money(facts["fee"])
    return item


def _provider(facts: Mapping[str, Any], allowed: Collection[str]) -> Json:
    if "provider" in allowed:
        return {"identifier": {"system": NIHDI, "value": facts["provider_nihii"]}}
    return {"display": "care provider of the consultation app (not shared)"}


def insurer_claim(
    facts: Mapping[str, Any], *, allowed: Collection[str], claim_id: str, created: str
) -> Json:
    """The Claim for the insurer from ``facts`` (the delivery payload's ``facts``): member,
    insurer_cbe, plan, mutuality, code, serviced, fee, reimbursed, patient_cost, reference,
    provider_nihii, diagnosis (a list of codings lists); only the ``allowed`` optional elements
    are written."""
    claim: Json = {
        "resourceType": "Claim",
        "identifier": [{"system": CLAIM_ID_SYSTEM, "value": claim_id}],
        "status": "active",
        "type": {"coding": [{"system": _CLAIM_TYPE, "code": "professional"}]},
        "use": "claim",
        "patient": _patient(facts),
        "created": created,
        "insurer": {"identifier": {"system": CBE_SYSTEM, "value": facts["insurer_cbe"]}},
        "provider": _provider(facts, allowed),
        "priority": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/processpriority",
                    "code": "normal",
                }
            ]
        },
        "insurance": [
            {
                "sequence": 1,
                "focal": True,
                "coverage": {"identifier": _member(facts)},
                "businessArrangement": facts["plan"],
            },
            {
                "sequence": 2,
                "focal": False,
                "coverage": {
                    "identifier": {"system": INSURANCE_NUMBER_SYSTEM, "value": facts["mutuality"]}
                },
                "claimResponse": {"reference": "#mutuality"},
            },
        ],
        "item": [_item(facts, allowed)],
        "contained": [_mutuality_answer(facts, allowed, created)],
    }
    if "fee" in allowed:
        claim["total"] = _money(facts["fee"])
    if "diagnosis" in allowed and facts.get("diagnosis"):
        claim["diagnosis"] = [
            {"sequence": n, "diagnosisCodeableConcept": {"coding": list(codings)}}
            for n, codings in enumerate(facts["diagnosis"], start=1)
        ]
    return claim
