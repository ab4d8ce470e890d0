"""What each kind of client may and may not do, with the scopes it is registered for.

A cell is "allowed" when the hub does not refuse the request for authentication or scope (401/403
with ``insufficient_scope``); it may still answer 400/404 for the (empty) request itself.
"""

from __future__ import annotations

import httpx
import pytest

from ehealth_hub.fhir.profiles import SSIN_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.auth_clients import SANDBOX_CLIENTS
from tests.api.conftest import TokenFactory

AN = sandbox.patient("an").ssin
REQUESTS = {
    "summary": ("GET", f"/fhir/Patient/$summary?identifier={SSIN_SYSTEM}|{AN}"),
    "note": ("POST", "/fhir/DocumentReference"),
    "consent-write": ("POST", "/fhir/Consent"),
    "consent-read": ("GET", f"/fhir/Consent?patient={AN}"),
    "claim": ("POST", "/fhir/Claim/$submit"),
    "task-read": ("GET", "/fhir/Task/unknown"),
    "task-replay": ("POST", "/fhir/Task/unknown/$replay"),
    "audit-read": ("GET", f"/fhir/AuditEvent?patient={AN}"),
}
MAY: dict[str, set[str]] = {
    "consult-app": {"summary", "note", "consent-write", "consent-read", "claim", "task-read"},
    "mutuality-cm": {"task-read"},
    "gp-software": {"task-read"},
    "auditor": {"consent-read", "audit-read"},
    "operator": {"task-read", "task-replay"},
}


def _refused_for_scope(response: httpx.Response) -> bool:
    if response.status_code == 401:
        return True
    if response.status_code != 403:
        return False
    codes = {
        c.get("code")
        for i in response.json().get("issue", [])
        for c in (i.get("details") or {}).get("coding", [])
    }
    return "insufficient_scope" in codes or "practitioner-required" in codes


@pytest.mark.parametrize("client_id", sorted(MAY))
async def test_each_client_kind_may_do_exactly_what_its_scopes_allow(
    client: httpx.AsyncClient, token_for: TokenFactory, client_id: str
) -> None:
    registered = next(c for c in SANDBOX_CLIENTS if c.client_id == client_id)
    practitioner = (
        sandbox.practitioner("sarah").nihii if registered.may_act_for_practitioners else None
    )
    token = await token_for(client_id, *registered.scopes, practitioner=practitioner)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    observed = set()
    for name, (method, url) in REQUESTS.items():
        body = b"{}" if method in ("POST", "PUT") else None
        response = await client.request(method, url, headers=headers, content=body)
        if not _refused_for_scope(response):
            observed.add(name)
    assert observed == MAY[client_id]
