"""The reimbursement conditions of a teleconsultation claim, checked before anything is sent.

Rules, each a 422 (BusinessRejection whose ``code`` names the rule) when it fails:

* ``billing.not-reimbursable-on-date``: no row of the tariff table (:mod:`.billing_rules`) covers
  the code on the serviced date (101732 from 2025-02-15);
* ``billing.route``: the row makes eFact mandatory (third-party payment) and the claim asks for
  eAttest, or the row is a psychologist session (route ``mhc``) and the claim asks for either;
* ``billing.treatment-relationship``: the row requires an existing treatment relationship and no
  ``Claim.supportingInfo`` declares one that holds. The app declares it with a category of
  :data:`RELATIONSHIP_SYSTEM`: ``gmd`` (verified with MyCareNet GlobalMedicalFile: the billing
  doctor holds the GMD on the serviced date), ``physical-contact`` (``timingDate``: a physical
  contact in the serviced date's calendar year or the two before, not after it), ``referral``
  (``valueReference`` or ``valueString`` naming the referral) or ``on-call`` (``valueBoolean``
  true: the organised on-call service);
* ``billing.medical-house``: MemberData says the patient is enrolled in a medical house (lump-sum
  payment) and MyCareNet names the billing doctor as the GMD holder: the medical house cannot
  bill the code for its own enrolled patient.

A GMD that cannot be verified because MyCareNet is unreachable stops the claim (fail closed:
DownstreamUnavailable, 503, nothing sent). Not modelled: "a doctor of the same practice" holds the
GMD (the hub knows no practice membership), so only the billing doctor's own GMD counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from ehealth_hub.core.errors import BusinessRejection, MappingError
from ehealth_hub.core.mycarenet_types import GmdFacts, InsurabilityFacts, TeleconsultationClaim
from ehealth_hub.core.ports import Actor, GlobalMedicalFilePort
from ehealth_hub.fhir.builders import Json
from ehealth_hub.fhir.profiles import HUB_SYSTEM_BASE
from ehealth_hub.services.billing_rules import BillingRules, TariffRow, is_bim

RELATIONSHIP_SYSTEM: Final = f"{HUB_SYSTEM_BASE}/CodeSystem/treatment-relationship"
KINDS: Final = ("gmd", "physical-contact", "referral", "on-call")
CONTACT_YEARS: Final = 2
"""A physical contact counts in the serviced date's calendar year and this many years before."""


@dataclass(frozen=True, slots=True)
class Declared:
    """One treatment relationship the claim declares (Claim.supportingInfo)."""

    kind: str
    when: date | None = None
    value: str = ""


@dataclass(frozen=True, slots=True)
class BillingDecision:
    """What the checks found: the row billed under, the relationship that held, BIM status."""

    row: TariffRow
    relationship: str | None
    """The kind of treatment relationship that held (None when the row requires none)."""
    bim: bool
    gmd: GmdFacts | None = None

    def payload(self) -> dict[str, Any]:
        """What the delivery needs to tell the money (JSON)."""
        share = self.row.patient_share(bim=self.bim)
        return {
            "code": self.row.code,
            "valid_from": self.row.valid_from.isoformat(),
            "bim": self.bim,
            "patient_share": str(share) if share is not None else None,
            "route": self.row.route,
            "relationship": self.relationship,
            "source": self.row.source,
        }


def refuse(rule: str, detail: str) -> BusinessRejection:
    """The refusal of ``rule``: nothing was sent."""
    return BusinessRejection(
        f"{detail}: nothing was sent", system="billing", operation="submit-claim", code=rule
    )


