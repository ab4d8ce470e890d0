"""The insurer consent's opt-in to the diagnosis: a nested permit provision of class Condition,
read only on an insurer-claim consent; anything else nested is refused naming the field and rule,
never silently ignored (the patient's choice would be lost)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ehealth_hub.consent.resource import RESOURCE_TYPES, validate
from ehealth_hub.core.errors import InvalidInput
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import consultation_consent
from ehealth_hub.fixtures.insurance import insurer_consent
from ehealth_hub.services.insurer_claims import allowed

INES, SARAH = sandbox.patient("ines"), sandbox.practitioner("sarah")
NOW = datetime.now(UTC)
AGREED = ("service", "date", "fee", "diagnosis")


def test_the_opt_in_is_read_and_only_then_does_the_diagnosis_pass() -> None:
    plain = validate(insurer_consent(INES, SARAH, start=NOW))
    opted = validate(insurer_consent(INES, SARAH, start=NOW, diagnosis=True))
    assert plain.insurer_data == frozenset()
    assert opted.insurer_data == {"diagnosis"}
    assert "diagnosis" not in allowed(AGREED, ("claim", *plain.insurer_data))
    assert "diagnosis" in allowed(AGREED, ("claim", *opted.insurer_data))
    assert "diagnosis" not in allowed(("service",), ("claim", "diagnosis"))  # not agreed


def _nested(consent: dict[str, Any], inner: dict[str, Any]) -> dict[str, Any]:
    consent["provision"]["provision"] = [inner]
    return consent


@pytest.mark.parametrize(
    ("consent", "rule"),
    [
        (
            _nested(
                consultation_consent(INES, SARAH, start=NOW),
                {"type": "permit", "class": [{"system": RESOURCE_TYPES, "code": "Condition"}]},
            ),
            "nested-provision",
        ),
        (
            _nested(
                insurer_consent(INES, SARAH, start=NOW),
                {"type": "deny", "class": [{"system": RESOURCE_TYPES, "code": "Condition"}]},
            ),
            "insurer-data-permit",
        ),
        (
            _nested(
                insurer_consent(INES, SARAH, start=NOW),
                {"type": "permit", "class": [{"system": RESOURCE_TYPES, "code": "Observation"}]},
            ),
            "insurer-data-class",
        ),
    ],
)
def test_a_nested_provision_the_hub_cannot_honour_is_refused(
    consent: dict[str, Any], rule: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate(consent)
    assert refused.value.rule == rule
    assert refused.value.field is not None
    assert refused.value.field.startswith("Consent.provision.provision")
