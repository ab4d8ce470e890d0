"""Every API route that reads a dossier or writes a note goes through the gate.

The walk lists every route of the app (its OpenAPI paths): each is either gated (reads a dossier,
writes a note, bills) or known not to touch a dossier, so a new route must be classified here.
The gated routes are then called for a patient the gate refuses: 403 with the reasons, nothing
reaches a record source or the AddressBook, and the denial is in the audit trail.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from ehealth_hub.core.mycarenet_types import GmdFacts
from ehealth_hub.core.permit import Permit
from ehealth_hub.core.ports import Actor, ProviderEntry, TransactionRef
from ehealth_hub.fhir.profiles import SSIN_SYSTEM
from ehealth_hub.fixtures.consultation import consultation_note
from ehealth_hub.fixtures.sandbox import patient, practitioner
from ehealth_hub.services.gp import GpLookup
from ehealth_hub.services.notes import NotesService
from ehealth_hub.services.records import RecordsService
from ehealth_hub.settings import Settings
from ehealth_hub.store.tables import audit_events
from tests.consent.conftest import token

GATED = {
    ("get", "/fhir/Patient/$summary"),
    ("post", "/fhir/Patient/$summary"),
    ("get", "/fhir/Patient"),
    ("post", "/fhir/DocumentReference"),
    ("post", "/fhir/Claim/$submit"),
    ("post", "/fhir/CoverageEligibilityRequest/$submit"),
}
NOT_A_DOSSIER = {
    ("get", "/health/live"),
    ("get", "/health/ready"),
    ("get", "/metrics"),
    ("get", "/fhir/metadata"),
    ("post", "/auth/token"),
    ("get", "/fhir/.well-known/smart-configuration"),
    ("get", "/fhir/Task/{task_id}"),
    ("get", "/fhir/Task"),
    ("post", "/fhir/Task/{task_id}/$replay"),
    ("post", "/fhir/Task/$replay"),
    ("get", "/fhir/Consent"),
    ("post", "/fhir/Consent"),
    ("get", "/fhir/Consent/$explain"),
    ("get", "/fhir/Consent/{consent_id}"),
    ("put", "/fhir/Consent/{consent_id}"),
    ("delete", "/fhir/Consent/{consent_id}"),
    ("get", "/fhir/AuditEvent"),
    # what the client itself sent (a note, its KMEHR, a claim) and the answers it received,
    # read back within its compartment and audited: no dossier is read from a source
    ("get", "/fhir/DocumentReference"),
    ("get", "/fhir/DocumentReference/{note_id}"),
    ("get", "/fhir/Binary/{binary_id}"),
    ("get", "/fhir/Claim"),
    ("get", "/fhir/Claim/{claim_id}"),
    ("get", "/fhir/ClaimResponse"),
    ("get", "/fhir/ClaimResponse/{claim_id}"),
}


class Untouchable:
    """A record source and AddressBook that must never be reached when the gate says no."""

    name = "rsw"

    def __init__(self) -> None:
        self.touched: list[str] = []

    async def list_transactions(
        self, permit: Permit, actor: Actor, *, types: tuple[str, ...], since: Any = None
    ) -> list[TransactionRef]:
        self.touched.append("list_transactions")
        return []

    async def get_transaction(self, permit: Permit, actor: Actor, ref: TransactionRef) -> bytes:
        self.touched.append("get_transaction")
        return b""

    async def find_provider(self, nihii: str, actor: Actor) -> ProviderEntry:
        self.touched.append("find_provider")
        return ProviderEntry(nihii, "", "", "doctor")

    async def consult_gmd(self, actor: Actor, ssin: str, on: date) -> GmdFacts:
        self.touched.append("consult_gmd")
        return GmdFacts(ssin, on)


def test_every_route_is_classified_as_gated_or_not_reading_a_dossier(app: FastAPI) -> None:
    routes = {(m, path) for path, ops in app.openapi()["paths"].items() for m in ops}
    assert routes == GATED | NOT_A_DOSSIER


def wire(app: FastAPI) -> Untouchable:
    container = app.state.container
    downstream = Untouchable()
    app.state.container = replace(
        container,
        records=RecordsService(container.consent_gate, [downstream]),
        notes=NotesService(
            container.consent_gate, downstream, container.engine, audit=container.audit_log
        ),
        gps=GpLookup(container.consent_gate, downstream, downstream),
    )
    return downstream


async def denials(app: FastAPI) -> list[str]:
    async with app.state.container.engine.connect() as conn:
        rows = await conn.execute(select(audit_events.c.outcome, audit_events.c.action))
        return [outcome for outcome, action in rows if action == "decision"]


async def test_summary_is_refused_without_national_consent_before_any_source(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    downstream = wire(app)
    sarah = practitioner("sarah")
    headers = await token(client, settings, "consult-app", ("user/Patient.r",), sarah.nihii)
    sofie = patient("sofie")
    response = await client.get(
        "/fhir/Patient/$summary",
        params={"identifier": f"{SSIN_SYSTEM}|{sofie.ssin}"},
        headers=headers,
    )
    assert response.status_code == 403, response.text
    texts = [i["diagnostics"] for i in response.json()["issue"]]
    assert any(t.startswith("national-consent:") for t in texts)
    assert downstream.touched == []
    assert await denials(app) == ["deny"]


async def test_a_posted_summary_is_refused_like_the_get_before_any_source(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    downstream = wire(app)
    sarah = practitioner("sarah")
    headers = await token(client, settings, "consult-app", ("user/Patient.r",), sarah.nihii)
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "identifier",
                "valueIdentifier": {"system": SSIN_SYSTEM, "value": patient("sofie").ssin},
            }
        ],
    }
    response = await client.post("/fhir/Patient/$summary", json=parameters, headers=headers)
    assert response.status_code == 403, response.text
    texts = [i["diagnostics"] for i in response.json()["issue"]]
    assert any(t.startswith("national-consent:") for t in texts)
    assert downstream.touched == []
    assert await denials(app) == ["deny"]


async def test_the_gp_lookup_is_refused_without_national_consent_before_mycarenet(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    downstream = wire(app)
    sarah = practitioner("sarah")
    headers = await token(client, settings, "consult-app", ("user/Patient.r",), sarah.nihii)
    response = await client.get(
        "/fhir/Patient",
        params={"identifier": f"{SSIN_SYSTEM}|{patient('sofie').ssin}"},
        headers=headers,
    )
    assert response.status_code == 403, response.text
    assert downstream.touched == []
    assert await denials(app) == ["deny"]


async def test_note_is_refused_without_consultation_consent_before_any_downstream(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    downstream = wire(app)
    sarah = practitioner("sarah")
    headers = await token(
        client, settings, "consult-app", ("user/DocumentReference.c",), sarah.nihii
    )
    note = consultation_note(patient("an"), sarah, "Follow-up in a week.", now=datetime.now(UTC))
    response = await client.post(
        "/fhir/DocumentReference", json=note, headers={**headers, "Idempotency-Key": "k-1"}
    )
    assert response.status_code == 403, response.text
    texts = [i["diagnostics"] for i in response.json()["issue"]]
    assert any(t.startswith("consultation-consent:") for t in texts)
    assert downstream.touched == []
    assert await denials(app) == ["deny"]