def read_declared(claim: Json) -> tuple[Declared, ...]:
    """The relationships ``Claim.supportingInfo`` declares; MappingError on a bad entry."""
    out = []
    for i, info in enumerate(claim.get("supportingInfo") or []):
        codes = [
            c.get("code")
            for c in (info.get("category") or {}).get("coding", [])
            if c.get("system") == RELATIONSHIP_SYSTEM
        ]
        if not codes:
            continue  # other supporting information is not the hub's business
        field = f"Claim.supportingInfo[{i}]"
        if codes[0] not in KINDS:
            raise MappingError(
                f"{field}.category must be one of {list(KINDS)}",
                field=f"{field}.category",
                rule="claim.treatment-relationship-kind",
            )
        when = None
        if info.get("timingDate"):
            try:
                when = date.fromisoformat(str(info["timingDate"]))
            except ValueError as exc:
                raise MappingError(
                    "timingDate must be YYYY-MM-DD", field=f"{field}.timingDate", rule="date"
                ) from exc
        ref = info.get("valueReference") or {}
        value = str(ref.get("reference") or ref.get("display") or info.get("valueString") or "")
        if info.get("valueBoolean") is True:
            value = "true"
        out.append(Declared(codes[0], when, value))
    return tuple(out)


class BillingCheck:
    """Checks a claim against the tariff table and the treatment relationship; see module doc."""

    def __init__(self, rules: BillingRules, gmd: GlobalMedicalFilePort) -> None:
        self.rules, self.gmd = rules, gmd

    def tariff(self, claim: TeleconsultationClaim) -> TariffRow:
        """The table's row for the claim (asked first: it needs no downstream call), or
        BusinessRejection: not reimbursable on the date, or a route the row forbids."""
        row = self.rules.row(claim.code, claim.serviced)
        if row is None:
            raise refuse(
                "billing.not-reimbursable-on-date",
                f"code {claim.code} is not reimbursable on {claim.serviced.isoformat()}",
            )
        if row.route == "mhc" and claim.route is not None:
            raise refuse(
                "billing.route",
                f"session {claim.code} is recorded on MyCareNet Mental Health Care, not by "
                f"{claim.route}",
            )
        if row.route == "efact" and claim.route == "eattest":
            raise refuse(
                "billing.route",
                f"code {claim.code} is billed with mandatory third-party payment, through eFact; "
                "eAttest cannot be used",
            )
        return row

    async def check(
        self,
        claim: TeleconsultationClaim,
        raw: Json,
        facts: InsurabilityFacts,
        actor: Actor,
        row: TariffRow,
    ) -> BillingDecision:
        """The decision for ``row`` (:meth:`tariff`), or BusinessRejection naming the first rule
        that fails (medical house, treatment relationship)."""
        declared = read_declared(raw)
        gmd: GmdFacts | None = None
        if facts.medical_house or any(d.kind == "gmd" for d in declared):
            gmd = await self.gmd.consult_gmd(actor, claim.patient.ssin, claim.serviced)
        if facts.medical_house and gmd is not None and gmd.held_by(actor.nihii, claim.serviced):
            raise refuse(
                "billing.medical-house",
                "the patient is enrolled in a medical house whose doctor bills: the lump sum "
                "covers the consultation",
            )
        relationship = None
        if "treatment-relationship" in row.conditions:
            relationship = _holding(declared, gmd, actor, claim.serviced)
            if relationship is None:
                kinds = [d.kind for d in declared] or ["none"]
                raise refuse(
                    "billing.treatment-relationship",
                    f"code {claim.code} is reimbursed only inside an existing treatment "
                    f"relationship (Claim.supportingInfo: gmd, physical-contact, referral or "
                    f"on-call); declared: {', '.join(kinds)}, none holds",
                )
        return BillingDecision(row, relationship, is_bim(facts.ct1), gmd)


def _holding(
    declared: tuple[Declared, ...], gmd: GmdFacts | None, actor: Actor, on: date
) -> str | None:
    for item in declared:
        if item.kind == "gmd" and gmd is not None and gmd.held_by(actor.nihii, on):
            return "gmd"
        if (
            item.kind == "physical-contact"
            and item.when is not None
            and on.year - CONTACT_YEARS <= item.when.year
            and item.when <= on
        ):
            return "physical-contact"
        if item.kind in ("referral", "on-call") and item.value not in ("", "false"):
            return item.kind
    return None
