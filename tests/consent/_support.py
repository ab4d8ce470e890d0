"""Building be-Consent resources and a gate over fakes for the consent tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ehealth_hub.consent.resource import ACT_REASON, ACTION_SYSTEM, PARTICIPATION, ROLE_CLASS
from ehealth_hub.fhir.profiles import NIHDI_SYSTEM, SSIN_SYSTEM


def consent_resource(
    patient: str,
    actor: str,
    *,
    start: datetime,
    minutes: int = 60,
    actions: tuple[str, ...] = ("read-dossier", "write-note", "submit-claim"),
    gp: str | None = "34567830003",
    purposes: tuple[str, ...] = ("TREAT",),
    identifier: str | None = None,
) -> dict[str, Any]:
    """A per-consultation be-Consent as the app would POST it."""
    actors = [
        {
            "role": {"coding": [{"system": ROLE_CLASS, "code": "PROV"}]},
            "reference": {"identifier": {"system": NIHDI_SYSTEM, "value": actor}},
        }
    ]
    if gp:
        actors.append(
            {
                "role": {"coding": [{"system": PARTICIPATION, "code": "IRCP"}]},
                "reference": {"identifier": {"system": NIHDI_SYSTEM, "value": gp}},
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"identifier": {"system": SSIN_SYSTEM, "value": patient}},
        "dateTime": start.isoformat(),
        "policyRule": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}
            ]
        },
        "provision": {
            "type": "permit",
            "period": {
                "start": start.isoformat(),
                "end": (start + timedelta(minutes=minutes)).isoformat(),
            },
            "actor": actors,
            "action": [{"coding": [{"system": ACTION_SYSTEM, "code": a}]} for a in actions],
            "purpose": [{"system": ACT_REASON, "code": p} for p in purposes],
        },
    }
    if identifier:
        resource["identifier"] = [{"system": "urn:ietf:rfc:3986", "value": identifier}]
    return resource
