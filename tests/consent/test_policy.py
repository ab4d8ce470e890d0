"""The policy over every combination of facts, checked against an oracle written from the rules.

Facts are built from labels (``"revoked"``, ``"wrong-type"``, ...); the oracle reads only the
labels and the rule table of the issue, never the policy's code, so a divergence in either shows.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ehealth_hub.consent.model import (
    AccessRequest,
    ConsultationConsent,
    Facts,
    Unavailable,
)
from ehealth_hub.consent.policy import decide
from ehealth_hub.core.ports import Actor, Exclusion, NationalConsent, TherapeuticLink
from ehealth_hub.settings import ConsentSettings

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
TODAY = NOW.date()
PATIENT = "85031212362"
OTHER_PATIENT = "90070104521"
ACTOR = "11530231003"
OTHER_ACTOR = "23456776003"
GP = "34567830003"
OTHER_GP = "45678981003"
CONFIG = ConsentSettings()

NATIONAL = ("unavailable", "none", "active", "revoked", "other-patient")
LINKS = ("unavailable", "none", "active", "wrong-type", "expired", "other-actor", "future")
EXCLUSIONS = ("unavailable", "none", "actor", "other")
CONSULT = (
    "unavailable",
    "none",
    "all-to-gp",
    "read-only",
    "expired",
    "inactive",
    "other-actor",
    "emergency-only",
    "all-to-other-gp",
)
QUALITIES = ("doctor", "clinical_psychologist", "nurse", "physiotherapist")
JUSTIFICATIONS = (None, "too short", "patient unconscious, ER admission", "x" * 201)


def national_fact(label: str) -> NationalConsent | Unavailable | None:
    return {
        "unavailable": Unavailable("national-consent", "timeout"),
        "none": None,
        "active": NationalConsent(PATIENT, "active", date(2020, 1, 1)),
        "revoked": NationalConsent(PATIENT, "revoked", date(2020, 1, 1), date(2025, 1, 1)),
        "other-patient": NationalConsent(OTHER_PATIENT, "active", date(2020, 1, 1)),
    }[label]


def link_fact(label: str) -> tuple[TherapeuticLink, ...] | Unavailable:
    start = date(2025, 1, 1)
    return {
        "unavailable": Unavailable("therapeutic-link", "fault"),
        "none": (),
        "active": (TherapeuticLink(PATIENT, ACTOR, "gpconsultation", "eidreading", start, TODAY),),
        "wrong-type": (TherapeuticLink(PATIENT, ACTOR, "pharmacy", "eidreading", start),),
        "expired": (
            TherapeuticLink(
                PATIENT, ACTOR, "gpconsultation", "eidreading", start, date(2026, 1, 1)
            ),
        ),
        "other-actor": (TherapeuticLink(PATIENT, OTHER_ACTOR, "gpconsultation", "isi", start),),
        "future": (
            TherapeuticLink(PATIENT, ACTOR, "gpconsultation", "eidreading", date(2027, 1, 1)),
        ),
    }[label]


def exclusion_fact(label: str) -> tuple[Exclusion, ...] | Unavailable:
    return {
        "unavailable": Unavailable("exclusion", "fault"),
        "none": (),
        "actor": (Exclusion(PATIENT, ACTOR),),
        "other": (Exclusion(PATIENT, OTHER_ACTOR),),
    }[label]


def consult(**overrides: object) -> ConsultationConsent:
    values: dict[str, object] = {
        "consent_id": "c1",
        "version": 1,
        "patient_ssin": PATIENT,
        "actor_nihii": ACTOR,
        "status": "active",
        "actions": frozenset({"read-dossier", "write-note", "submit-claim"}),
        "purposes": frozenset({"treatment"}),
        "start": NOW - timedelta(minutes=10),
        "end": NOW + timedelta(minutes=50),
        "note_recipients": frozenset({GP}),
    }
    values.update(overrides)
    return ConsultationConsent(**values)  # type: ignore[arg-type]


def consult_fact(label: str) -> tuple[ConsultationConsent, ...] | Unavailable:
    if label == "unavailable":
        return Unavailable("consultation-consent", "database down")
    return {
        "none": (),
        "all-to-gp": (consult(),),
        "read-only": (consult(actions=frozenset({"read-dossier"})),),
        "expired": (consult(end=NOW - timedelta(minutes=1)),),
        "inactive": (consult(status="inactive"),),
        "other-actor": (consult(actor_nihii=OTHER_ACTOR),),
        "emergency-only": (consult(purposes=frozenset({"emergency"})),),
        "all-to-other-gp": (consult(note_recipients=frozenset({OTHER_GP})),),
    }[label]


@dataclass(frozen=True)
class Case:
    action: str
    purpose: str
    quality: str
    classes: tuple[str, ...]
    justification: str | None
    recipient: str | None
    national: str
    links: str
    exclusions: str
    consult: str

    def request(self) -> AccessRequest:
        return AccessRequest(
            PATIENT,
            Actor(ACTOR, self.quality),
            self.action,  # type: ignore[arg-type]
            self.purpose,  # type: ignore[arg-type]
            self.classes,
            self.justification,
            self.recipient,
        )

    def facts(self) -> Facts:
        return Facts(
            national_fact(self.national),
            link_fact(self.links),
            exclusion_fact(self.exclusions),
            consult_fact(self.consult),
        )


def read_with_every_fact(quality: str = "doctor", classes: tuple[str, ...] = ()) -> Case:
    """A treatment read with national consent, a link, no exclusion and a consultation consent."""
    return Case(
        "read-dossier",
        "treatment",
        quality,
        classes,
        None,
        None,
        "active",
        "active",
        "none",
        "all-to-gp",
    )


# ------------------------------------------------------------------------------------ oracle

ROLE_TABLE = {
    "doctor": ({"read-dossier", "write-note", "submit-claim"}, None),
    "clinical_psychologist": (
        {"read-dossier", "write-note", "submit-claim"},
        {"summary", "medication", "allergies"},
    ),
    "nurse": ({"read-dossier"}, {"medication", "vaccination", "allergies"}),
}
NEEDS = {
    "read-dossier": ("national", "exclusion", "link", "consult"),
    "write-note": ("link", "consult"),
    "submit-claim": ("link", "consult"),
}
UNAVAILABLE_SOURCE = {
    "national": "national-consent",
    "exclusion": "exclusion",
    "link": "therapeutic-link",
    "consult": "consultation-consent",
}


def oracle(case: Case) -> tuple[str, set[str]]:
    """(effect, reason codes of the denials) as the issue's rules say."""
    if case.quality not in ROLE_TABLE:
        return "not-applicable", {"quality-not-covered"}
    actions, classes = ROLE_TABLE[case.quality]
    denied: set[str] = set()
    if case.action not in actions:
        denied.add("action-not-allowed")
    elif classes is not None and not set(case.classes) <= classes:
        denied.add("data-class-not-allowed")
    elif case.action == "write-note" and case.recipient is None:
        denied.add("missing-recipient")
    emergency = case.purpose == "emergency"
    if emergency:
        if case.action != "read-dossier":
            denied.add("btg-action")
        if case.quality != "doctor":
            denied.add("btg-quality")
        if not 10 <= len((case.justification or "").strip()) <= 200:
            denied.add("btg-justification")
    for need in NEEDS[case.action]:
        if emergency and need in ("link", "consult"):
            continue
        label = getattr(
            case,
            {"national": "national", "exclusion": "exclusions"}.get(need, need)
            if need != "link"
            else "links",
        )
        if label == "unavailable":
            if not emergency:
                denied.add("source-unavailable")
            continue
        denied |= _fact_denials(need, label, case)
    return ("deny" if denied else "permit"), denied


