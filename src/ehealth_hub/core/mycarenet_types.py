"""Value types shared by the MyCareNet mappings, connectors, simulator and the claims use case.

Plain frozen dataclasses; identifiers are strings already validated by
:mod:`ehealth_hub.core.identifiers`. Amounts are :class:`~decimal.Decimal` euros. The mutuality code
has three digits; its first digit is the federation (``1`` CM ... ``9`` HR Rail) and the
federation's routing code is that digit followed by ``00`` (MyCareNet routing, eFact destination).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Final, Literal

MYCARENET_CBE: Final = "0820563481"
"""MyCareNet's CBE: destination of eAttest messages, owner of the MYCARENET ETK."""

Identification = Literal["itsme", "eid-remote", "known-patient"]
"""How the patient was identified in the video consultation (the app declares it)."""

BillingRoute = Literal["eattest", "efact"]


def federation_of(mutuality: str) -> str:
    """The federation routing code of a 3-digit mutuality code (``134`` -> ``100``)."""
    return mutuality[:1] + "00"


@dataclass(frozen=True, slots=True)
class CareProvider:
    """The care provider who attests (the video-consultation doctor or psychologist)."""

    nihii: str
    quality: str
    """eHealth quality (doctor, clinical_psychologist, ...)."""
    given: str
    family: str
    ssin: str | None = None
    payment_cbe: str | None = None
    """CBE of the organisation receiving the payment (third-party payment), if any."""


@dataclass(frozen=True, slots=True)
class CareReceiver:
    """The patient as the claim names them."""

    ssin: str
    given: str
    family: str
    gender: Literal["male", "female", "other", "unknown"] = "unknown"


@dataclass(frozen=True, slots=True)
class InsurabilityFacts:
    """What MemberData answered for one patient on one reference date."""

    ssin: str
    reference_date: date
    insured: bool
    mutuality: str = ""
    membership: str = ""
    ct1: str = ""
    ct2: str = ""
    third_party_payer: bool = False
    medical_house: bool = False
    period_start: date | None = None
    period_end: date | None = None
    reasons: tuple[str, ...] = field(default=())
    """Status codes/messages of a refusal or a partial answer (e.g. ``not-insured``)."""

    @property
    def federation(self) -> str:
        """The routing code of the patient's mutuality federation (``100`` .. ``900``)."""
        return federation_of(self.mutuality)


@dataclass(frozen=True, slots=True)
class TeleconsultationClaim:
    """A teleconsultation claim as the app sent it, validated."""

    claim_id: str
    """The app's own id of the Claim (the idempotency anchor with the practitioner NIHII)."""
    patient: CareReceiver
    provider_nihii: str
    code: str
    """NIHII nomenclature code (101673, 101695, 101710)."""
    serviced: date
    fee: Decimal
    supplement: Decimal = Decimal("0")
    identification: Identification = "itsme"
    route: BillingRoute | None = None
    """Requested billing route; None lets the hub decide (configuration, third-party payment)."""


@dataclass(frozen=True, slots=True)
class AttestError:
    """One error of a MyCareNet answer: its code and the code system it belongs to."""

    code: str
    expression: str = ""
    message: str = ""
    system: str = ""
    """The code's system as the answer gave it; empty = be-cs-eattestation-errors (the eAttest
    answer's OperationOutcome codes)."""


@dataclass(frozen=True, slots=True)
class AttestedItem:
    """One service as the mutuality's eAttest answer states it (``ClaimResponse.addItem``)."""

    code: str
    """NIHII nomenclature code."""
    serviced: date | None
    quantity: Decimal
    unit_price: Decimal | None
    net: Decimal | None
    """The item's fee ("fee for item" in the IG)."""
    decision: str = ""
    """decision-values code (``adjudication.category``)."""
    patient_fee: Decimal | None = None
    reimbursement: Decimal | None = None
    sequence: int = 1
    """The claim item it answers (``addItem.itemSequence``)."""


@dataclass(frozen=True, slots=True)
class AttestOutcome:
    """The mutuality's answer to an eAttest (create) message."""

    accepted: bool
    attestation_id: str | None
    insurer: str
    """Mutuality (federation) that answered."""
    reimbursed: Decimal | None = None
    """What the mutuality says it reimburses (be-ext-mycarenet-item-reimbursement), if it says."""
    errors: tuple[AttestError, ...] = field(default=())
    charged: Decimal | None = None
    """The fee the mutuality's answer states (``addItem.net``: "fee for item" in the IG)."""
    patient_fee: Decimal | None = None
    """What the mutuality says the patient pays (be-ext-mycarenet-item-patientfee), if it says."""
    attestation_type: str = ""
    """The answer's be-cs-eattestation-types code (``subType``), if any."""
    claim_type: str = ""
    """The answer's claim-type code (``type``: professional, oral for dentistry), if any."""
    items: tuple[AttestedItem, ...] = field(default=())
    """The services as the answer states them (empty for eFact: its result file has none)."""


@dataclass(frozen=True, slots=True)
class PostReceipt:
    """GenericAsync's TAck for a posted message."""

    reference: str
    """The InputReference the post carried (AppliesTo of the TAck)."""
    accepted: bool
    result: str
    """ResultMajor (and ResultMinor/ResultMessage when refused)."""


@dataclass(frozen=True, slots=True)
class AsyncMessage:
    """A message waiting in the hub's GenericAsync box (acknowledgement, result file)."""

    name: str
    """MessageName: 931000 acknowledgement, 920099 result, 920098 batch rejected."""
    reference: str
    """The InputReference of the post it answers."""
    content: bytes
    hash_value: bytes
    """Hash the confirm call names (SHA-256 of the content)."""


@dataclass(frozen=True, slots=True)
class GmdHolder:
    """The care provider holding the GMD (a doctor, or a medical house as an organisation)."""

    nihii: str
    given: str = ""
    family: str = ""
    kind: str = "persphysician"
    """CD-HCPARTY of the holder (``persphysician``, ``orgpractice`` ...)."""


@dataclass(frozen=True, slots=True)
class GmdFacts:
    """What MyCareNet answered about the patient's GMD on a reference date."""

    ssin: str
    reference_date: date
    holder: GmdHolder | None = None
    start: date | None = None
    end: date | None = None
    payment: bool = False

    def held_by(self, nihii: str, on: date) -> bool:
        """Whether ``nihii`` holds the GMD on ``on``."""
        if self.holder is None or self.holder.nihii != nihii:
            return False
        return (self.start is None or self.start <= on) and (self.end is None or on <= self.end)
