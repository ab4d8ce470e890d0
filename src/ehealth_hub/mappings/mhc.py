"""MyCareNet Mental Health Care (MHC): a psychologist's session -> the message the hub sends, and
the platform's answer -> the hub's outcome. Pure.

First-line psychological care (the INAMI/RIZIV convention with the mental-health networks, from
2024-04-01) is billed per session with a fixed patient share, and the sessions are recorded on
MyCareNet's MHC platform with their own pseudo-codes. Neither those pseudo-codes nor the
system-to-system message are public in what the hub was built from (``../shared``, the INAMI pages
read), so EVERYTHING below the session facts is ASSUMED, listed in :data:`ASSUMED`, and the
adapter that sends it is acceptance-only (``mycarenet.mhc.shape_verified``; the hub refuses to
start in production with MHC enabled until it is set). The facts themselves are not assumed:
which session (the tariff row), for whom (SSIN, mutuality, BIM status from MemberData), by whom
(NIHII), when, and the fee and patient share of the tariff table.

The Claim the app sends names the session with a hub key (:data:`SESSION_SYSTEM`, e.g.
``psy-fl-individual``), the code column of the tariff table's ``mhc`` rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from ehealth_hub.core.errors import DownstreamProtocolError
from ehealth_hub.core.mycarenet_types import (
    AttestError,
    AttestOutcome,
    InsurabilityFacts,
    TeleconsultationClaim,
)
from ehealth_hub.fhir.profiles import HUB_SYSTEM_BASE

SESSION_SYSTEM: Final = f"{HUB_SYSTEM_BASE}/CodeSystem/psychology-session"
"""The hub's keys of psychologist sessions (the tariff table's ``mhc`` rows)."""
SESSION_KEY: Final = re.compile(r"psy-[a-z0-9]+(-[a-z0-9]+)*")
MHC_REFERENCE_SYSTEM: Final = f"{HUB_SYSTEM_BASE}/NamingSystem/mhc-session"
"""The MHC platform's reference of a recorded session, on the ClaimResponse."""
ASSUMED: Final = (
    "transport: JSON over HTTPS, POST {mycarenet.mhc.url}/sessions",
    "authentication: the practitioner's eHealth SAML assertion, base64, header 'Authorization: "
    "SAML <assertion>'",
    "idempotency: the hub's message id as 'sessionId'; a resend returns the first answer",
    "message: every field name of session_message() (resourceType, sessionId, pseudoCode, ...)",
    "pseudo-codes: the hub session keys (psy-...) stand in for MHC's unpublished pseudo-codes",
    "answer: {status: accepted|refused, reference, errors: [{code, message}]}",
)
"""What the MHC message and answer assume (the simulator says the same in every answer)."""


def is_session_code(system: str | None, code: str | None) -> bool:
    """Whether a Claim coding names a psychologist session (the hub's session system)."""
    return system == SESSION_SYSTEM and bool(code) and SESSION_KEY.fullmatch(str(code)) is not None


def session_message(
    claim: TeleconsultationClaim,
    facts: InsurabilityFacts,
    *,
    message_id: str,
    created: datetime,
    bim: bool,
    patient_share: Decimal | None,
) -> dict[str, Any]:
    """The (assumed) MHC message recording one session; identical on every attempt."""
    return {
        "resourceType": "MentalHealthCareSession",
        "sessionId": message_id,
        "created": created.isoformat(),
        "pseudoCode": claim.code,
        "pseudoCodeSystem": SESSION_SYSTEM,
        "servicedDate": claim.serviced.isoformat(),
        "provider": {"nihii": claim.provider_nihii},
        "patient": {
            "ssin": claim.patient.ssin,
            "mutuality": facts.mutuality,
            "membership": facts.membership,
            "increasedReimbursement": bim,
        },
        "fee": str(claim.fee),
        "patientShare": None if patient_share is None else str(patient_share),
    }


@dataclass(frozen=True, slots=True)
class MhcOutcome:
    """What the platform answered: recorded (with its reference) or refused (with errors)."""

    accepted: bool
    reference: str | None
    errors: tuple[AttestError, ...] = ()

    def as_attest(self, claim: TeleconsultationClaim, mutuality: str) -> AttestOutcome:
        """The same answer in the shape the ClaimResponse builder takes (one builder)."""
        return AttestOutcome(
            self.accepted, None, mutuality, claim.fee if self.accepted else None, self.errors
        )


def read_answer(answer: Mapping[str, Any]) -> MhcOutcome:
    """The platform's (assumed) answer; DownstreamProtocolError when it is not one."""
    status = answer.get("status")
    if status not in ("accepted", "refused"):
        raise DownstreamProtocolError(
            f"MHC answered status {status!r}, expected accepted or refused",
            system="mycarenet.mhc",
            operation="record-session",
        )
    errors = tuple(
        AttestError(f"MHC_{e.get('code', 'REFUSED')}", message=str(e.get("message", "")))
        for e in answer.get("errors") or []
        if isinstance(e, Mapping)
    )
    if status == "refused" and not errors:
        errors = (AttestError("MHC_REFUSED", message="refused without a reason"),)
    reference = answer.get("reference")
    return MhcOutcome(status == "accepted", str(reference) if reference else None, errors)


def annotate(response: dict[str, Any], outcome: MhcOutcome) -> dict[str, Any]:
    """The ClaimResponse of a session: its service coded as the hub's session key (not a
    nomenclature code) and, once recorded, the platform's reference as an identifier."""
    out = dict(response)
    items = []
    for item in out.get("addItem") or []:
        coded = dict(item)
        code = ((item.get("productOrService") or {}).get("coding") or [{}])[0].get("code")
        coded["productOrService"] = {"coding": [{"system": SESSION_SYSTEM, "code": code}]}
        items.append(coded)
    if items:
        out["addItem"] = items
    if outcome.reference:
        mhc_id = {"system": MHC_REFERENCE_SYSTEM, "value": outcome.reference}
        out["identifier"] = [*(out.get("identifier") or []), mhc_id]
    return out