def _fact_denials(need: str, label: str, case: Case) -> set[str]:
    if need == "national":
        return {
            "none": {"no-national-consent"},
            "other-patient": {"no-national-consent"},
            "revoked": {"national-consent-revoked"},
        }.get(label, set())
    if need == "exclusion":
        return {"actor-excluded"} if label == "actor" else set()
    if need == "link":
        return set() if label == "active" else {"no-active-link"}
    covers = label in ("all-to-gp", "all-to-other-gp") or (
        label == "read-only" and case.action == "read-dossier"
    )
    if not covers:
        return {"no-consultation-consent"}
    if case.action == "write-note":
        agreed = GP if label == "all-to-gp" else OTHER_GP
        if case.recipient != agreed:
            return {"note-recipient-not-agreed"}
    return set()


def check(case: Case) -> None:
    decision = decide(case.request(), case.facts(), CONFIG, NOW)
    effect, codes = oracle(case)
    assert decision.effect == effect, (case, decision.reasons)
    if effect != "permit":
        assert decision.codes == codes, (case, decision.reasons)
        assert decision.valid_until is None
        return
    assert decision.valid_until is not None
    if case.purpose == "emergency":
        assert decision.break_the_glass
        assert "review-break-the-glass" in decision.obligations
        assert decision.valid_until == NOW + timedelta(seconds=CONFIG.break_glass_validity_seconds)
    else:
        assert decision.valid_until <= NOW + timedelta(seconds=CONFIG.permit_validity_seconds)
        assert decision.valid_until <= consult().end
        assert any(
            ref.startswith("therapeutic-link:gpconsultation:eidreading")
            for ref in decision.rests_on
        )
        assert "Consent/c1/_history/1" in decision.rests_on


