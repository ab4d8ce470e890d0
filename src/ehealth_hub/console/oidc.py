"""Console sign-in with the organisation's OpenID Connect provider (authorization code + PKCE).

Configured by ``console.oidc`` (issuer, client id and secret). The provider's endpoints come from
``<issuer>/.well-known/openid-configuration`` (OpenID Connect Discovery 1.0). authlib builds the
authorization request and the token request (RFC 6749, PKCE RFC 7636); the ID token is checked
with PyJWT against the provider's JWKS: signature, issuer, audience, expiry and the nonce. The role
comes from ``console.oidc.role_claim`` (auditor values win over operator values; neither: refused).
State, nonce and PKCE verifier travel in a short-lived signed cookie, never in the hub's memory.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Final

import httpx
import jwt
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from ehealth_hub.console.session import Sessions
from ehealth_hub.core.errors import AuthenticationError, AuthorizationError, DownstreamUnavailable
from ehealth_hub.services.operations_users import ConsoleUser
from ehealth_hub.settings.console import ConsoleRole, OidcSettings

STATE_COOKIE: Final = "hub_console_oidc"
STATE_SECONDS: Final = 600
ALGORITHMS: Final = ["RS256", "ES256", "PS256", "EdDSA"]


class OidcClient:
    """The console's relying party at one provider."""

    def __init__(
        self,
        settings: OidcSettings,
        redirect_url: str,
        sessions: Sessions,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not settings.issuer:
            raise ValueError("OidcClient needs console.oidc.issuer")
        self.settings = settings
        self.issuer = settings.issuer.rstrip("/")
        self.redirect_url = redirect_url
        self.sessions = sessions
        self.transport = transport
        """Tests pass an in-process provider; None = the network."""

    async def _get(self, url: str) -> dict[str, Any]:
        async with httpx.AsyncClient(transport=self.transport, timeout=10) as client:
            try:
                answer = await client.get(url)
                answer.raise_for_status()
                body: dict[str, Any] = answer.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise DownstreamUnavailable(
                    f"the identity provider did not answer: {type(exc).__name__}",
                    system="oidc",
                    operation="discovery",
                ) from exc
        return body

    async def discovery(self) -> dict[str, Any]:
        """The provider's metadata."""
        return await self._get(f"{self.issuer}/.well-known/openid-configuration")

    async def start(self) -> tuple[str, str]:
        """The provider's authorization URL, and the signed state cookie to set."""
        meta = await self.discovery()
        state, nonce, verifier = (secrets.token_urlsafe(24) for _ in range(3))
        url = prepare_grant_uri(
            meta["authorization_endpoint"],
            self.settings.client_id,
            "code",
            redirect_uri=self.redirect_url,
            scope=self.settings.scope,
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
        cookie = self.sessions.sign(
            {"s": state, "n": nonce, "v": verifier, "x": time.time() + STATE_SECONDS}
        )
        return url, cookie

    async def finish(self, code: str, state: str, cookie: str | None) -> ConsoleUser:
        """The user the provider signed in (code exchanged, ID token checked)."""
        saved = self.sessions.unsign(cookie)
        if saved is None or not secrets.compare_digest(str(saved["s"]), state):
            raise AuthenticationError(
                "the sign-in answer does not match a sign-in started here", system="oidc"
            )
        meta = await self.discovery()
        claims = await self._id_token(meta, code, str(saved["v"]))
        if claims.get("nonce") != saved["n"]:
            raise AuthenticationError("the ID token's nonce is not ours", system="oidc")
        return ConsoleUser(
            str(claims.get("preferred_username") or claims["sub"]), self.role(claims)
        )

    async def _id_token(self, meta: dict[str, Any], code: str, verifier: str) -> dict[str, Any]:
        body = prepare_token_request(
            "authorization_code", code=code, redirect_uri=self.redirect_url, code_verifier=verifier
        )
        secret = self.settings.client_secret.get_secret_value()
        async with httpx.AsyncClient(transport=self.transport, timeout=10) as client:
            answer = await client.post(
                meta["token_endpoint"],
                content=body,
                auth=(self.settings.client_id, secret),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        if answer.status_code != 200 or "id_token" not in answer.json():
            raise AuthenticationError(
                f"the provider refused the sign-in (HTTP {answer.status_code})", system="oidc"
            )
        keys = jwt.PyJWKSet.from_dict(await self._get(meta["jwks_uri"]))
        token = answer.json()["id_token"]
        kid = jwt.get_unverified_header(token).get("kid")
        key = next((k for k in keys.keys if kid is None or k.key_id == kid), None)
        if key is None:
            raise AuthenticationError("the ID token's key is not the provider's", system="oidc")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self.settings.client_id,
                issuer=self.settings.issuer,
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationError(
                f"the ID token does not verify: {exc}", system="oidc"
            ) from exc
        return claims

    def role(self, claims: dict[str, Any]) -> ConsoleRole:
        """The console role ``claims`` grant."""
        raw = claims.get(self.settings.role_claim) or []
        values = set(raw.split() if isinstance(raw, str) else map(str, raw))
        if values & set(self.settings.auditor_values):
            return "auditor"
        if values & set(self.settings.operator_values):
            return "operator"
        raise AuthorizationError(
            "your account has no ehealth-hub console role", system="oidc", code="forbidden"
        )
