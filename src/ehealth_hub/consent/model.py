"""What the consent gate is asked, what it knows, and what it answers.

Vocabulary follows XACML 3.0 (permit / deny / not-applicable, obligations, deny-overrides) and
the facts of the eHealth platform services it consults: Consent v2 (informed consent for
sharing), Therapeutic Link v2 (CD-TL link types, CD-TL-PROOFTYPE proof types) and the regional
hubs' exclusions (IntraHub v3), plus the per-consultation FHIR Consent (be-Consent, HL7-BE core
2.x) the client app records through the hub. Plain frozen values: the policy is a pure function
of them (:mod:`ehealth_hub.consent.policy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ehealth_hub.core.permit import Action
from ehealth_hub.core.ports import Actor, Exclusion, NationalConsent, TherapeuticLink

Purpose = Literal["treatment", "emergency", "insurance-claim"]
Effect = Literal["permit", "deny", "not-applicable"]
Source = Literal[
    "request",
    "role-rules",
    "national-consent",
    "therapeutic-link",
    "exclusion",
    "consultation-consent",
    "break-the-glass",
]
"""Which source decided: one of the facts, the configured role rules, or the request itself."""

ACTIONS: tuple[Action, ...] = ("read-dossier", "write-note", "submit-claim", "insurer-claim")
PURPOSES: tuple[Purpose, ...] = ("treatment", "emergency", "insurance-claim")

OBLIGATION_REVIEW = "review-break-the-glass"
"""A break-the-glass access must be reviewed afterwards (the audit event is flagged)."""
OBLIGATION_RESTRICT = "restrict-data-classes"
"""Only the permit's data classes may be returned to the caller."""
SOURCE_UNAVAILABLE = "source-unavailable"
"""The reason code of a denial caused by a source that could not be consulted (fail closed)."""


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """One question to the gate: may this actor do this action on this patient's data, now?"""

    patient_ssin: str
    actor: Actor
    action: Action
    purpose: Purpose = "treatment"
    data_classes: tuple[str, ...] = ()
    """The data classes asked for (summary, medication, vaccination, ...); empty = all allowed."""
    justification: str | None = None
    """Break-the-glass only: why the emergency access is needed (10 to 200 characters)."""
    recipient_nihii: str | None = None
    """write-note only: the care provider (the patient's GP) the note is for."""
    recipient_cbe: str | None = None
    """insurer-claim only: the insurer (CBE) the claim's minimal data is for."""
    client_id: str = ""
    """The client application acting for the actor (for the audit trail)."""

    @property
    def break_the_glass(self) -> bool:
        """True when the request invokes break-the-glass (purpose emergency)."""
        return self.purpose == "emergency"


@dataclass(frozen=True, slots=True)
class ConsultationConsent:
    """The per-consultation consent the app recorded (a be-Consent resource, read back)."""

    consent_id: str
    version: int
    patient_ssin: str
    actor_nihii: str
    status: Literal["active", "inactive"]
    actions: frozenset[Action]
    purposes: frozenset[Purpose]
    start: datetime
    end: datetime
    note_recipients: frozenset[str] = frozenset()
    """NIHIIs the patient agreed may receive the consultation note (their GP)."""
    insurer_recipients: frozenset[str] = frozenset()
    """CBEs of the private insurers the patient agreed may receive the claim's minimal data."""
    insurer_data: frozenset[str] = frozenset()
    """What else those insurers may receive, by the patient's opt-in (``diagnosis``)."""

    @property
    def reference(self) -> str:
        """The versioned FHIR reference of the Consent resource."""
        return f"Consent/{self.consent_id}/_history/{self.version}"


@dataclass(frozen=True, slots=True)
class Unavailable:
    """A source that could not be consulted (timeout, fault): the gate fails closed on it."""

    source: Source
    detail: str


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything the gate gathered for one request; a source may be :class:`Unavailable`."""

    national_consent: NationalConsent | Unavailable | None
    links: tuple[TherapeuticLink, ...] | Unavailable
    exclusions: tuple[Exclusion, ...] | Unavailable
    consultation_consents: tuple[ConsultationConsent, ...] | Unavailable

    @property
    def faults(self) -> tuple[Unavailable, ...]:
        """The sources that could not be consulted."""
        values = (self.national_consent, self.links, self.exclusions, self.consultation_consents)
        return tuple(v for v in values if isinstance(v, Unavailable))


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a rule matched, naming the source that decided."""

    source: Source
    code: str
    """Stable machine code (e.g. ``no-active-link``) for clients and tests."""
    text: str

    def __str__(self) -> str:
        return f"{self.source}: {self.text}"


@dataclass(frozen=True, slots=True)
class Decision:
    """The gate's answer; ``rests_on`` lists the consents and links it relied on."""

    effect: Effect
    reasons: tuple[Reason, ...]
    valid_until: datetime | None = None
    """Permit only: until when the decision holds (never past a consent's or link's end)."""
    rests_until: datetime | None = None
    """Permit only: the end of the consent or link it rests on (a bound for any reuse)."""
    obligations: tuple[str, ...] = ()
    rests_on: tuple[str, ...] = ()
    """References of the facts a permit relies on (Consent/<id>/_history/<v>, link, consent)."""
    data_classes: tuple[str, ...] = ()
    """Permit only: the data classes the caller may receive (empty = everything)."""
    break_the_glass: bool = False
    faults: tuple[str, ...] = field(default=())
    """Sources that could not be consulted (a permit with faults is break-the-glass only)."""

    @property
    def permitted(self) -> bool:
        """True only for a permit."""
        return self.effect == "permit"

    @property
    def unavailable(self) -> bool:
        """True for a denial that rests only on sources that could not be consulted (an outage,
        not a refusal: asking again once the sources answer may permit)."""
        return (
            self.effect == "deny"
            and bool(self.reasons)
            and all(r.code == SOURCE_UNAVAILABLE for r in self.reasons)
        )

    @property
    def codes(self) -> frozenset[str]:
        """The reason codes (handy for tests and clients)."""
        return frozenset(r.code for r in self.reasons)
