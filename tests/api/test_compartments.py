"""Each client sees the resources of its own compartment, and every read is audited
(issue 16, finding 1).

The hub holds deliveries of two practitioners (Sarah, a doctor; Koen, a psychologist) for several
patients: notes to the patients' GPs and claims to their mutualities. Every sandbox client kind
then reads every readable resource type, and what it sees is compared with the table below,
written by hand from the access rules (not derived from the code):

* the consultation app sees what its acting practitioner requested;
* the mutuality (CM, federation 100) sees the claims addressed to it;
* the GP software (practice of Jan and Marie) sees the notes addressed to its GPs;
* the operator sees every Task; the auditor reads consents and the audit trail, not Tasks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.auth_clients import SANDBOX_CLIENTS
from ehealth_hub.fixtures.consultation import consultation_note
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.settings import Settings
from tests.api.claims_hub import claims_hub, claims_hub_settings
from tests.api.conftest import access_token
from tests.consent._support import consent_resource
from tests.mycarenet.claims_data import app_claim, recently

AN, LUC, THOMAS = (sandbox.patient(k) for k in ("an", "luc", "thomas"))
SARAH, KOEN = sandbox.practitioner("sarah"), sandbox.practitioner("koen")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

# What each client sees, by hand. Deliveries: "note-an" (Sarah's note to An's GP Jan),
# "note-thomas" (Sarah's note to Thomas's GP Pieter), "psy-note-an" (Koen's note to Jan),
# "claim-an" (Sarah's claim to An's mutuality 134, federation 100, CM), "claim-luc" (Sarah's claim
# to Luc's mutuality 306, federation 300, Solidaris).
ALL_TASKS = {"note-an", "note-thomas", "psy-note-an", "claim-an", "claim-luc"}
TASKS_SEEN: dict[str, set[str] | None] = {  # None: the Task API refuses the client (403)
    "consult-app/sarah": {"note-an", "note-thomas", "claim-an", "claim-luc"},
    "consult-app/koen": {"psy-note-an"},
    "mutuality-cm": {"claim-an"},
    "gp-software": {"note-an", "psy-note-an"},
    "auditor": None,
    "operator": ALL_TASKS,
}
CONSENTS_SEEN: dict[str, set[str] | None] = {  # An's consents: one given to Sarah
    "consult-app/sarah": {"sarah"},
    "consult-app/koen": set(),
    "mutuality-cm": None,
    "gp-software": None,
    "auditor": {"sarah"},
    "operator": None,
}
AUDIT_TRAIL_READ = {"auditor"}


@pytest.fixture
def settings(tmp_path: Path, sandbox_pki: SandboxPki) -> Settings:
    return claims_hub_settings(tmp_path, sandbox_pki)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with claims_hub(settings) as (c, _):
        yield c


async def _headers(client: httpx.AsyncClient, settings: Settings, who: str) -> dict[str, str]:
    client_id, _, practitioner = who.partition("/")
    registered = next(c for c in SANDBOX_CLIENTS if c.client_id == client_id)
    nihii = sandbox.practitioner(practitioner).nihii if practitioner else None
    token = await access_token(client, settings, client_id, registered.scopes, nihii)
    return {"Authorization": f"Bearer {token}"}


async def _deliveries(client: httpx.AsyncClient, settings: Settings) -> dict[str, str]:
    """Post the notes and claims; their Task ids by label."""
    sarah = await _headers(client, settings, "consult-app/sarah")
    koen = await _headers(client, settings, "consult-app/koen")
    posts: dict[str, tuple[dict[str, str], str, dict[str, Any]]] = {
        "note-an": (sarah, "/fhir/DocumentReference", consultation_note(AN, SARAH, "a", now=NOW)),
        "note-thomas": (
            sarah,
            "/fhir/DocumentReference",
            consultation_note(THOMAS, SARAH, "b", now=NOW),
        ),
        "psy-note-an": (koen, "/fhir/DocumentReference", consultation_note(AN, KOEN, "c", now=NOW)),
        "claim-an": (sarah, "/fhir/Claim/$submit", app_claim("c-an", "an", serviced=recently())),
        "claim-luc": (sarah, "/fhir/Claim/$submit", app_claim("c-luc", "luc", serviced=recently())),
    }
    ids = {}
    for label, (headers, url, body) in posts.items():
        response = await client.post(url, json=body, headers=headers)
        assert response.status_code == 202, (label, response.text)
        ids[label] = response.json()["id"]
    consent = consent_resource(AN.ssin, SARAH.nihii, start=datetime.now(UTC) - timedelta(minutes=1))
    created = await client.post("/fhir/Consent", json=consent, headers=sarah)
    assert created.status_code == 201, created.text
    return ids


def _task_readers(events: list[dict[str, Any]]) -> list[str]:
    """The client of every ``task-read`` AuditEvent."""
    return [
        agent["who"]["identifier"]["value"]
        for event in events
        if event["subtype"][0]["code"] == "task-read"
        for agent in event["agent"]
        if agent["who"].get("identifier", {}).get("system", "").endswith("/client-id")
    ]


async def test_each_client_sees_exactly_its_compartment_and_every_task_read_is_audited(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    ids = await _deliveries(client, settings)
    label_of = {task_id: label for label, task_id in ids.items()}
    observed_tasks: dict[str, set[str] | None] = {}
    observed_consents: dict[str, set[str] | None] = {}
    audit_readers: set[str] = set()
    for who in TASKS_SEEN:
        headers = await _headers(client, settings, who)
        search = await client.get("/fhir/Task", params={"_count": 500}, headers=headers)
        reads = {
            label: await client.get(f"/fhir/Task/{i}", headers=headers) for label, i in ids.items()
        }
        if search.status_code == 403:
            assert {r.status_code for r in reads.values()} == {403}, who
            observed_tasks[who] = None
        else:
            found = {label_of[e["resource"]["id"]] for e in search.json().get("entry", [])}
            readable = {label for label, r in reads.items() if r.status_code == 200}
            assert {r.status_code for r in reads.values()} <= {200, 404}, who
            assert found == readable, who
            observed_tasks[who] = found
        consents = await client.get("/fhir/Consent", params={"patient": AN.ssin}, headers=headers)
        observed_consents[who] = (
            None
            if consents.status_code == 403
            else {
                sandbox.practitioner(
                    e["resource"]["provision"]["actor"][0]["reference"]["identifier"]["value"]
                ).key
                for e in consents.json().get("entry", [])
            }
        )
        trail = await client.get("/fhir/AuditEvent", params={"patient": AN.ssin}, headers=headers)
        if trail.status_code == 200:
            audit_readers.add(who)
        else:
            assert trail.status_code == 403, who
    assert observed_tasks == TASKS_SEEN
    assert observed_consents == CONSENTS_SEEN
    assert audit_readers == AUDIT_TRAIL_READ

    auditor = await _headers(client, settings, "auditor")
    trail = await client.get(
        "/fhir/AuditEvent", params={"patient": AN.ssin, "_count": 1000}, headers=auditor
    )
    readers = _task_readers([e["resource"] for e in trail.json()["entry"]])
    # An's Tasks: note-an, psy-note-an, claim-an; each shown once by search and once by read.
    expected = {
        "consult-app": 2 * 2 + 2 * 1,  # Sarah: note-an, claim-an; Koen: psy-note-an
        "mutuality-cm": 2 * 1,
        "gp-software": 2 * 2,
        "operator": 2 * 3,
    }
    assert {c: readers.count(c) for c in set(readers)} == expected


async def test_a_mutuality_client_cannot_read_a_claim_sent_to_another_mutuality(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    ids = await _deliveries(client, settings)
    cm = await _headers(client, settings, "mutuality-cm")
    assert (await client.get(f"/fhir/Task/{ids['claim-luc']}", headers=cm)).status_code == 404
    assert (await client.get(f"/fhir/Task/{ids['note-an']}", headers=cm)).status_code == 404
    own = await client.get(f"/fhir/Task/{ids['claim-an']}", headers=cm)
    assert own.status_code == 200
    assert own.json()["owner"]["identifier"]["value"] == "100"


# Notes and claims read back (issue 20), by hand from the same rules: the app sees what its
# practitioner sent; GP software the notes to its GPs; a mutuality the claims addressed to it;
# the KMEHR sent for a note (Binary) only its sender. None: the client has no scope (403).
NOTES_SEEN: dict[str, set[str] | None] = {
    "consult-app/sarah": {"note-an", "note-thomas"},
    "consult-app/koen": {"psy-note-an"},
    "mutuality-cm": None,
    "gp-software": {"note-an", "psy-note-an"},
    "auditor": None,
    "operator": None,
}
SENT_KMEHR_SEEN: dict[str, set[str] | None] = {
    **dict.fromkeys(NOTES_SEEN),
    "consult-app/sarah": {"note-an", "note-thomas"},
    "consult-app/koen": {"psy-note-an"},
}
CLAIMS_SEEN: dict[str, set[str] | None] = {
    "consult-app/sarah": {"claim-an", "claim-luc"},
    "consult-app/koen": set(),
    "mutuality-cm": {"claim-an"},
    "gp-software": None,
    "auditor": None,
    "operator": None,
}


async def _read_ids(
    client: httpx.AsyncClient, headers: dict[str, str], paths: dict[str, str], search: str
) -> set[str] | None:
    """The labels ``paths`` the client reads (and finds by searching ``search``), None on 403."""
    reads = {label: await client.get(path, headers=headers) for label, path in paths.items()}
    statuses = {r.status_code for r in reads.values()}
    found = await client.get(search, params={"_count": 100}, headers=headers)
    if statuses == {403}:
        assert found.status_code == 403
        return None
    assert statuses <= {200, 404}
    readable = {label for label, r in reads.items() if r.status_code == 200}
    by_id = {path.rsplit("/", 1)[1]: label for label, path in paths.items()}
    assert {by_id[e["resource"]["id"]] for e in found.json()["entry"]} == readable
    return readable


async def test_notes_and_claims_are_read_within_each_clients_compartment(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    ids = await _deliveries(client, settings)
    operator = await _headers(client, settings, "operator")
    tasks = {
        label: (await client.get(f"/fhir/Task/{i}", headers=operator)).json()
        for label, i in ids.items()
    }
    notes = {k: t["focus"]["reference"] for k, t in tasks.items() if k.startswith(("note", "psy"))}
    claims = {k: t["identifier"][0]["value"] for k, t in tasks.items() if k.startswith("claim")}
    observed: dict[str, dict[str, set[str] | None]] = {"notes": {}, "kmehr": {}, "claims": {}}
    for who in NOTES_SEEN:
        headers = await _headers(client, settings, who)
        observed["notes"][who] = await _read_ids(
            client, headers, {k: f"/fhir/{v}" for k, v in notes.items()}, "/fhir/DocumentReference"
        )
        kmehr = {
            k: await client.get(f"/fhir/Binary/{v.split('/')[1]}", headers=headers)
            for k, v in notes.items()
        }
        codes = {r.status_code for r in kmehr.values()}
        observed["kmehr"][who] = (
            None if codes == {403} else {k for k, r in kmehr.items() if r.status_code == 200}
        )
        observed["claims"][who] = await _read_ids(
            client, headers, {k: f"/fhir/Claim/{v}" for k, v in claims.items()}, "/fhir/Claim"
        )
    assert observed == {"notes": NOTES_SEEN, "kmehr": SENT_KMEHR_SEEN, "claims": CLAIMS_SEEN}
