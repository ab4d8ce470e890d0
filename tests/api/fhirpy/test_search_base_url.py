"""The base URL clients see: a hub on a port other than 8000 announces its own in SMART
discovery, the CapabilityStatement, the token audience and fullUrls; a configured public base URL
(behind a proxy) wins. And the CapabilityStatement lists exactly the searches that work, and
each versioning and conditional flag it declares is what the server does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from ehealth_hub.auth.assertion import client_assertion, token_request
from ehealth_hub.core.errors import ConfigurationError
from ehealth_hub.fhir.outcome import RULE_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.auth_clients import client_key
from ehealth_hub.fixtures.consultation import consultation_consent
from ehealth_hub.services.claims_store import ClaimRow, insert_claim, set_status
from ehealth_hub.services.notes_store import NoteRow, insert_note
from ehealth_hub.settings import load_settings
from tests.api.fhirpy.conftest import NOW, Hub, hub_settings, seed_task, serving

SARAH, AN = sandbox.practitioner("sarah"), sandbox.patient("an")
JAN = sandbox.practitioner(AN.gp)
PROXY = "https://hub.example.be"


async def _token(http: httpx.AsyncClient, audience: str) -> httpx.Response:
    assertion = client_assertion("auditor", client_key("auditor"), audience)
    return await http.post("/auth/token", data=token_request(assertion, ["system/Consent.rs"]))


def _rules(response: httpx.Response) -> set[str]:
    if response.headers.get("content-type", "").startswith("application/fhir+json"):
        body: dict[str, Any] = response.json()
        if body.get("resourceType") == "OperationOutcome":
            return {
                c["code"]
                for i in body["issue"]
                for c in i.get("details", {}).get("coding", [])
                if c["system"] == RULE_SYSTEM
            }
    return set()


async def test_a_hub_on_another_port_announces_that_port_and_accepts_its_audience(
    hub: Hub,
) -> None:
    assert not hub.url.endswith(":8000")
    smart = (await hub.http.get("/fhir/.well-known/smart-configuration")).json()
    assert smart["token_endpoint"] == f"{hub.url}/auth/token"
    statement = (await hub.http.get("/fhir/metadata")).json()
    assert statement["implementation"]["url"] == f"{hub.url}/fhir"
    oauth = statement["rest"][0]["security"]["extension"][0]["extension"][0]
    assert oauth["valueUri"] == f"{hub.url}/auth/token"
    assert (await _token(hub.http, f"{hub.url}/auth/token")).status_code == 200
    elsewhere = await _token(hub.http, "http://127.0.0.1:8000/auth/token")
    assert elsewhere.status_code == 401
    assert "audience" in elsewhere.json()["error_description"]
    token = await hub.token("consult-app", SARAH.nihii)  # for this port, used on this port
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    consent = consultation_consent(AN, SARAH, start=NOW)
    created = await hub.http.post("/fhir/Consent", json=consent, headers=headers)
    consent_id = created.json()["id"]
    assert created.headers["location"] == f"{hub.url}/fhir/Consent/{consent_id}"
    found = await hub.http.get(f"/fhir/Consent?patient={AN.ssin}", headers=headers)
    assert found.json()["entry"][0]["fullUrl"] == f"{hub.url}/fhir/Consent/{consent_id}"
    other_host = {**headers, "Host": "localhost:8000"}  # the token's audience is this URL only
    refused = await hub.http.get(f"/fhir/Consent?patient={AN.ssin}", headers=other_host)
    assert refused.status_code == 401


async def test_a_configured_public_base_url_wins(database_url: str, tmp_path: Path) -> None:
    settings = hub_settings(database_url, tmp_path, api={"public_base_url": PROXY})
    async with serving(settings) as hub:
        smart = (await hub.http.get("/fhir/.well-known/smart-configuration")).json()
        assert smart["token_endpoint"] == f"{PROXY}/auth/token"
        assert (await _token(hub.http, f"{hub.url}/auth/token")).status_code == 401
        granted = await _token(hub.http, f"{PROXY}/auth/token")
        assert granted.status_code == 200
        headers = {"Authorization": f"Bearer {granted.json()['access_token']}"}
        response = await hub.http.get(f"/fhir/Consent?patient={AN.ssin}", headers=headers)
        assert response.status_code == 200
        self_link = response.json()["link"][0]["url"]
        assert self_link.startswith(f"{PROXY}/fhir/Consent?")


SAMPLES = {"date": "ge2020-01-01", "reference": "x|y", "string": "x", "uri": "urn:x"}
TOKENS = {"status": "requested", "outcome": "0", "subtype": "read-dossier"}
REQUIRED = {
    "Consent": {"patient": AN.ssin},
    "Patient": {"identifier": AN.ssin},
}
CLIENTS = {"Consent": "auditor", "AuditEvent": "auditor", "Task": "operator"}


def _sample(name: str, kind: str) -> str:
    if name == "patient":
        return AN.ssin
    return TOKENS.get(name, "x") if kind == "token" else SAMPLES.get(kind, "1")


@pytest.mark.parametrize("resource", sorted(CLIENTS))
async def test_the_capability_statement_lists_exactly_what_each_search_accepts(
    hub: Hub, resource: str
) -> None:
    statement = (await hub.http.get("/fhir/metadata")).json()
    entry = next(r for r in statement["rest"][0]["resource"] if r["type"] == resource)
    assert "search-type" in {i["code"] for i in entry["interaction"]}
    token = await hub.token(CLIENTS[resource])
    headers = {"Authorization": f"Bearer {token}"}
    base = REQUIRED.get(resource, {})
    for param in entry["searchParam"]:
        name, kind = param["name"], param["type"]
        value = param["documentation"].split("one of ", 1)[-1].split(",")[0]
        value = value if name == "_sort" else _sample(name, kind)
        response = await hub.http.get(
            f"/fhir/{resource}", params={**base, name: value}, headers=headers
        )
        assert response.status_code == 200, (name, response.text)
    for undeclared in ("colour", "_revinclude", "_elements", "status:not"):
        response = await hub.http.get(
            f"/fhir/{resource}", params={**base, undeclared: "x"}, headers=headers
        )
        assert response.status_code == 400
        assert _rules(response) == {"search.unknown-parameter"}


async def _readable(hub: Hub) -> dict[str, str]:
    """One instance of each versioned resource, Sarah's (or sent by her): type -> id."""
    app = await hub.fhir("consult-app", SARAH.nihii)
    consent = await app.resource("Consent", **consultation_consent(AN, SARAH, start=NOW)).save()
    task = await seed_task(
        hub, patient=AN.ssin, requester=SARAH.nihii, owner=JAN.nihii, focus="x/1", at=NOW
    )
    note = {"resourceType": "DocumentReference", "status": "current"}
    row = NoteRow("n-1", task, AN.ssin, SARAH.nihii, "consult-app", JAN.nihii, note, b"<k/>", NOW)
    claim = ClaimRow(
        "m-1", f"{SARAH.nihii}|c-1", "d", "attest", "100", SARAH.nihii, "queued", 0, None, None,
        None, NOW, NOW, AN.ssin, {"resourceType": "Claim", "status": "active"},
    )  # fmt: skip
    engine = hub.container.engine
    async with engine.begin() as conn:
        await insert_note(conn, row)
        await insert_claim(conn, claim)
    answer = {"resourceType": "ClaimResponse", "outcome": "complete"}
    await set_status(engine, "m-1", "accepted", now=NOW, claim_response=answer)
    return {
        "Consent": str(consent.id),
        "Task": task,
        "DocumentReference": "n-1",
        "Binary": "n-1",
        "Claim": "m-1",
        "ClaimResponse": "m-1",
    }


