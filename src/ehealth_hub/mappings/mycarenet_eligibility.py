"""Insurability over the API: a FHIR CoverageEligibilityRequest in, a CoverageEligibilityResponse
with the patient's Coverage contained out.

Standard: FHIR R4 (4.0.1) CoverageEligibilityRequest / CoverageEligibilityResponse; the Coverage
is be-mycarenet-coverage (:func:`ehealth_hub.mappings.mycarenet_insurability.coverage`); the facts
come from MyCareNet MemberData v1. Read from the request: ``patient.identifier`` (SSIN),
``servicedDate``, ``purpose`` (``validation`` and/or ``benefits``; the hub answers both from the
same MemberData facts: in force or not, mutuality, membership, CT1/CT2, third-party payment, period,
medical-house membership; MemberData gives no per-service benefit amounts). ``status`` must be
``active`` when given; ``created``/``insurer`` are not required (the insurer is what is asked).

Answers: ``outcome`` ``complete`` (in force), ``partial`` (in force, but the mutuality left fields
out: each named in ``error``), ``error`` (not insured on the date, unknown SSIN, refusal: each
reason a coded ``error``). Pure: ``now`` and the id are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from ehealth_hub.core.errors import HubError, RuleViolation
from ehealth_hub.core.identifiers import Ssin
from ehealth_hub.core.mycarenet_types import InsurabilityFacts
from ehealth_hub.fhir import profiles as p
from ehealth_hub.fhir.builders import Json, coding, concept
from ehealth_hub.mappings import mycarenet_insurability as ins

RESOURCE: Final = "CoverageEligibilityRequest"
PURPOSES: Final = ("validation", "benefits")
"""The purposes the hub answers (``auth-requirements`` and ``discovery`` are not MemberData's)."""
STATUS_SYSTEM: Final = f"{p.HUB_SYSTEM_BASE}/CodeSystem/memberdata-status"
_STATUS: Final = {
    ins.STATUS_NOT_INSURED: ("not-insured", "not insured on the serviced date"),
    ins.STATUS_UNKNOWN: ("unknown-care-receiver", "the mutualities do not know this SSIN"),
}
COVERAGE_ID: Final = "coverage"


@dataclass(frozen=True, slots=True)
class EligibilityQuery:
    """What a CoverageEligibilityRequest asks."""

    ssin: str
    serviced: date
    purposes: tuple[str, ...]


def _invalid(message: str, field: str, rule: str) -> RuleViolation:
    return RuleViolation(message, field=f"{RESOURCE}.{field}", rule=rule, system="api")


def read_request(body: dict[str, Any]) -> EligibilityQuery:
    """The query of ``body``; InvalidInput naming the field and the rule otherwise."""
    if body.get("resourceType") != RESOURCE:
        raise RuleViolation(
            f"the body must be a {RESOURCE}", field="resourceType", rule="resource-type"
        )
    if body.get("status", "active") != "active":
        raise _invalid("status must be 'active'", "status", "eligibility.status")
    return EligibilityQuery(_ssin(body), _serviced(body), _purposes(body))


def _ssin(body: dict[str, Any]) -> str:
    patient = body.get("patient")
    ident = patient.get("identifier") if isinstance(patient, dict) else None
    if not isinstance(ident, dict) or ident.get("system") != p.SSIN_SYSTEM:
        raise _invalid(
            f"patient must be named by its SSIN identifier (system {p.SSIN_SYSTEM})",
            "patient.identifier",
            "eligibility.patient-ssin",
        )
    try:
        return Ssin.parse(str(ident.get("value", ""))).value
    except HubError as exc:
        raise _invalid(exc.detail, "patient.identifier.value", "ssin-mod97") from exc


def _serviced(body: dict[str, Any]) -> date:
    raw = body.get("servicedDate")
    if raw is None:
        raise _invalid("servicedDate is required (YYYY-MM-DD)", "servicedDate", "required")
    try:
        if not isinstance(raw, str) or len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise _invalid("servicedDate must be a date (YYYY-MM-DD)", "servicedDate", "date") from exc


def _purposes(body: dict[str, Any]) -> tuple[str, ...]:
    purposes = body.get("purpose")
    if not isinstance(purposes, list) or not purposes or any(x not in PURPOSES for x in purposes):
        raise _invalid(
            "purpose must list 'validation' and/or 'benefits'", "purpose", "eligibility.purpose"
        )
    return tuple(dict.fromkeys(purposes))


def response(
    query: EligibilityQuery,
    facts: InsurabilityFacts,
    *,
    rid: str,
    requestor_nihii: str,
    now: datetime,
) -> Json:
    """The CoverageEligibilityResponse, the Coverage contained when the patient is insured."""
    out = ins.eligibility_response(
        facts, rid=rid, coverage_id=COVERAGE_ID, requestor_nihii=requestor_nihii, now=now
    )
    out["purpose"] = list(query.purposes)
    if not facts.insured:
        out["error"] = [_error(reason) for reason in facts.reasons or ("not insured",)]
        return out
    out["contained"] = [ins.coverage(facts, rid=COVERAGE_ID)]
    out["insurance"] = [{"coverage": {"reference": f"#{COVERAGE_ID}"}, "inforce": True}]
    out["disposition"] = _disposition(facts)
    missing = [name for name, value in _expected(facts) if not value]
    if missing:
        out["outcome"] = "partial"
        out["error"] = [
            {"code": concept([coding(STATUS_SYSTEM, "partial-answer")], f"{name} not given")}
            for name in missing
        ]
    return out


def _expected(facts: InsurabilityFacts) -> tuple[tuple[str, object], ...]:
    return (
        ("membership number", facts.membership),
        ("CT1", facts.ct1),
        ("CT2", facts.ct2),
        ("insurability period", facts.period_start or facts.period_end),
    )


def _disposition(facts: InsurabilityFacts) -> str:
    payment = "third-party payment applies" if facts.third_party_payer else "no third-party payment"
    house = (
        "; medical-house member: care is paid as a lump sum, no fee-for-service claim"
        if facts.medical_house
        else ""
    )
    return f"insured with mutuality {facts.mutuality}; {payment}{house}"


def _error(reason: str) -> Json:
    code, display = _STATUS.get(reason, ("", ""))
    if not code:
        code = "partial-answer" if reason.startswith("partial-answer") else "memberdata-refusal"
    return {"code": concept([coding(STATUS_SYSTEM, code, display or None)], reason)}
