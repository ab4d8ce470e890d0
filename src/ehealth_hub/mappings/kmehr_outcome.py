"""What a KMEHR -> FHIR translation could not carry over, as an OperationOutcome of warnings.

Nothing is dropped silently: whatever part of a KMEHR message the hub does not map (an item
content it cannot represent, a suspension whose line is not in the message...) is named here,
with the element's location and the rule, and the OperationOutcome is the Bundle's last entry
(only when there is something to say). ``ehealth-hub translate --strict`` fails on any warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from ehealth_hub.fhir.builders import Json, resource
from ehealth_hub.mappings.kmehr_read import Element, where

_OUTCOME_PROFILE: Final = "http://hl7.org/fhir/StructureDefinition/OperationOutcome"


@dataclass(slots=True)
class Issues:
    """The warnings of one translation."""

    warnings: list[Json] = field(default_factory=list)

    def warn(self, element: Element, rule: str, text: str) -> None:
        """Record that ``element`` was not (fully) mapped, and why (``rule``)."""
        self.warnings.append(
            {
                "severity": "warning",
                "code": "not-supported",
                "details": {"text": f"{rule}: {text}"},
                "expression": [where(element)],
            }
        )

    def outcome(self, rid: str) -> Json | None:
        """The OperationOutcome of the warnings, or None when there are none."""
        if not self.warnings:
            return None
        return resource("OperationOutcome", rid, _OUTCOME_PROFILE, issue=self.warnings)


def warnings_of(bundle: Json) -> list[Json]:
    """The warning issues attached to a translated Bundle."""
    return [
        issue
        for entry in bundle.get("entry", [])
        if entry["resource"]["resourceType"] == "OperationOutcome"
        for issue in entry["resource"].get("issue", [])
        if issue.get("severity") == "warning"
    ]