CASES = st.builds(
    Case,
    action=st.sampled_from(("read-dossier", "write-note", "submit-claim")),
    purpose=st.sampled_from(("treatment", "emergency")),
    quality=st.sampled_from(QUALITIES),
    classes=st.sampled_from(((), ("summary",), ("lab-results",), ("medication", "summary"))),
    justification=st.sampled_from(JUSTIFICATIONS),
    recipient=st.sampled_from((None, GP, OTHER_GP)),
    national=st.sampled_from(NATIONAL),
    links=st.sampled_from(LINKS),
    exclusions=st.sampled_from(EXCLUSIONS),
    consult=st.sampled_from(CONSULT),
)


@settings(max_examples=3000, deadline=None)
@given(CASES)
def test_decision_matches_the_oracle_for_any_request_and_facts(case: Case) -> None:
    check(case)


@pytest.mark.parametrize(
    ("action", "purpose", "quality", "recipient", "justification"),
    [
        ("read-dossier", "treatment", "doctor", None, None),
        ("read-dossier", "emergency", "doctor", None, "patient unconscious, ER admission"),
        ("read-dossier", "treatment", "clinical_psychologist", None, None),
        ("write-note", "treatment", "doctor", GP, None),
        ("submit-claim", "treatment", "doctor", None, None),
    ],
)
def test_decision_matches_the_oracle_over_every_combination_of_facts(
    action: str, purpose: str, quality: str, recipient: str | None, justification: str | None
) -> None:
    for national, links, exclusions, consult_label in itertools.product(
        NATIONAL, LINKS, EXCLUSIONS, CONSULT
    ):
        check(
            Case(
                action,
                purpose,
                quality,
                (),
                justification,
                recipient,
                national,
                links,
                exclusions,
                consult_label,
            )
        )


def test_permits_read_with_every_fact_in_place_and_names_each_source() -> None:
    case = read_with_every_fact()
    decision = decide(case.request(), case.facts(), CONFIG, NOW)
    assert decision.permitted
    sources = {r.source for r in decision.reasons}
    assert {"national-consent", "therapeutic-link", "exclusion", "consultation-consent"} <= sources


def test_permit_never_outlives_the_link_it_rests_on() -> None:
    late = NOW.replace(hour=23, minute=58)
    case = read_with_every_fact()
    request = case.request()
    facts = Facts(
        national_fact("active"),
        link_fact("active"),
        (),
        (consult(end=late + timedelta(hours=5), start=late - timedelta(hours=1)),),
    )
    decision = decide(request, facts, CONFIG, late)
    link_end = datetime.combine(TODAY + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    assert decision.valid_until == link_end


def test_psychologist_is_restricted_to_configured_data_classes() -> None:
    case = read_with_every_fact("clinical_psychologist")
    decision = decide(case.request(), case.facts(), CONFIG, NOW)
    assert decision.permitted
    assert set(decision.data_classes) == {"summary", "medication", "allergies"}
    assert "restrict-data-classes" in decision.obligations


def test_role_rules_come_from_configuration() -> None:
    config = ConsentSettings(
        role_rules={"physiotherapist": {"actions": ["read-dossier"], "data_classes": ["summary"]}}
    )
    case = read_with_every_fact("physiotherapist", ("summary",))
    assert decide(case.request(), case.facts(), config, NOW).permitted
    assert decide(case.request(), case.facts(), CONFIG, NOW).effect == "not-applicable"
