"""An OpenID Connect provider in-process (discovery, token endpoint, JWKS) for the console's
sign-in tests: ID tokens signed with a fresh EC P-256 key, for codes the test hands out."""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ISSUER = "https://idp.example.invalid/realms/hub"


@dataclass
class Grant:
    """What the provider will say for one code."""

    nonce: str
    challenge: str
    claims: dict[str, Any]


@dataclass
class FakeProvider:
    client_id: str
    client_secret: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    grants: dict[str, Grant] = field(default_factory=dict)

    def grant(self, code: str, nonce: str, challenge: str, **claims: Any) -> None:
        self.grants[code] = Grant(nonce, challenge, claims)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/realms/hub/.well-known/openid-configuration", self._discovery),
                Route("/realms/hub/token", self._token, methods=["POST"]),
                Route("/realms/hub/jwks", self._jwks),
            ]
        )

    async def _discovery(self, request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "issuer": ISSUER,
                "authorization_endpoint": f"{ISSUER}/auth",
                "token_endpoint": f"{ISSUER}/token",
                "jwks_uri": f"{ISSUER}/jwks",
            }
        )

    async def _jwks(self, request: Request) -> JSONResponse:
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return JSONResponse({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "ES256"}]})

    async def _token(self, request: Request) -> JSONResponse:
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {basic}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        grant = self.grants.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "").encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if grant is None or digest.decode() != grant.challenge:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": self.client_id, "iat": now, "exp": now + 300}
        claims |= {"nonce": grant.nonce, **grant.claims}
        token = jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": "k1"})
        return JSONResponse({"access_token": "at", "token_type": "Bearer", "id_token": token})
