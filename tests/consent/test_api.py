"""The Consent API and the auditor's AuditEvent search, through real tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.parameters import Parameters

from ehealth_hub.consent.gate import ConsentGate
from ehealth_hub.fixtures.sandbox import patient, practitioner
from ehealth_hub.settings import Settings
from tests.consent._support import consent_resource
from tests.consent.conftest import token

SARAH = practitioner("sarah")
AN = patient("an")
CONSENT_SCOPES = ("user/Consent.cruds",)


def now() -> datetime:
    return datetime.now(UTC)


async def post(
    client: httpx.AsyncClient, headers: dict[str, str], **kwargs: object
) -> httpx.Response:
    body = consent_resource(AN.ssin, SARAH.nihii, start=now() - timedelta(minutes=1), **kwargs)  # type: ignore[arg-type]
    return await client.post("/fhir/Consent", json=body, headers=headers)


async def test_refuses_every_consent_route_without_a_token(client: httpx.AsyncClient) -> None:
    for method, path in (
        ("POST", "/fhir/Consent"),
        ("GET", f"/fhir/Consent?patient={AN.ssin}"),
        ("GET", "/fhir/Consent/x"),
        ("PUT", "/fhir/Consent/x"),
        ("DELETE", "/fhir/Consent/x"),
        (
            "GET",
            f"/fhir/Consent/$explain?patient={AN.ssin}&actor={SARAH.nihii}&action=read-dossier",
        ),
        ("GET", f"/fhir/AuditEvent?patient={AN.ssin}"),
    ):
        response = await client.request(method, path, json={})
        assert response.status_code == 401, (method, path)


async def test_records_a_consent_with_profile_version_and_etag(
    client: httpx.AsyncClient, sarah: dict[str, str]
) -> None:
    response = await post(client, sarah)
    assert response.status_code == 201, response.text
    consent = Consent.model_validate(response.json())
    assert consent.meta.versionId == "1"
    assert consent.meta.profile[0].endswith("/be-Consent")
    assert response.headers["etag"] == 'W/"1"'
    read = await client.get(response.headers["location"], headers=sarah)
    assert read.json() == response.json()


async def test_conditional_create_returns_the_existing_consent(
    client: httpx.AsyncClient, sarah: dict[str, str]
) -> None:
    first = await post(client, sarah, identifier="urn:uuid:consult-1")
    headers = {**sarah, "If-None-Exist": "identifier=urn:ietf:rfc:3986|urn:uuid:consult-1"}
    second = await post(client, headers, identifier="urn:uuid:consult-1")
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]


async def test_refuses_a_note_consent_without_the_gp_naming_the_field(
    client: httpx.AsyncClient, sarah: dict[str, str]
) -> None:
    response = await post(client, sarah, gp=None)
    assert response.status_code == 422, "well-formed, but not a valid be-Consent"
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Consent.provision.actor"]
    assert issue["details"]["coding"][0]["code"] == "note-recipient-required"


async def test_refuses_a_consent_recorded_for_another_practitioner(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    koen = await token(client, settings, "consult-app", CONSENT_SCOPES, practitioner("koen").nihii)
    assert (await post(client, koen)).status_code == 403


async def test_revocation_by_put_denies_the_very_next_request(
    client: httpx.AsyncClient, sarah: dict[str, str], app: FastAPI
) -> None:
    created = (await post(client, sarah)).json()
    explain = f"/fhir/Consent/$explain?patient={AN.ssin}&actor={SARAH.nihii}&action=read-dossier"
    gate: ConsentGate = app.state.container.consent_gate
    assert (await client.get(explain, headers=sarah)).json()["parameter"][0][
        "valueCode"
    ] == "permit"
    from ehealth_hub.consent.model import AccessRequest
    from ehealth_hub.core.ports import Actor

    request = AccessRequest(AN.ssin, Actor(SARAH.nihii, "doctor"), "read-dossier")
    await gate.authorize(request)  # cached now
    stale = {**sarah, "If-Match": 'W/"7"'}
    revoked_body = {**created, "status": "inactive"}
    assert (
        await client.put(f"/fhir/Consent/{created['id']}", json=revoked_body, headers=stale)
    ).status_code == 412
    headers = {**sarah, "If-Match": 'W/"1"'}
    response = await client.put(
        f"/fhir/Consent/{created['id']}", json=revoked_body, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["meta"]["versionId"] == "2"
    from ehealth_hub.core.errors import ConsentDenied

    with pytest.raises(ConsentDenied):
        await gate.authorize(request)


async def test_revocation_by_delete_keeps_the_consent_as_inactive(
    client: httpx.AsyncClient, sarah: dict[str, str]
) -> None:
    created = (await post(client, sarah)).json()
    response = await client.delete(f"/fhir/Consent/{created['id']}", headers=sarah)
    assert response.status_code == 200
    read = await client.get(f"/fhir/Consent/{created['id']}", headers=sarah)
    assert read.json()["status"] == "inactive"


async def test_search_by_patient_returns_a_searchset(
    client: httpx.AsyncClient, sarah: dict[str, str]
) -> None:
    await post(client, sarah)
    response = await client.get(
        "/fhir/Consent",
        params={
            "patient": f"https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin|{AN.ssin}"
        },
        headers=sarah,
    )
    bundle = Bundle.model_validate(response.json())
    assert bundle.total == 1


async def test_explain_names_the_deciding_source(
    client: httpx.AsyncClient, sarah: dict[str, str]
) -> None:
    nadia = patient("nadia")
    url = f"/fhir/Consent/$explain?patient={nadia.ssin}&actor={SARAH.nihii}&action=read-dossier"
    response = await client.get(url, headers=sarah)
    parameters = Parameters.model_validate(response.json())
    assert parameters.parameter[0].valueCode == "deny"
    reasons = [p for p in response.json()["parameter"] if p["name"] == "reason"]
    sources = {part["valueCode"] for r in reasons for part in r["part"] if part["name"] == "source"}
    assert {"therapeutic-link", "consultation-consent"} <= sources


async def test_auditor_sees_who_accessed_the_patient(
    client: httpx.AsyncClient, sarah: dict[str, str], auditor: dict[str, str]
) -> None:
    await post(client, sarah)
    response = await client.get(f"/fhir/AuditEvent?patient={AN.ssin}", headers=auditor)
    assert response.status_code == 200, response.text
    bundle = Bundle.model_validate(response.json())
    actions = [e["resource"]["subtype"][0]["code"] for e in response.json()["entry"]]
    assert "consent-create" in actions
    assert bundle.total == len(actions)
    assert (
        await client.get(f"/fhir/AuditEvent?patient={AN.ssin}", headers=sarah)
    ).status_code == 403


async def test_a_practitioner_sees_only_the_consents_given_to_them(
    client: httpx.AsyncClient, sarah: dict[str, str], settings: Settings
) -> None:
    created = (await post(client, sarah)).json()
    koen = await token(client, settings, "consult-app", CONSENT_SCOPES, practitioner("koen").nihii)
    search = await client.get("/fhir/Consent", params={"patient": AN.ssin}, headers=koen)
    assert search.json()["total"] == 0
    assert (await client.get(f"/fhir/Consent/{created['id']}", headers=koen)).status_code == 404
    auditor = await token(client, settings, "auditor", ("system/Consent.rs",))
    search = await client.get("/fhir/Consent", params={"patient": AN.ssin}, headers=auditor)
    assert search.json()["total"] == 1
