"""Console sign-in through the organisation's OpenID Connect provider (an in-process fake)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from ehealth_hub.api import create_app
from ehealth_hub.bootstrap import build_container
from tests.console._support import console_settings
from tests.fakes.oidc_provider import ISSUER, FakeProvider

CLIENT = "ehealth-hub-console"


@pytest.fixture
async def oidc_hub(
    tmp_path: Path, pki_dir: Path, sqlite_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, FakeProvider]]:
    provider = FakeProvider(CLIENT, "s3cret")
    settings = console_settings(
        tmp_path,
        pki_dir,
        sqlite_url,
        delivery={"in_process_worker": False},
        console={"oidc": {"issuer": ISSUER, "client_id": CLIENT, "client_secret": "s3cret"}},
    )
    container = await build_container(settings, migrate=True)
    app = create_app(settings, container=container)
    console_app = next(r.app for r in app.routes if getattr(r, "path", "") == "/console")
    assert isinstance(console_app, FastAPI)
    console_app.state.console.oidc.transport = httpx.ASGITransport(app=provider.app())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            yield client, provider
    await container.aclose()


async def _start(client: httpx.AsyncClient) -> dict[str, str]:
    answer = await client.get("/console/oidc/login")
    assert answer.status_code == 303
    target = urlsplit(answer.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{ISSUER}/auth"
    return {k: v[0] for k, v in parse_qs(target.query).items()}


async def test_the_sign_in_page_offers_the_provider_and_redirects_with_pkce_state_and_nonce(
    oidc_hub: tuple[httpx.AsyncClient, FakeProvider],
) -> None:
    client, _ = oidc_hub
    assert "/console/oidc/login" in (await client.get("/console/login")).text
    query = await _start(client)
    assert query["client_id"] == CLIENT
    assert query["redirect_uri"] == "http://127.0.0.1:8000/console/oidc/callback"
    assert query["response_type"] == "code"
    assert "openid" in query["scope"].split()
    assert query["code_challenge_method"] == "S256"
    assert query["state"]
    assert query["nonce"]


async def test_an_auditor_signs_in_with_the_provider(
    oidc_hub: tuple[httpx.AsyncClient, FakeProvider],
) -> None:
    client, provider = oidc_hub
    query = await _start(client)
    provider.grant(
        "c1",
        query["nonce"],
        query["code_challenge"],
        sub="u-17",
        preferred_username="els.peeters",
        roles=["ehealth-hub-auditor"],
    )
    back = await client.get(f"/console/oidc/callback?code=c1&state={query['state']}")
    assert back.status_code == 303, back.text
    assert back.headers["location"] == "/console/deliveries"
    page = await client.get("/console/audit")
    assert page.status_code == 200
    assert "els.peeters (auditor)" in page.text


async def test_a_callback_with_another_state_or_no_role_is_refused(
    oidc_hub: tuple[httpx.AsyncClient, FakeProvider],
) -> None:
    client, provider = oidc_hub
    query = await _start(client)
    provider.grant("c2", query["nonce"], query["code_challenge"], sub="u-1", roles=["x"])
    forged = await client.get("/console/oidc/callback?code=c2&state=forged")
    assert forged.status_code == 401
    roleless = await client.get(f"/console/oidc/callback?code=c2&state={query['state']}")
    assert roleless.status_code == 403
    assert (await client.get("/console/deliveries")).status_code == 303
