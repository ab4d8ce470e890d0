"""The base URL clients see: a hub on a port other than 8000 announces its own in SMART
discovery, the CapabilityStatement, the token audience and fullUrls; a configured public base URL
(behind a proxy) wins. And the CapabilityStatement lists exactly the searches that work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from ehealth_hub.auth.assertion import client_assertion, token_request
from ehealth_hub.fhir.outcome import RULE_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.auth_clients import client_key
from ehealth_hub.fixtures.consultation import consultation_consent
from tests.api.fhirpy.conftest import NOW, Hub, hub_settings, serving

SARAH, AN = sandbox.practitioner("sarah"), sandbox.patient("an")
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
