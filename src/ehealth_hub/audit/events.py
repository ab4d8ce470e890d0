"""Audit records and their FHIR rendering (FHIR R4 4.0.1 AuditEvent, IHE BALP vocabulary).

One :class:`AuditRecord` per consent decision and per access (dossier read, note write, claim,
consent change). Rendered as an AuditEvent: ``agent`` = the care provider (NIHII, requestor) and
the client application; ``entity`` = the patient (SSIN) and the decision the access rests on;
``purposeOfEvent`` = TREAT, ETREAT or HPAYMT; a break-the-glass access carries the security label
``BTG`` (v3-ActCode) and an entity detail asking for review.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from ehealth_hub.fhir.profiles import HUB_SYSTEM_BASE, NIHDI_SYSTEM, SSIN_SYSTEM

Outcome = Literal["permit", "deny", "not-applicable", "success", "failure"]

AUDIT_ACTION_SYSTEM: Final = f"{HUB_SYSTEM_BASE}/CodeSystem/audit-action"
CLIENT_SYSTEM: Final = f"{HUB_SYSTEM_BASE}/NamingSystem/client-id"
DECISION_SYSTEM: Final = f"{HUB_SYSTEM_BASE}/NamingSystem/consent-decision"
ACT_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_REASON: Final = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
DCM: Final = "http://dicom.nema.org/resources/ontology/DCM"
AUDIT_TYPE: Final = "http://terminology.hl7.org/CodeSystem/audit-event-type"
ENTITY_TYPE: Final = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE: Final = "http://terminology.hl7.org/CodeSystem/object-role"

# FHIR AuditEvent.action: C create, R read, U update, D delete, E execute.
_CRUDE: Final = {
    "decision": "E",
    "read-dossier": "R",
    "write-note": "C",
    "submit-claim": "C",
    "insurer-claim": "C",
    "consent-create": "C",
    "consent-revoke": "U",
    "consent-read": "R",
    "audit-read": "R",
    "task-read": "R",
    "note-read": "R",
    "claim-read": "R",
}
# AuditEvent.purposeOfEvent: v3-ActReason (HPAYMT: healthcare payment, the insurer's claim).
_PURPOSE_CODES: Final = {"treatment": "TREAT", "emergency": "ETREAT", "insurance-claim": "HPAYMT"}
# AuditEvent.outcome: 0 success, 4 minor failure (refused), 8 serious failure.
_OUTCOME: Final = {
    "permit": "0",
    "success": "0",
    "deny": "4",
    "not-applicable": "4",
    "failure": "8",
}


def outcomes_of(code: str) -> tuple[str, ...]:
    """The recorded outcomes shown as ``AuditEvent.outcome`` ``code`` (``0``, ``4``, ``8``)."""
    return tuple(outcome for outcome, fhir in _OUTCOME.items() if fhir == code)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """What happened, to whom, by whom, for which app, and on which decision it rests."""

    id: str
    recorded: datetime
    action: str
    """decision, read-dossier, write-note, submit-claim, consent-create, consent-revoke, ..."""
    outcome: Outcome
    patient_ssin: str | None = None
    actor_nihii: str | None = None
    actor_quality: str | None = None
    client_id: str | None = None
    decision_id: str | None = None
    """The decision an access rests on (for a decision record: its own id)."""
    purpose: Literal["treatment", "emergency", "insurance-claim"] = "treatment"
    reasons: tuple[str, ...] = ()
    break_the_glass: bool = False
    detail: dict[str, str] = field(default_factory=dict)
    """Further string facts (requested action, data classes, consent reference, ...)."""


def _identifier(system: str, value: str) -> dict[str, str]:
    return {"system": system, "value": value}


def _agents(record: AuditRecord) -> list[dict[str, Any]]:
    agents: list[dict[str, Any]] = []
    if record.actor_nihii:
        agent: dict[str, Any] = {
            "who": {"identifier": _identifier(NIHDI_SYSTEM, record.actor_nihii)},
            "requestor": True,
        }
        if record.actor_quality:
            agent["role"] = [{"text": record.actor_quality}]
        agents.append(agent)
    if record.client_id:
        agents.append(
            {
                "type": {"coding": [{"system": DCM, "code": "110150", "display": "Application"}]},
                "who": {"identifier": _identifier(CLIENT_SYSTEM, record.client_id)},
                "requestor": not record.actor_nihii,
            }
        )
    if not agents:
        agents.append({"who": {"display": "ehealth-hub"}, "requestor": True})
    return agents


def _entities(record: AuditRecord) -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = []
    if record.patient_ssin:
        entities.append(
            {
                "what": {"identifier": _identifier(SSIN_SYSTEM, record.patient_ssin)},
                "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
                "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
            }
        )
    details = [{"type": k, "valueString": v} for k, v in sorted(record.detail.items())]
    details += [{"type": "reason", "valueString": reason} for reason in record.reasons]
    if record.break_the_glass:
        details.append({"type": "review", "valueString": "required"})
    if record.decision_id or details:
        decision: dict[str, Any] = {"detail": details} if details else {}
        if record.decision_id:
            decision["what"] = {"identifier": _identifier(DECISION_SYSTEM, record.decision_id)}
        decision["description"] = "consent decision"
        entities.append(decision)
    return entities


def to_fhir(record: AuditRecord) -> dict[str, Any]:
    """The FHIR R4 AuditEvent for ``record`` (JSON, no floats: hashable canonically)."""
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": record.id,
        "type": {"system": AUDIT_TYPE, "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": AUDIT_ACTION_SYSTEM, "code": record.action}],
        "action": _CRUDE.get(record.action, "E"),
        "recorded": record.recorded.isoformat(),
        "outcome": _OUTCOME[record.outcome],
        "outcomeDesc": record.outcome,
        "purposeOfEvent": [
            {
                "coding": [
                    {
                        "system": ACT_REASON,
                        "code": _PURPOSE_CODES[record.purpose],
                    }
                ]
            }
        ],
        "agent": _agents(record),
        "source": {"observer": {"display": "ehealth-hub"}},
        "entity": _entities(record),
    }
    if record.break_the_glass:
        resource["meta"] = {"security": [{"system": ACT_CODE, "code": "BTG"}]}
    return resource