async def test_the_capability_statement_declares_exactly_the_versioning_that_works(
    hub: Hub,
) -> None:
    statement = (await hub.http.get("/fhir/metadata")).json()
    versioned = {r["type"]: r for r in statement["rest"][0]["resource"] if "versioning" in r}
    ids = await _readable(hub)
    assert set(versioned) == set(ids)
    auth = {"Authorization": f"Bearer {await hub.token('consult-app', SARAH.nihii)}"}
    for kind, entry in versioned.items():
        url = f"/fhir/{kind}/{ids[kind]}"
        read = await hub.http.get(url, headers=auth)
        assert read.status_code == 200, (kind, read.text)
        assert read.headers["etag"] == f'W/"{read.json()["meta"]["versionId"]}"', kind
        assert entry["conditionalRead"] == "full-support"  # If-None-Match and If-Modified-Since
        for header, value in (("If-None-Match", "etag"), ("If-Modified-Since", "last-modified")):
            held = await hub.http.get(url, headers={**auth, header: read.headers[value]})
            assert held.status_code == 304, (kind, header)
        assert entry["readHistory"] is False
        assert (await hub.http.get(f"{url}/_history", headers=auth)).status_code in (404, 405)
        stale = {**auth, "If-Match": 'W/"99"'}
        if entry["versioning"] == "versioned-update":  # If-Match is honoured
            revoked = {**read.json(), "status": "inactive"}
            assert (await hub.http.put(url, json=revoked, headers=stale)).status_code == 412, kind
        else:
            assert entry["versioning"] == "versioned"
            assert (await hub.http.put(url, json=read.json(), headers=stale)).status_code == 405
    consent = versioned["Consent"]
    assert consent["conditionalCreate"] is True  # If-None-Exist answers the existing one
    body = consultation_consent(AN, SARAH, start=NOW)
    found = await hub.http.post(
        "/fhir/Consent", json=body, headers={**auth, "If-None-Exist": f"patient={AN.ssin}"}
    )
    assert (found.status_code, found.json()["id"]) == (200, ids["Consent"])
    assert versioned["DocumentReference"]["conditionalCreate"] is False
    assert (consent["conditionalUpdate"], consent["updateCreate"]) == (False, False)
    assert consent["conditionalDelete"] == "not-supported"
    criteria = {"patient": AN.ssin}
    assert (
        await hub.http.put("/fhir/Consent", params=criteria, json=body, headers=auth)
    ).status_code == 405
    assert (
        await hub.http.delete("/fhir/Consent", params=criteria, headers=auth)
    ).status_code == 405
    revoked = {**body, "status": "inactive"}  # the one update there is
    unknown = await hub.http.put("/fhir/Consent/never-created", json=revoked, headers=auth)
    assert unknown.status_code == 404  # no update as create


def test_outside_the_sandbox_the_public_base_url_must_be_configured() -> None:
    with pytest.raises(ConfigurationError) as refused:  # no Host header chooses the audience
        load_settings(env="production", database_url="postgresql://db/hub")
    assert "api.public_base_url" in refused.value.detail
