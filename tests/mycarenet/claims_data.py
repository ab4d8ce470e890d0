"""Teleconsultation Claims as the video app sends them (sandbox patients and practitioners)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ehealth_hub.core.mycarenet_types import InsurabilityFacts
from ehealth_hub.fhir.profiles import NIHDI_SYSTEM, SSIN_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import last_physical_contact
from ehealth_hub.mappings.mycarenet_attest import IDENTIFICATION_EXT, ROUTE_EXT


def recently() -> str:
    """A serviced date inside the sandbox's insurance period whatever the year: two days ago.

    For tests whose simulators follow the real clock (a container built from settings); tests on
    the hand-moved clock (``ManualClock``, 2026-11-24) keep the default serviced date."""
    return (date.today() - timedelta(days=2)).isoformat()


def app_claim(
    claim_id: str,
    patient: str = "an",
    practitioner: str = "sarah",
    *,
    code: str = "101673",
    serviced: str = "2026-11-23",
    fee: float = 25.40,
    route: str | None = None,
    identification: str = "itsme",
    relationships: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The app's Claim; ``relationships`` (Claim.supportingInfo) defaults to a physical contact
    the year before, so that the treatment-relationship rule holds."""
    person, doctor = sandbox.patient(patient), sandbox.practitioner(practitioner)
    extension = [{"url": IDENTIFICATION_EXT, "valueCode": identification}]
    if route:
        extension.append({"url": ROUTE_EXT, "valueCode": route})
    return {
        "resourceType": "Claim",
        "id": claim_id,
        "extension": extension,
        "status": "active",
        "patient": {
            "identifier": {"system": SSIN_SYSTEM, "value": person.ssin},
            "display": f"{person.given} {person.family}",
        },
        "provider": {
            "identifier": {"system": NIHDI_SYSTEM, "value": doctor.nihii},
            "display": f"{doctor.given} {doctor.family}",
        },
        "item": [
            {
                "sequence": 1,
                "productOrService": {
                    "coding": [
                        {
                            "system": "https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/be-ns-nihdi-nomenclature",
                            "code": code,
                        }
                    ]
                },
                "servicedDate": serviced,
                "net": {"value": fee, "currency": "EUR"},
            }
        ],
        "supportingInfo": [last_physical_contact(serviced)]
        if relationships is None
        else relationships,
    }


def luc_insurability(on: date) -> InsurabilityFacts:
    """What MemberData answers for Luc on ``on``: Solidaris 306, third-party payment, medical
    house, insured from 2025-01-01 to 2026-12-31 (the sandbox population)."""
    return InsurabilityFacts(
        "90070104521",
        on,
        True,
        "306",
        "30600098765",
        "110",
        "110",
        True,
        True,
        date(2025, 1, 1),
        date(2026, 12, 31),
    )
