"""The consent policy: a pure, deny-overrides function of an access request and the facts.

XACML 3.0 combining algorithm *deny-overrides*: the policy targets the qualities named in the role
rules (others get ``not-applicable``, which the gate treats as a denial); inside the target every
rule below may deny, and one denial is enough. Without any denial the decision is a permit whose
validity never runs past the consent or link it rests on.

Rules, per action (``btg`` = break-the-glass, purpose emergency):

============================  ============  ===========  ============  =============  ===========
rule (source)                 read-dossier  write-note   submit-claim  insurer-claim  relaxed by
                                                                                      btg
============================  ============  ===========  ============  =============  ===========
role rules (action, classes)  yes           yes          yes           yes            no
national consent (Consent)    yes           no           no            no             fault only
exclusion (hubs)              yes           no           no            no             fault only
therapeutic link (TL, CD-TL)  yes           yes          yes           yes            yes
consultation consent (FHIR)   yes           yes (+GP)    yes           yes (+insurer) yes
============================  ============  ===========  ============  =============  ===========

``insurer-claim`` is asked with purpose ``insurance-claim`` and the insurer's CBE: only a consent
naming that insurer as recipient (and not revoked) permits it, and its permit's ``data_classes``
say what may go: ``claim`` (the minimal claim) plus the consent's opt-ins (``diagnosis``).

Break-the-glass itself is allowed for read-dossier only, to the configured qualities, with a
justification of 10 to 200 characters; the patient's own refusals (no national consent, an
exclusion) still deny, but a source that cannot be reached does not. No clock, I/O or randomness:
``now`` is passed in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from ehealth_hub.consent.model import (
    OBLIGATION_RESTRICT,
    OBLIGATION_REVIEW,
    SOURCE_UNAVAILABLE,
    AccessRequest,
    ConsultationConsent,
    Decision,
    Facts,
    Reason,
    Unavailable,
)
from ehealth_hub.core.ports import TherapeuticLink
from ehealth_hub.settings import ConsentSettings, RoleRule

JUSTIFICATION_MIN = 10
JUSTIFICATION_MAX = 200

Outcome = tuple[list[Reason], list[Reason], list[str]]
"""(denials, grants, references the grant rests on) of one rule."""


def decide(
    request: AccessRequest, facts: Facts, config: ConsentSettings, now: datetime
) -> Decision:
    """The decision for ``request`` given ``facts`` at ``now`` (timezone-aware UTC)."""
    rule = config.role_rules.get(request.actor.quality)
    if rule is None:
        reason = Reason(
            "role-rules",
            "quality-not-covered",
            f"no role rule for quality {request.actor.quality!r}",
        )
        return Decision("not-applicable", (reason,), faults=_faults(facts))
    outcomes = [
        _role(request, rule),
        _break_the_glass(request, config),
        _national_consent(request, facts),
        _exclusion(request, facts),
        _link(request, facts, config, now),
        _consultation(request, facts, now),
    ]
    denials = [r for deny, _, _ in outcomes for r in deny]
    if denials:
        return Decision("deny", tuple(denials), faults=_faults(facts))
    grants = tuple(r for _, grant, _ in outcomes for r in grant)
    rests_on = tuple(ref for _, _, refs in outcomes for ref in refs)
    return _permit(request, facts, config, rule, now, grants, rests_on)


def _permit(
    request: AccessRequest,
    facts: Facts,
    config: ConsentSettings,
    rule: RoleRule,
    now: datetime,
    grants: tuple[Reason, ...],
    rests_on: tuple[str, ...],
) -> Decision:
    btg = request.break_the_glass
    lifetime = config.break_glass_validity_seconds if btg else config.permit_validity_seconds
    ends = [_end_of(None)]
    consent: ConsultationConsent | None = None
    if not btg:
        ends.append(_end_of(_best_link(request, facts, config, now)))
        consent = _best_consultation(request, facts, now)
        ends.append(consent.end if consent else now)
    rests_until = min(ends)
    classes = request.data_classes
    obligations: list[str] = [OBLIGATION_REVIEW] if btg else []
    if "*" not in rule.data_classes:
        classes = classes or tuple(rule.data_classes)
        obligations.append(OBLIGATION_RESTRICT)
    if request.action == "insurer-claim" and consent is not None:
        # the minimal claim, plus what the patient opted in to (the consent's nested provisions)
        classes = ("claim", *sorted(consent.insurer_data))
    return Decision(
        "permit",
        grants,
        valid_until=min(now + timedelta(seconds=lifetime), rests_until),
        rests_until=rests_until,
        obligations=tuple(obligations),
        rests_on=rests_on,
        data_classes=classes,
        break_the_glass=btg,
        faults=_faults(facts),
    )


def _faults(facts: Facts) -> tuple[str, ...]:
    return tuple(f"{f.source}: {f.detail}" for f in facts.faults)


def _role(request: AccessRequest, rule: RoleRule) -> Outcome:
    quality = request.actor.quality
    if request.action not in rule.actions:
        text = f"quality {quality!r} may not {request.action}"
        return [Reason("role-rules", "action-not-allowed", text)], [], []
    if "*" not in rule.data_classes:
        refused = sorted(set(request.data_classes) - set(rule.data_classes))
        if refused:
            text = f"quality {quality!r} may not read {', '.join(refused)}"
            return [Reason("role-rules", "data-class-not-allowed", text)], [], []
    if request.action == "write-note" and not request.recipient_nihii:
        text = "a note needs its recipient (the patient's GP)"
        return [Reason("request", "missing-recipient", text)], [], []
    if request.action == "insurer-claim" and not request.recipient_cbe:
        text = "a claim for an insurer needs its recipient (the insurer's CBE)"
        return [Reason("request", "missing-recipient", text)], [], []
    return [], [Reason("role-rules", "allowed", f"quality {quality!r} may {request.action}")], []


def _break_the_glass(request: AccessRequest, config: ConsentSettings) -> Outcome:
    if not request.break_the_glass:
        return [], [], []
    denials: list[Reason] = []
    if request.action != "read-dossier":
        denials.append(Reason("break-the-glass", "btg-action", "only for reading a dossier"))
    if request.actor.quality not in config.break_glass_qualities:
        text = f"quality {request.actor.quality!r} may not break the glass"
        denials.append(Reason("break-the-glass", "btg-quality", text))
    length = len((request.justification or "").strip())
    if not JUSTIFICATION_MIN <= length <= JUSTIFICATION_MAX:
        text = f"justification must have {JUSTIFICATION_MIN} to {JUSTIFICATION_MAX} characters"
        denials.append(Reason("break-the-glass", "btg-justification", text))
    grant = Reason("break-the-glass", "btg-invoked", "emergency access, flagged for review")
    return denials, ([] if denials else [grant]), []


def _unreachable(request: AccessRequest, fault: Unavailable) -> Outcome:
    if request.break_the_glass:
        text = f"source unavailable ({fault.detail}); overridden by break-the-glass"
        return [], [Reason(fault.source, "source-unavailable-overridden", text)], []
    text = f"source unavailable, failing closed ({fault.detail})"
    return [Reason(fault.source, SOURCE_UNAVAILABLE, text)], [], []


def _national_consent(request: AccessRequest, facts: Facts) -> Outcome:
    if request.action != "read-dossier":
        return [], [], []
    consent = facts.national_consent
    if isinstance(consent, Unavailable):
        return _unreachable(request, consent)
    if consent is None or consent.patient_ssin != request.patient_ssin:
        text = "the patient has not given informed consent for sharing"
        return [Reason("national-consent", "no-national-consent", text)], [], []
    if consent.status != "active":
        text = "the patient revoked the informed consent for sharing"
        return [Reason("national-consent", "national-consent-revoked", text)], [], []
    ref = f"national-consent:{consent.consent_type}:{consent.signed or 'unknown'}"
    grant = Reason("national-consent", "national-consent-active", "informed consent active")
    return [], [grant], [ref]


def _exclusion(request: AccessRequest, facts: Facts) -> Outcome:
    if request.action != "read-dossier":
        return [], [], []
    exclusions = facts.exclusions
    if isinstance(exclusions, Unavailable):
        return _unreachable(request, exclusions)
    for exclusion in exclusions:
        if (exclusion.patient_ssin, exclusion.hcparty_nihii) == (
            request.patient_ssin,
            request.actor.nihii,
        ):
            text = "the patient excluded this care provider"
            return [Reason("exclusion", "actor-excluded", text)], [], []
    return [], [Reason("exclusion", "not-excluded", "no exclusion of this care provider")], []


def _link_active(
    link: TherapeuticLink, request: AccessRequest, config: ConsentSettings, today: date
) -> bool:
    return (
        link.patient_ssin == request.patient_ssin
        and link.hcparty_nihii == request.actor.nihii
        and link.link_type in config.accepted_link_types
        and link.start <= today
        and (link.end is None or today <= link.end)
    )


def _best_link(
    request: AccessRequest, facts: Facts, config: ConsentSettings, now: datetime
) -> TherapeuticLink | None:
    if isinstance(facts.links, Unavailable):
        return None
    today = now.date()
    matching = [link for link in facts.links if _link_active(link, request, config, today)]
    return max(matching, key=_end_of, default=None)


def _end_of(link: TherapeuticLink | None) -> datetime:
    if link is None or link.end is None:
        return datetime.max.replace(tzinfo=UTC)
    return datetime.combine(link.end + timedelta(days=1), time.min, tzinfo=UTC)


def _link(request: AccessRequest, facts: Facts, config: ConsentSettings, now: datetime) -> Outcome:
    if request.break_the_glass:
        return [], [], []
    if isinstance(facts.links, Unavailable):
        return _unreachable(request, facts.links)
    link = _best_link(request, facts, config, now)
    if link is None:
        text = "no therapeutic link of an accepted type between the care provider and patient"
        return [Reason("therapeutic-link", "no-active-link", text)], [], []
    text = f"active {link.link_type} link (proof {link.proof_type})"
    ref = f"therapeutic-link:{link.link_type}:{link.proof_type}:{link.start.isoformat()}"
    return [], [Reason("therapeutic-link", "link-active", text)], [ref]


def _covers(consent: ConsultationConsent, request: AccessRequest, now: datetime) -> bool:
    return (
        consent.status == "active"
        and consent.patient_ssin == request.patient_ssin
        and consent.actor_nihii == request.actor.nihii
        and request.action in consent.actions
        and request.purpose in consent.purposes
        and consent.start <= now < consent.end
    )


def _best_consultation(
    request: AccessRequest, facts: Facts, now: datetime
) -> ConsultationConsent | None:
    if isinstance(facts.consultation_consents, Unavailable):
        return None
    matching = [
        c
        for c in facts.consultation_consents
        if _covers(c, request, now) and _recipient_agreed(c, request)
    ]
    return max(matching, key=lambda c: c.end, default=None)


def _recipient_agreed(consent: ConsultationConsent, request: AccessRequest) -> bool:
    if request.action == "write-note":
        return request.recipient_nihii in consent.note_recipients
    if request.action == "insurer-claim":
        return request.recipient_cbe in consent.insurer_recipients
    return True


def _consultation(request: AccessRequest, facts: Facts, now: datetime) -> Outcome:
    if request.break_the_glass:
        return [], [], []
    consents = facts.consultation_consents
    if isinstance(consents, Unavailable):
        return _unreachable(request, consents)
    best = _best_consultation(request, facts, now)
    if best is not None:
        text = f"the patient agreed to {request.action} ({best.reference})"
        return [], [Reason("consultation-consent", "consent-given", text)], [best.reference]
    if request.action == "write-note" and any(_covers(c, request, now) for c in consents):
        text = "the patient did not agree that the note goes to this recipient"
        return [Reason("consultation-consent", "note-recipient-not-agreed", text)], [], []
    if request.action == "insurer-claim" and any(_covers(c, request, now) for c in consents):
        text = "the patient did not agree that this insurer receives the claim"
        return [Reason("consultation-consent", "insurer-not-agreed", text)], [], []
    text = f"no active consultation consent for {request.action} ({request.purpose}) now"
    return [Reason("consultation-consent", "no-consultation-consent", text)], [], []
