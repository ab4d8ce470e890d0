"""SMART on FHIR v2 scopes (SMART App Launch 2.0.0, section "Scopes for requesting FHIR resources").

A scope is ``<context>/<Resource>.<permissions>``: context ``user`` (on behalf of the acting
practitioner named in the token) or ``system`` (the client itself); permissions are a subset of
``cruds`` (create, read, update, delete, search) in that order. A granted scope satisfies a
required one when context and resource match (``*`` matches any resource) and the required
permissions are a subset of the granted ones: ``user/Consent.cruds`` satisfies ``user/Consent.c``.

The scopes the hub knows (and so the only ones a client registration may list) are in
:data:`KNOWN_SCOPES`, each with what it lets a client do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from ehealth_hub.core.errors import InvalidInput

_SCOPE = re.compile(r"^(user|system)/([A-Z][A-Za-z]+|\*)\.(c?r?u?d?s?)$")

KNOWN_SCOPES: Final[dict[str, str]] = {
    "user/Consent.cruds": "record, read, search and revoke patients' consent (acting practitioner)",
    "user/Consent.rs": "read and search patients' consent and $explain (acting practitioner)",
    "user/Patient.r": "read a patient's records: Patient/$summary (acting practitioner)",
    "user/DocumentReference.c": "send a consultation note to the patient's GP (acting)",
    "user/DocumentReference.crs": (
        "send consultation notes, read and search those the acting practitioner sent"
    ),
    "user/Binary.r": "read the KMEHR message the hub sent for a note the client sent (acting)",
    "user/Claim.c": "submit a teleconsultation claim: Claim/$submit (acting practitioner)",
    "user/Claim.crs": "submit teleconsultation claims, read and search the acting practitioner's",
    "user/ClaimResponse.rs": "read and search the answers to the acting practitioner's claims",
    "user/CoverageEligibilityRequest.c": (
        "ask a patient's insurability: CoverageEligibilityRequest/$submit (acting practitioner)"
    ),
    "user/Task.r": "follow the Tasks of the acting practitioner's asynchronous requests",
    "system/Task.r": "follow Tasks (GP software, mutualities)",
    "system/Task.ru": "follow Tasks and replay failed deliveries: Task/$replay (operators)",
    "system/DocumentReference.rs": "read and search the notes sent to the client's GPs",
    "system/Claim.rs": "read and search the claims addressed to the client's mutuality",
    "system/ClaimResponse.rs": "read and search the answers to the claims addressed to it",
    "system/Consent.rs": "read and search consents (auditors)",
    "system/AuditEvent.rs": "read and search the audit trail (auditors)",
}
"""Every scope a client may be registered for, with its meaning (documented in the README)."""

# Required scopes of the hub's routes, named so that routers and tests spell them once.
CONSENT_WRITE: Final = "user/Consent.c"
CONSENT_REVOKE: Final = "user/Consent.d"
CONSENT_READ: Final = "user/Consent.s"
CONSENT_READ_SYSTEM: Final = "system/Consent.s"
SUMMARY_READ: Final = "user/Patient.r"
NOTE_WRITE: Final = "user/DocumentReference.c"
CLAIM_SUBMIT: Final = "user/Claim.c"
ELIGIBILITY_CHECK: Final = "user/CoverageEligibilityRequest.c"
NOTE_READ: Final = "user/DocumentReference.r"
NOTE_SEARCH: Final = "user/DocumentReference.s"
NOTE_READ_SYSTEM: Final = "system/DocumentReference.r"
NOTE_SEARCH_SYSTEM: Final = "system/DocumentReference.s"
SENT_KMEHR_READ: Final = "user/Binary.r"
CLAIM_READ: Final = "user/Claim.r"
CLAIM_SEARCH: Final = "user/Claim.s"
CLAIM_READ_SYSTEM: Final = "system/Claim.r"
CLAIM_SEARCH_SYSTEM: Final = "system/Claim.s"
CLAIM_RESPONSE_READ: Final = "user/ClaimResponse.r"
CLAIM_RESPONSE_SEARCH: Final = "user/ClaimResponse.s"
CLAIM_RESPONSE_READ_SYSTEM: Final = "system/ClaimResponse.r"
CLAIM_RESPONSE_SEARCH_SYSTEM: Final = "system/ClaimResponse.s"
TASK_READ: Final = "user/Task.r"
TASK_READ_SYSTEM: Final = "system/Task.r"
AUDIT_READ: Final = "system/AuditEvent.s"


@dataclass(frozen=True, slots=True)
class Scope:
    """One parsed SMART v2 scope."""

    context: Literal["user", "system"]
    resource: str
    permissions: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> Scope:
        """Parse ``text`` or raise InvalidInput naming the SMART v2 grammar."""
        match = _SCOPE.match(text)
        if match is None or not match.group(3):
            raise InvalidInput(
                f"scope {text!r} is not a SMART v2 scope <user|system>/<Resource>.<cruds>",
                field="scope",
                rule="smart-v2-scope",
                system="auth",
            )
        context: Literal["user", "system"] = "user" if match.group(1) == "user" else "system"
        return cls(context, match.group(2), frozenset(match.group(3)))

    def satisfies(self, required: Scope) -> bool:
        """True when holding this scope allows what ``required`` asks for."""
        return (
            self.context == required.context
            and self.resource in ("*", required.resource)
            and required.permissions <= self.permissions
        )


def satisfied(granted: frozenset[str], required: str) -> bool:
    """True when one of the ``granted`` scope strings satisfies ``required``."""
    wanted = Scope.parse(required)
    return any(Scope.parse(g).satisfies(wanted) for g in granted)


def parse_requested(text: str) -> tuple[str, ...]:
    """The space-separated scopes of a token request, each checked against the grammar."""
    requested = tuple(dict.fromkeys(text.split()))
    if not requested:
        raise InvalidInput(
            "scope is required (space-separated SMART v2 scopes)",
            field="scope",
            rule="required",
            system="auth",
        )
    for scope in requested:
        Scope.parse(scope)
    return requested
