"""The psychologist as his own kind of provider, over HTTP against the sandbox hub: Koen's
``$summary`` of An leaves out the sections a clinical psychologist may not see and its
OperationOutcome says so (Sarah, a physician, gets them); his note goes to the GP only when the
consultation consent covers sharing with the GP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import consultation_consent, consultation_note
from tests.journeys.conftest import Hub

SARAH, KOEN = sandbox.practitioner("sarah"), sandbox.practitioner("koen")
AN = sandbox.patient("an")
CLINICAL = {"AllergyIntolerance", "Condition", "MedicationStatement", "Immunization"}


async def _summary(hub: Hub, who: sandbox.Practitioner) -> dict[str, Any]:
    app = hub.app("consult-app", who.nihii)
    consent = consultation_consent(AN, who, start=datetime.now(UTC))
    assert (await app.post("/fhir/Consent", consent)).status_code == 201
    answer = await app.summary(AN.ssin)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_a_psychologists_summary_leaves_out_what_he_may_not_see_and_says_so(
    hub: Hub,
) -> None:
    doctor = await _summary(hub, SARAH)
    kinds = {e["resource"]["resourceType"] for e in doctor["entry"]}
    assert {"Condition", "MedicationStatement"} <= kinds  # the control: a physician sees them
    psychologist = await _summary(hub, KOEN)
    resources = [e["resource"] for e in psychologist["entry"]]
    assert not CLINICAL & {r["resourceType"] for r in resources}
    titles = {s["title"] for s in resources[0]["section"]}
    assert not titles & {"Problems", "Medications", "Allergies and intolerances"}
    outcome = next(r for r in resources if r["resourceType"] == "OperationOutcome")
    withheld = {i["expression"][0] for i in outcome["issue"] if i["code"] == "suppressed"}
    assert {"Composition.section:problems", "Composition.section:medications"} <= withheld
    assert all(
        "clinical-psychologist" in i["diagnostics"]
        for i in outcome["issue"]
        if i["code"] == "suppressed"
    )


async def test_a_psychologists_note_goes_to_the_gp_only_when_the_consent_covers_it(
    hub: Hub,
) -> None:
    app = hub.app("consult-app", KOEN.nihii)
    now = datetime.now(UTC)
    reading_only = consultation_consent(AN, KOEN, start=now, actions=("read-dossier",))
    assert (await app.post("/fhir/Consent", reading_only)).status_code == 201
    note = consultation_note(AN, KOEN, "Session 1: anxiety, follow-up in two weeks.", now=now)
    refused = await app.post("/fhir/DocumentReference", note)
    assert refused.status_code == 403, refused.text
    sharing = consultation_consent(AN, KOEN, start=now, actions=("write-note",))
    assert (await app.post("/fhir/Consent", sharing)).status_code == 201
    accepted = await app.post("/fhir/DocumentReference", note)
    assert accepted.status_code == 202, accepted.text


async def test_a_psychologists_claim_with_a_gp_video_code_is_refused_before_sending(
    hub: Hub,
) -> None:
    from ehealth_hub.fixtures.consultation import teleconsultation_claim

    app = hub.app("consult-app", KOEN.nihii)
    now = datetime.now(UTC)
    assert (
        await app.post("/fhir/Consent", consultation_consent(AN, KOEN, start=now))
    ).status_code == 201
    simulators = hub.container.connectors.simulators if hub.container.connectors else None
    assert simulators is not None
    sent = len(simulators.mycarenet.genasync.received) + len(simulators.mycarenet.attest.received)
    claim = teleconsultation_claim(f"psy-{now:%H%M%S%f}", AN, KOEN, serviced=now.date().isoformat())
    refused = await app.post("/fhir/Claim/$submit", claim)
    assert refused.status_code == 422, refused.text
    assert refused.json()["issue"][0]["details"]["text"] == "billing.provider-type"
    after = len(simulators.mycarenet.genasync.received) + len(simulators.mycarenet.attest.received)
    assert after == sent
