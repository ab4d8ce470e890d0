"""A sandbox client application speaking to the hub over HTTP, as a real client would.

Used by ``ehealth-hub demo``, the API benchmark and smoke tests: it gets access tokens with the
SMART backend-services flow (a client assertion signed with the sandbox client's key, posted to
``/auth/token``) and calls the FHIR endpoints with them. Sandbox only (the keys are public).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from ehealth_hub.auth.assertion import client_assertion, token_request
from ehealth_hub.auth.sandbox import SANDBOX_CLIENTS, client_key
from ehealth_hub.errors import AuthenticationError
from ehealth_hub.fhir.profiles import SSIN_SYSTEM

FHIR_JSON = "application/fhir+json"


@dataclass
class SandboxApp:
    """One registered client of the hub (``client_id``), optionally acting for a practitioner."""

    http: httpx.AsyncClient
    client_id: str
    token_endpoint: str
    practitioner: str | None = None
    _token: str | None = None

    async def token(self, *scopes: str) -> str:
        """A fresh access token for ``scopes`` (default: every scope of the client)."""
        wanted = scopes or next(c.scopes for c in SANDBOX_CLIENTS if c.client_id == self.client_id)
        assertion = client_assertion(
            self.client_id, client_key(self.client_id), self.token_endpoint
        )
        response = await self.http.post(
            "/auth/token", data=token_request(assertion, wanted, self.practitioner)
        )
        if response.status_code != 200:
            raise AuthenticationError(f"token refused: {response.text}", system="sandbox-app")
        token: str = response.json()["access_token"]
        self._token = token
        return token

    async def headers(self) -> dict[str, str]:
        """Authorization and content headers (a token is fetched on first use)."""
        token = self._token or await self.token()
        return {"Authorization": f"Bearer {token}", "Accept": FHIR_JSON, "Content-Type": FHIR_JSON}

    async def get(self, path: str, **params: str) -> httpx.Response:
        """GET a FHIR path."""
        return await self.http.get(path, params=params, headers=await self.headers())

    async def post(self, path: str, resource: dict[str, Any]) -> httpx.Response:
        """POST a FHIR resource."""
        return await self.http.post(path, json=resource, headers=await self.headers())

    async def summary(self, ssin: str) -> httpx.Response:
        """``GET /fhir/Patient/$summary`` for the patient with this SSIN."""
        return await self.get("/fhir/Patient/$summary", identifier=f"{SSIN_SYSTEM}|{ssin}")

    async def wait_task(self, location: str, *, patience: float = 20.0) -> dict[str, Any]:
        """Poll a Task until it is completed or failed (or ``patience`` seconds pass)."""
        deadline = asyncio.get_running_loop().time() + patience
        while True:
            task: dict[str, Any] = (await self.get(location)).json()
            if task.get("status") in ("completed", "failed", "cancelled"):
                return task
            if asyncio.get_running_loop().time() > deadline:
                return task
            await asyncio.sleep(0.1)
