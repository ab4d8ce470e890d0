"""The per-consultation consent as a FHIR R4 Consent (be-Consent, HL7-BE core 2.x), checked.

The shape the hub accepts (on top of FHIR R4 4.0.1 Consent, validated with fhir.resources R4B):

* ``scope`` patient-privacy, ``category`` LOINC 59284-0, ``policyRule`` v3-ActCode OPTIN;
* ``patient.identifier`` an SSIN (be-patient naming system);
* ``provision.type`` permit, ``provision.period`` with start and end;
* ``provision.actor``: role v3-RoleClass ``PROV`` = the consulting care provider (NIHII), and
  role v3-ParticipationType ``IRCP`` = a care provider the patient agreed may receive the note
  (their GP); a consent allowing ``write-note`` must name one;
* ``provision.actor`` role ``IRCP`` identified by a CBE (be-organization naming system) = a
  private insurer the patient agreed may receive the claim's minimal data; a consent allowing
  ``insurer-claim`` must name one, and say purpose ``HPAYMT``;
* ``provision.action``: codes of :data:`ACTION_SYSTEM` (read-dossier, write-note, submit-claim,
  insurer-claim);
* ``provision.purpose``: v3-ActReason ``TREAT`` (treatment), ``ETREAT`` (emergency) or ``HPAYMT``
  (healthcare payment: the insurance claim);
* ``provision.provision`` (insurer-claim consents only): the patient's opt-in to more than the
  minimal claim, each a nested provision ``type`` permit whose ``class`` names the kind of data
  (FHIR's own way: Consent.provision.class is "the class of information covered by this rule"):
  ``http://hl7.org/fhir/resource-types|Condition`` = the claim's diagnosis may go to that
  insurer. Without it the insurer never receives a diagnosis; revoking the consent (or recording
  one without it) withdraws it for the next claim.

Pure: no clock, no I/O. Every refusal is a RuleViolation (a well-formed body that is not a valid
be-Consent: 422 at the API) naming the FHIRPath and the rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from fhir.resources.R4B.consent import Consent
from pydantic import ValidationError

from ehealth_hub.consent.model import ACTIONS, ConsultationConsent, Purpose
from ehealth_hub.core.errors import IdentifierError, RuleViolation
from ehealth_hub.core.identifiers import Cbe, Nihii, Ssin
from ehealth_hub.core.permit import Action
from ehealth_hub.fhir.profiles import (
    BE_CONSENT,
    CBE_SYSTEM,
    HUB_SYSTEM_BASE,
    NIHDI_SYSTEM,
    SSIN_SYSTEM,
)

ACTION_SYSTEM: Final = f"{HUB_SYSTEM_BASE}/CodeSystem/consent-action"
ACT_REASON: Final = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
ROLE_CLASS: Final = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"
PARTICIPATION: Final = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
PURPOSES: Final[dict[str, Purpose]] = {
    "TREAT": "treatment",
    "ETREAT": "emergency",
    "HPAYMT": "insurance-claim",
}
ACCEPTED_STATUS: Final = ("active", "inactive")
RESOURCE_TYPES: Final = "http://hl7.org/fhir/resource-types"
INSURER_DATA: Final = {"Condition": "diagnosis"}
"""Nested provision classes an insurer consent may opt in to -> the insurer data element."""


def _bad(path: str, rule: str, detail: str) -> RuleViolation:
    return RuleViolation(detail, field=path, rule=rule, system="consent", operation="validate")


def _codes(concepts: list[dict[str, Any]], system: str) -> list[str]:
    return [
        str(c.get("code"))
        for concept in concepts
        for c in concept.get("coding", [])
        if c.get("system") == system
    ]


def validate(resource: dict[str, Any]) -> ConsultationConsent:
    """Check ``resource`` (a be-Consent JSON) and return what the policy needs from it."""
    if resource.get("resourceType") != "Consent":
        raise _bad("resourceType", "resource-type", "the resource must be a Consent")
    try:
        Consent.model_validate(resource)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = "Consent." + ".".join(str(p) for p in first["loc"])
        raise _bad(path, "fhir-r4", f"not a valid FHIR R4 Consent: {first['msg']}") from exc
    status = resource.get("status")
    if status not in ACCEPTED_STATUS:
        raise _bad("Consent.status", "consent-status", "status must be active or inactive")
    provision = resource.get("provision") or {}
    if provision.get("type", "permit") != "permit":
        raise _bad("Consent.provision.type", "provision-permit", "provision.type must be permit")
    start, end = _period(provision)
    actions = _actions(provision)
    recipients = _actors(provision, "IRCP", PARTICIPATION)
    insurers = _actors(provision, "IRCP", PARTICIPATION, organisations=True)
    _check_insurer(actions, insurers, provision)
    insurer_data = _insurer_data(actions, provision)
    if "write-note" in actions and not recipients:
        raise _bad(
            "Consent.provision.actor",
            "note-recipient-required",
            "a consent to write a note needs the patient's agreement on who receives it: "
            "an actor with role IRCP (the patient's GP)",
        )
    providers = _actors(provision, "PROV", ROLE_CLASS)
    if len(providers) != 1:
        raise _bad(
            "Consent.provision.actor",
            "one-provider",
            "exactly one actor with role PROV (the consulting care provider, by NIHII)",
        )
    return ConsultationConsent(
        consent_id=str(resource.get("id") or ""),
        version=int((resource.get("meta") or {}).get("versionId") or 0),
        patient_ssin=_patient(resource),
        actor_nihii=providers[0],
        status="active" if status == "active" else "inactive",
        actions=frozenset(actions),
        purposes=frozenset(_purposes(provision)),
        start=start,
        end=end,
        note_recipients=frozenset(recipients),
        insurer_recipients=frozenset(insurers),
        insurer_data=insurer_data,
    )


def _insurer_data(actions: list[Action], provision: dict[str, Any]) -> frozenset[str]:
    """The data beyond the minimal claim the patient opted in to send the insurer."""
    nested = provision.get("provision") or []
    if nested and "insurer-claim" not in actions:
        raise _bad(
            "Consent.provision.provision",
            "nested-provision",
            "nested provisions are read only on a consent for insurer-claim (its data opt-in)",
        )
    chosen: set[str] = set()
    for n, inner in enumerate(nested):
        where = f"Consent.provision.provision[{n}]"
        if inner.get("type") != "permit":
            raise _bad(f"{where}.type", "insurer-data-permit", "an opt-in provision is a permit")
        kinds = inner.get("class") or []
        classes = [str(c.get("code")) for c in kinds if c.get("system") == RESOURCE_TYPES]
        if not classes or any(c not in INSURER_DATA for c in classes):
            raise _bad(
                f"{where}.class",
                "insurer-data-class",
                f"the class of an opt-in is one of {RESOURCE_TYPES}|{sorted(INSURER_DATA)} "
                "(Condition: the claim's diagnosis)",
            )
        chosen |= {INSURER_DATA[c] for c in classes}
    return frozenset(chosen)


def _check_insurer(actions: list[Action], insurers: list[str], provision: dict[str, Any]) -> None:
    if "insurer-claim" not in actions:
        return
    if not insurers:
        raise _bad(
            "Consent.provision.actor",
            "insurer-recipient-required",
            "a consent to share a claim with an insurer names the insurer: an actor with role "
            f"IRCP identified by its CBE ({CBE_SYSTEM})",
        )
    if "HPAYMT" not in _codes([{"coding": provision.get("purpose") or []}], ACT_REASON):
        raise _bad(
            "Consent.provision.purpose",
            "insurer-purpose",
            "a consent to share a claim with an insurer has purpose HPAYMT (the insurance claim)",
        )


def _patient(resource: dict[str, Any]) -> str:
    identifier = (resource.get("patient") or {}).get("identifier") or {}
    if identifier.get("system") != SSIN_SYSTEM:
        raise _bad("Consent.patient.identifier", "patient-ssin", f"system must be {SSIN_SYSTEM}")
    try:
        return Ssin.parse(str(identifier.get("value", ""))).value
    except IdentifierError as exc:
        raise _bad("Consent.patient.identifier.value", exc.rule, exc.detail) from exc


def _period(provision: dict[str, Any]) -> tuple[datetime, datetime]:
    period = provision.get("period") or {}
    try:
        start = datetime.fromisoformat(period["start"])
        end = datetime.fromisoformat(period["end"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(
            "Consent.provision.period",
            "period-required",
            "provision.period needs start and end (dateTime with time zone)",
        ) from exc
    if start.tzinfo is None or end.tzinfo is None:
        raise _bad("Consent.provision.period", "period-timezone", "start and end need a zone")
    if end <= start:
        raise _bad("Consent.provision.period.end", "period-order", "end must follow start")
    return start, end


def _actions(provision: dict[str, Any]) -> list[Action]:
    codes = _codes(provision.get("action") or [], ACTION_SYSTEM)
    if not codes:
        raise _bad(
            "Consent.provision.action", "action-required", f"at least one action of {ACTION_SYSTEM}"
        )
    actions = [a for a in ACTIONS if a in codes]
    unknown = sorted(set(codes) - set(actions))
    if unknown:
        raise _bad("Consent.provision.action", "action-known", f"unknown actions {unknown}")
    return actions


def _purposes(provision: dict[str, Any]) -> list[Purpose]:
    codes = [
        c.get("code")
        for c in provision.get("purpose") or []
        if isinstance(c, dict) and c.get("system") == ACT_REASON
    ]
    purposes = [PURPOSES[c] for c in codes if c in PURPOSES]
    if not purposes or len(purposes) != len(codes):
        raise _bad(
            "Consent.provision.purpose", "purpose-known", "purpose must be TREAT and/or ETREAT"
        )
    return purposes


def _actors(
    provision: dict[str, Any], role: str, system: str, *, organisations: bool = False
) -> list[str]:
    """The NIHIIs of the actors with ``role`` (or, with ``organisations``, the CBEs: an insurer
    is an organisation, never a care provider)."""
    found = []
    for index, actor in enumerate(provision.get("actor") or []):
        if role not in _codes([actor.get("role") or {}], system):
            continue
        identifier = (actor.get("reference") or {}).get("identifier") or {}
        path = f"Consent.provision.actor[{index}].reference.identifier"
        if (identifier.get("system") == CBE_SYSTEM) != organisations:
            continue
        if organisations:
            try:
                found.append(Cbe.parse(str(identifier.get("value", ""))).value)
            except IdentifierError as exc:
                raise _bad(path + ".value", exc.rule, exc.detail) from exc
            continue
        if identifier.get("system") != NIHDI_SYSTEM:
            raise _bad(path, "actor-nihii", f"system must be {NIHDI_SYSTEM}")
        try:
            found.append(Nihii.person(str(identifier.get("value", ""))).value)
        except IdentifierError as exc:
            raise _bad(path + ".value", exc.rule, exc.detail) from exc
    return found


def with_meta(
    resource: dict[str, Any], consent_id: str, version: int, now: datetime
) -> dict[str, Any]:
    """``resource`` as stored: its id, versionId, lastUpdated and the be-Consent profile."""
    meta = dict(resource.get("meta") or {})
    profiles = list(meta.get("profile") or [])
    meta.update(
        versionId=str(version),
        lastUpdated=now.isoformat(),
        profile=profiles if BE_CONSENT in profiles else [BE_CONSENT, *profiles],
    )
    return {**resource, "id": consent_id, "meta": meta}


def identifier_key(resource: dict[str, Any]) -> str | None:
    """``system|value`` of the resource's first identifier (for conditional create)."""
    identifiers = resource.get("identifier") or []
    if not identifiers:
        return None
    first = identifiers[0]
    return f"{first.get('system', '')}|{first.get('value', '')}"
