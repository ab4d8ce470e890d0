"""Request examples of the OpenAPI document: the sandbox client's own requests.

Built from the sandbox fixtures (:mod:`ehealth_hub.fixtures.consultation`, the same functions the
demo and the tests use) for the moment the document is built, so that each example works
against the sandbox hub as it stands: sent by the consultation app acting for Dr Sarah, the
consent is recorded (201), the note accepted (202), the claim billed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ehealth_hub.fhir.profiles import SSIN_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import (
    consultation_consent,
    consultation_note,
    teleconsultation_claim,
)


def _example(summary: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"summary": summary, "value": value}


def consent_examples(now: datetime) -> dict[str, dict[str, Any]]:
    """Dr Sarah's consultation consent for An, from now on for an hour."""
    an, sarah = sandbox.patient("an"), sandbox.practitioner("sarah")
    consent = consultation_consent(an, sarah, start=now)
    return {"sandbox": _example("consultation consent (sandbox: An, Dr Sarah)", consent)}


def note_examples(now: datetime) -> dict[str, dict[str, Any]]:
    """Dr Sarah's note to An's GP."""
    an, sarah = sandbox.patient("an"), sandbox.practitioner("sarah")
    text = "Video consultation: fever for 2 days, no alarm signs. Paracetamol."
    note = consultation_note(an, sarah, text, now=now)
    return {"sandbox": _example("consultation note to the GP (sandbox: An)", note)}


def claim_examples(now: datetime) -> dict[str, dict[str, Any]]:
    """Dr Sarah's teleconsultation claim for An, plain and as Parameters."""
    an, sarah = sandbox.patient("an"), sandbox.practitioner("sarah")
    claim = teleconsultation_claim(
        f"example-{now:%Y%m%d%H%M}", an, sarah, serviced=now.date().isoformat()
    )
    parameters = {
        "resourceType": "Parameters",
        "parameter": [{"name": "resource", "resource": claim}],
    }
    return {
        "claim": _example("teleconsultation 101673 (sandbox: An, Dr Sarah)", claim),
        "parameters": _example("the same Claim as Parameters.resource", parameters),
    }


def eligibility_examples(now: datetime) -> dict[str, dict[str, Any]]:
    """An's insurability today."""
    request = {
        "resourceType": "CoverageEligibilityRequest",
        "status": "active",
        "purpose": ["validation"],
        "patient": {"identifier": {"system": SSIN_SYSTEM, "value": sandbox.patient("an").ssin}},
        "servicedDate": now.date().isoformat(),
    }
    return {"sandbox": _example("insurability of An today (sandbox)", request)}


def summary_examples(now: datetime) -> dict[str, dict[str, Any]]:
    """An's summary asked with Parameters."""
    ssin = sandbox.patient("an").ssin
    parameters = {
        "resourceType": "Parameters",
        "parameter": [{"name": "identifier", "valueString": f"{SSIN_SYSTEM}|{ssin}"}],
    }
    return {"sandbox": _example("An's records (sandbox)", parameters)}
