"""An insurer can never read a dossier: every gated action, with every purpose, asked with an
insurer's identity is refused, even when every fact that would open the dossier to a care
provider holds for it (national consent, a link, a consent naming the insurer as recipient).
The same facts for the consulting doctor permit the insurer claim (the control)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ehealth_hub.consent.model import ACTIONS, PURPOSES, AccessRequest, ConsultationConsent, Facts
from ehealth_hub.consent.policy import decide
from ehealth_hub.core.ports import Actor, NationalConsent, TherapeuticLink
from ehealth_hub.settings import ConsentSettings

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
PATIENT = "88052012393"
DOCTOR = "11530231003"
GP = "23456776003"
AG_CBE = "0404494849"
INSURER_IDENTITIES = (
    Actor(AG_CBE, "insurer"),
    Actor(AG_CBE, "insurance_company"),
    Actor(AG_CBE, ""),
    Actor(DOCTOR, "insurer"),  # an insurer presenting a care provider's number: still its quality
)


def _facts(*nihiis: str) -> Facts:
    links = tuple(
        TherapeuticLink(PATIENT, n, "gpconsultation", "eid", NOW.date() - timedelta(days=1), None)
        for n in nihiis
    )
    consents = tuple(
        ConsultationConsent(
            consent_id=f"c-{n}",
            version=1,
            patient_ssin=PATIENT,
            actor_nihii=n,
            status="active",
            actions=frozenset(ACTIONS),
            purposes=frozenset(PURPOSES),
            start=NOW - timedelta(minutes=5),
            end=NOW + timedelta(days=30),
            note_recipients=frozenset({GP}),
            insurer_recipients=frozenset({AG_CBE}),
        )
        for n in nihiis
    )
    return Facts(NationalConsent(PATIENT, "active", date(2020, 1, 1)), links, (), consents)


def _request(actor: Actor, action: str, purpose: str) -> AccessRequest:
    return AccessRequest(
        PATIENT,
        actor,
        action,  # type: ignore[arg-type]  # walked over ACTIONS
        purpose=purpose,  # type: ignore[arg-type]  # walked over PURPOSES
        justification="patient unconscious, ER admission" if purpose == "emergency" else None,
        recipient_nihii=GP,
        recipient_cbe=AG_CBE,
    )


@pytest.mark.parametrize("actor", INSURER_IDENTITIES, ids=lambda a: f"{a.quality or 'none'}")
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("purpose", PURPOSES)
def test_an_insurer_identity_is_refused_every_gated_action(
    actor: Actor, action: str, purpose: str
) -> None:
    facts = _facts(actor.nihii)
    decision = decide(_request(actor, action, purpose), facts, ConsentSettings(), NOW)
    assert not decision.permitted, decision.reasons


def test_the_consulting_doctor_may_send_the_claim_to_the_insurer_the_patient_named() -> None:
    facts = _facts(DOCTOR)
    request = _request(Actor(DOCTOR, "doctor"), "insurer-claim", "insurance-claim")
    assert decide(request, facts, ConsentSettings(), NOW).permitted
    other = AccessRequest(
        PATIENT,
        Actor(DOCTOR, "doctor"),
        "insurer-claim",
        purpose="insurance-claim",
        recipient_cbe="0820563481",
    )
    assert decide(other, facts, ConsentSettings(), NOW).codes == {"insurer-not-agreed"}
