"""A small consent gate for service tests: decides from the sandbox facts and mints Permits.

It is an implementation of ``services.gate.PermitGate`` (the real one is consent/gate.py):
national consent + an active therapeutic link + no exclusion -> permit; otherwise ConsentDenied
with the reasons. It remembers every request so tests can assert what was asked.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ehealth_hub.consent.model import AccessRequest
from ehealth_hub.core.errors import ConsentDenied
from ehealth_hub.core.permit import Permit, mint
from ehealth_hub.fixtures import sandbox


class SandboxFactsGate:
    """Decides like the hub's policy would on the sandbox population."""

    def __init__(self, *, data_classes: tuple[str, ...] = ()) -> None:
        self.requests: list[AccessRequest] = []
        self.data_classes = data_classes
        self.revocations: list[str] = []

    def revoked(self, patient_ssin: str) -> None:
        """A consent of the patient changed through the hub (the gate would drop its cache)."""
        self.revocations.append(patient_ssin)

    async def permit(self, request: AccessRequest) -> Permit:
        self.requests.append(request)
        patient = sandbox.patient(request.patient_ssin)
        actor = sandbox.practitioner(request.actor.nihii).key
        reasons = []
        if not patient.national_consent:
            reasons.append("national-consent: the patient has not consented to sharing")
        if actor not in patient.links:
            reasons.append("therapeutic-link: no active therapeutic link")
        if actor in patient.exclusions:
            reasons.append("exclusion: the patient excluded this practitioner")
        if reasons:
            raise ConsentDenied("access denied", reasons=reasons, system="consent")
        return mint(
            patient_ssin=request.patient_ssin,
            actor_nihii=request.actor.nihii,
            action=request.action,
            decision_id=f"decision-{len(self.requests)}",
            valid_until=datetime.now(UTC) + timedelta(minutes=5),
            data_classes=self.data_classes,
        )
