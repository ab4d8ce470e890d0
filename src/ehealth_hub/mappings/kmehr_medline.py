"""The HL7-BE medication-line extensions and therapeutic suspensions of a MedicationStatement,
as Smals' HL7-BE KMEHR -> FHIR converter writes them (../shared/kmehr-corpus/smals-jy-KMEHR-tests
``output/fhir-ms``; measured line by line in tests/mappings/test_fhir_ms_reference.py, the cases
where the hub differs on purpose are in docs/medication-reference.md).

Every line carries, besides the two extensions be-medicationline requires (``artifact-version``,
``adherence``):

- ``BeExtRecordedDate``: when the line was recorded (the item's ``recorddatetime``, else its
  transaction's date and time);
- ``BeExtMedicationLineRegistrationStatus``: ``recorded`` (a KMEHR line is a recorded statement;
  the converter writes ``recorded`` on every line, validated or not);
- ``BeExtRecorder``: the author of the transaction.

``artifact-version`` is the line's version: the last segment of a Vitalink URI
(``/subject/<ssin>/medication-scheme/<line>/<version>``), else "1".

A therapeutic suspension (a ``treatmentsuspension`` transaction) is not a statement of its own: it
is one ``statusReason`` of the line it suspends, carrying ``extension-MedicationSuspension`` (the
suspension period) and ``MedicationSuspensionReason`` (the ``transactionreason`` text), with the
converter's text "Temporary|Definitive suspension from <start> to <end|forever>". A definitive
suspension (lifecycle ``stopped``) makes the line ``stopped``. The converter nests the reason
extension inside the period extension, which FHIR forbids (ext-1: an extension has a value or
extensions, not both); the hub puts both extensions side by side on the ``statusReason``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ehealth_hub.fhir.builders import Json, coding, concept

MEDICATION_SD: Final = "https://www.ehealth.fgov.be/standards/fhir/medication/StructureDefinition"
RECORDED_DATE: Final = f"{MEDICATION_SD}/BeExtRecordedDate"
REGISTRATION_STATUS: Final = f"{MEDICATION_SD}/BeExtMedicationLineRegistrationStatus"
RECORDER: Final = f"{MEDICATION_SD}/BeExtRecorder"
SUSPENSION: Final = f"{MEDICATION_SD}/extension-MedicationSuspension"
SUSPENSION_REASON: Final = "http://ehealth.fgov.be/standards/fhir/MedicationSuspensionReason"
_ADHERENCE: Final = (
    "http://hl7.org/fhir/5.0/StructureDefinition/extension-MedicationStatement.adherence"
)
_ADHERENCE_STATUS: Final = "https://www.ehealth.fgov.be/standards/fhir/terminology/CodeSystem/BeMedicationLineAdherenceStatus"
_VERSION: Final = "http://hl7.org/fhir/StructureDefinition/artifact-version"


def line_extensions(version: str, recorded: str, recorder: Json) -> list[Json]:
    """The extensions of one medication line (module docstring), in the converter's order."""
    adherence = {"valueCodeableConcept": concept([coding(_ADHERENCE_STATUS, "unknown")])}
    return [
        {"url": _VERSION, "valueString": version},
        {"url": RECORDED_DATE, "valueDateTime": recorded},
        {"url": _ADHERENCE, "extension": [{"url": "code", **adherence}]},
        {"url": REGISTRATION_STATUS, "valueCode": "recorded"},
        {"url": RECORDER, "valueReference": recorder},
    ]


@dataclass(frozen=True, slots=True)
class Suspension:
    """One therapeutic suspension of a line (a ``treatmentsuspension`` transaction)."""

    start: str | None
    end: str | None
    reason: str | None
    definitive: bool

    def status_reason(self) -> Json:
        """The suspension as one ``statusReason`` of the suspended line."""
        period = {k: v for k, v in (("start", self.start), ("end", self.end)) if v}
        extensions: list[Json] = [{"url": SUSPENSION, "valuePeriod": period}]
        if self.reason:
            extensions.append({"url": SUSPENSION_REASON, "valueString": self.reason})
        kind = "Definitive" if self.definitive else "Temporary"
        text = f"{kind} suspension from {self.start} to {self.end or 'forever'}"
        return {"extension": extensions, "text": text}

    def apply(self, line: Json) -> None:
        """Record this suspension on ``line`` (a definitive one stops it)."""
        line.setdefault("statusReason", []).append(self.status_reason())
        if self.definitive:
            line["status"] = "stopped"
