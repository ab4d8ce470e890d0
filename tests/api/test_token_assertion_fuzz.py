"""Malformed client assertions never make the token endpoint fail (issue 16, finding 8).

A client registered with an EC P-256, an EC P-384, an RSA and an Ed25519 key sends assertions whose
header names every algorithm against every kid, with garbage or genuine signatures and hostile
claims: the answer is always an OAuth error (400/401), never a 5xx.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from fastapi import FastAPI

from ehealth_hub.api import create_app
from ehealth_hub.auth.assertion import token_request
from ehealth_hub.auth.urls import token_endpoint
from ehealth_hub.bootstrap import build_container
from ehealth_hub.fixtures.auth_clients import public_jwk
from ehealth_hub.settings import Settings, load_settings

HUB_URL = "http://127.0.0.1:8000"
"""Where the in-process clients reach the hub: the address `serve` binds by default."""

CLIENT = "many-keys"
KEYS: dict[str, Any] = {
    "ec256": ec.generate_private_key(ec.SECP256R1()),
    "ec384": ec.generate_private_key(ec.SECP384R1()),
    "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "ed": ed25519.Ed25519PrivateKey.generate(),
}
NATIVE = {"ec256": "ES256", "ec384": "ES384", "rsa": "RS256", "ed": "EdDSA"}
ALGS = (
    "ES256", "ES384", "ES512", "ES256K", "RS256", "RS384", "RS512",
    "PS256", "PS384", "PS512", "EdDSA", "HS256", "none", "", "RS256 ", 42,
)  # fmt: skip
KIDS: tuple[Any, ...] = (*KEYS, None, "unknown", 7, ["ec256"])


def _jwk(kid: str, key: Any) -> dict[str, Any]:
    if kid.startswith("ec"):
        return {**public_jwk(key, kid), "alg": NATIVE[kid]}
    algorithm = jwt.algorithms.RSAAlgorithm if kid == "rsa" else jwt.algorithms.OKPAlgorithm
    return {**orjson.loads(algorithm.to_jwk(key.public_key())), "kid": kid, "use": "sig"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    registry = {
        "clients": [
            {
                "client_id": CLIENT,
                "name": "a client with one key of each type",
                "kind": "other",
                "jwks": {"keys": [_jwk(kid, key) for kid, key in KEYS.items()]},
                "scopes": ["system/Task.r"],
            }
        ]
    }
    clients = tmp_path / "clients.json"
    clients.write_bytes(orjson.dumps(registry))
    return load_settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        data_dir=tmp_path / "var",
        log={"level": "warning", "json_output": True},
        auth={"clients_file": str(clients)},
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    container = await build_container(settings)
    app: FastAPI = create_app(settings, container=container)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url=HUB_URL) as c:
                yield c
    finally:
        await container.aclose()


def _claims(settings: Settings, variant: str) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": CLIENT,
        "sub": CLIENT,
        "aud": token_endpoint(settings),
        "exp": int(time.time()) + 120,
        "jti": uuid.uuid4().hex,
    }
    hostile: dict[str, dict[str, Any]] = {
        "plain": {},
        "huge-exp": {"exp": 10**20},
        "float-exp": {"exp": 1e300},
        "string-exp": {"exp": "soon"},
        "huge-iat": {"iat": 10**20},
        "negative-iat": {"iat": -(10**20)},
        "list-iss": {"iss": [CLIENT], "sub": [CLIENT]},
        "object-jti": {"jti": {"a": 1}},
    }
    return {**base, **hostile[variant]}


def _signed(header: dict[str, Any], claims: dict[str, Any], signature: str, kid: Any) -> str:
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    message = f"{head}.{body}".encode()
    if signature == "genuine" and isinstance(kid, str) and kid in KEYS:
        algorithm = jwt.get_algorithm_by_name(NATIVE[kid])
        sig = _b64(algorithm.sign(message, KEYS[kid]))
    elif signature == "empty":
        sig = ""
    else:
        sig = _b64(uuid.uuid4().bytes * 8)
    return f"{head}.{body}.{sig}"


async def test_no_malformed_client_assertion_gets_a_server_error(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    failures: list[tuple[Any, ...]] = []
    cases = itertools.product(
        ALGS, KIDS, ("garbage", "empty", "genuine"), ("plain", "huge-exp", "string-exp")
    )
    for alg, kid, signature, variant in cases:
        header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
        if kid is not None:
            header["kid"] = kid
        assertion = _signed(header, _claims(settings, variant), signature, kid)
        form = token_request(assertion, ["system/Task.r"])
        response = await client.post("/auth/token", data=form)
        native = NATIVE.get(kid) if isinstance(kid, str) else None
        valid = signature == "genuine" and variant == "plain" and native == alg != "EdDSA"
        answer = response.json()
        if response.status_code != (200 if valid else response.status_code) or (
            not valid and (response.status_code not in (400, 401) or "error" not in answer)
        ):
            failures.append((alg, kid, signature, variant, response.status_code))
    assert failures == []


@pytest.mark.parametrize(
    "variant",
    ["huge-exp", "float-exp", "huge-iat", "negative-iat", "list-iss", "object-jti"],
)
@pytest.mark.parametrize("kid", list(KEYS))
async def test_genuinely_signed_assertions_with_hostile_claims_are_refused_not_crashed(
    client: httpx.AsyncClient, settings: Settings, kid: str, variant: str
) -> None:
    header = {"alg": NATIVE[kid], "kid": kid, "typ": "JWT"}
    assertion = _signed(header, _claims(settings, variant), "genuine", kid)
    response = await client.post("/auth/token", data=token_request(assertion, ["system/Task.r"]))
    assert response.status_code in (400, 401), response.text
    assert response.json()["error"] in ("invalid_client", "invalid_grant", "invalid_request")


@pytest.mark.parametrize("alg", ["RS256", "RS384", "PS256"])
async def test_an_rsa_algorithm_naming_an_ec_key_is_an_invalid_client(
    client: httpx.AsyncClient, settings: Settings, alg: str
) -> None:
    header = {"alg": alg, "kid": "ec256", "typ": "JWT"}
    assertion = _signed(header, _claims(settings, "plain"), "garbage", "ec256")
    response = await client.post("/auth/token", data=token_request(assertion, ["system/Task.r"]))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    again = await client.get("/health/live")
    assert again.status_code == 200


async def test_a_genuine_assertion_of_each_key_type_is_still_accepted(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    for kid in ("ec256", "ec384", "rsa"):  # EdDSA is not an accepted assertion algorithm
        header = {"alg": NATIVE[kid], "kid": kid, "typ": "JWT"}
        assertion = _signed(header, _claims(settings, "plain"), "genuine", kid)
        form = token_request(assertion, ["system/Task.r"])
        response = await client.post("/auth/token", data=form)
        assert response.status_code == 200, (kid, response.text)
