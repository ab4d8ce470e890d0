"""Token issuance and verification (SMART App Launch 2.x backend services, RFC 7523, RFC 9068).

``POST /auth/token`` takes ``grant_type=client_credentials``,
``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer``, a
``client_assertion`` (a JWT signed with one of the client's registered keys: ``iss`` = ``sub`` =
client id, ``aud`` = the token endpoint, ``exp`` at most 5 minutes ahead, a ``jti`` never used
before), ``scope`` (SMART v2, each allowed to the client) and, for clients that act for care
providers, ``practitioner`` (the acting practitioner's NIHII, enrolled at the hub).

The answer is a short-lived access token: a JWT signed by the hub (ES256) carrying ``scope``,
``client_id`` and, when acting for one, ``practitioner`` (NIHII) and ``quality``. PyJWT errors are
translated into AuthenticationError here and nowhere else.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ehealth_hub.auth.clients import ClientRegistration, ClientRegistry
from ehealth_hub.auth.principal import Principal
from ehealth_hub.auth.scopes import Scope, parse_requested, satisfied
from ehealth_hub.core.errors import AuthenticationError, AuthorizationError, InvalidInput
from ehealth_hub.core.identifiers import Nihii

JWT_BEARER: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS: Final = ("ES256", "ES384", "RS256", "RS384", "PS256", "PS384")
"""Algorithms accepted for client assertions (SMART asks servers to support RS384 and ES384)."""
TOKEN_ALGORITHM: Final = "ES256"  # noqa: S105 - an algorithm name, not a secret


class JtiStore(Protocol):
    """Remembers client-assertion ids until they expire."""

    async def remember(self, client_id: str, jti: str, expires_at: datetime) -> bool:
        """Record ``jti``; False when the client already used it (a replay)."""
        ...


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    """Lifetimes and URLs of the token service."""

    issuer: str
    """``iss`` of access tokens (the hub's public base URL)."""
    token_endpoint: str
    """The only accepted ``aud`` of client assertions."""
    audience: str
    """``aud`` of access tokens (the FHIR base URL)."""
    token_lifetime: timedelta = timedelta(minutes=5)
    """Lifetime of access tokens."""
    assertion_max_lifetime: timedelta = timedelta(minutes=5)
    """Longest accepted ``exp`` of a client assertion, from now (and from its ``iat``)."""
    leeway: timedelta = timedelta(seconds=30)
    """Clock skew tolerated on ``exp``/``iat``/``nbf``."""


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """The token response (RFC 6749 section 5.1)."""

    access_token: str
    expires_in: int
    scope: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret


VERIFIED_TOKENS: Final = 4096
"""Bearer tokens remembered as verified (the oldest is forgotten first)."""


def _denied(detail: str, code: str = "invalid_client") -> AuthenticationError:
    return AuthenticationError(detail, system="auth", operation="token", code=code)


def _decode(token: str, key: Any, **kwargs: Any) -> dict[str, Any]:
    """The one place PyJWT errors become HubErrors."""
    try:
        claims: dict[str, Any] = jwt.decode(token, key, **kwargs)
    except jwt.ExpiredSignatureError as exc:
        raise _denied("token has expired", "invalid_token") from exc
    except jwt.InvalidAudienceError as exc:
        raise _denied("token audience is not this endpoint", "invalid_token") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise _denied(f"token lacks the {exc.claim!r} claim", "invalid_token") from exc
    except jwt.PyJWTError as exc:
        raise _denied(f"token rejected: {type(exc).__name__}", "invalid_token") from exc
    return claims


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise _denied(f"client_assertion is not a JWT: {type(exc).__name__}") from exc
    return header, claims


class TokenService:
    """Verifies client assertions, issues access tokens and verifies them on every request."""

    def __init__(
        self,
        registry: ClientRegistry,
        signing_key: ec.EllipticCurvePrivateKey,
        policy: TokenPolicy,
        jti_store: JtiStore,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.registry = registry
        self.policy = policy
        self._private = signing_key
        self._public = signing_key.public_key()
        self._jtis = jti_store
        self._clock = clock
        self._verified: dict[tuple[str, str], tuple[Principal, float]] = {}
        """Bearer tokens verified before: (token, audience) -> (principal, expiry, epoch s)."""

    def at(self, base: str | None) -> TokenPolicy:
        """The policy for clients reaching the hub at ``base`` (None: the configured URLs):
        ``iss`` = ``base``, assertions for ``base/auth/token``, tokens for ``base/fhir``."""
        if base is None:
            return self.policy
        base = base.rstrip("/")
        return replace(
            self.policy, issuer=base, token_endpoint=f"{base}/auth/token", audience=f"{base}/fhir"
        )

    async def issue(self, form: Mapping[str, str], *, base: str | None = None) -> TokenGrant:
        """Answer a token request (form fields as received) made at ``base`` (see :meth:`at`)."""
        policy = self.at(base)
        _check_form(form)
        client = self._client_of(form["client_assertion"])
        claims = self._verify_assertion(client, form["client_assertion"], policy)
        scopes = _granted_scopes(client, form.get("scope", ""))
        practitioner = self._acting_practitioner(client, form.get("practitioner", ""), scopes)
        expires = datetime.fromtimestamp(claims["exp"], UTC)
        jti = claims["jti"]
        if not isinstance(jti, str) or not 1 <= len(jti) <= 255:
            raise _denied("client_assertion jti must be a string of 1 to 255 characters")
        if not await self._jtis.remember(client.client_id, jti, expires):
            raise _denied("client_assertion jti was already used (replay)", "invalid_grant")
        return self._mint(client, scopes, practitioner, policy)

    def verify(self, token: str, *, base: str | None = None) -> Principal:
        """The principal of a bearer token presented at ``base`` (see :meth:`at`);
        AuthenticationError when it is not valid now.

        A token verified before (at the same base) is answered from memory until its ``exp``
        (plus the leeway), as PyJWT would: the signature, audience and issuer of the same bytes
        cannot change, and a client asks with the same token many times (0.2 ms of ECDSA each)."""
        policy = self.at(base)
        known = self._verified.get((token, policy.audience))
        if known is not None and time.time() < known[1]:
            return known[0]
        principal, expires = self._verify_now(token, policy)
        if len(self._verified) >= VERIFIED_TOKENS:
            self._verified.pop(next(iter(self._verified)))
        self._verified[(token, policy.audience)] = (principal, expires)
        return principal

    def _verify_now(self, token: str, policy: TokenPolicy) -> tuple[Principal, float]:
        claims = _decode(
            token,
            self._public,
            algorithms=[TOKEN_ALGORITHM],
            audience=policy.audience,
            issuer=policy.issuer,
            leeway=self.policy.leeway,
            options={"require": ["exp", "iat", "jti", "client_id", "scope"]},
        )
        # Kind and compartment come from the registry now, not from the token: a client whose
        # registration is withdrawn or narrowed loses what it no longer may see at once.
        client = self.registry.client(str(claims["client_id"]))
        principal = Principal(
            client_id=client.client_id,
            scopes=frozenset(str(claims["scope"]).split()),
            practitioner_nihii=claims.get("practitioner"),
            quality=claims.get("quality"),
            token_id=str(claims["jti"]),
            kind=client.kind,
            serves=client.serves,
        )
        return principal, float(claims["exp"]) + self.policy.leeway.total_seconds()

    def _client_of(self, assertion: str) -> ClientRegistration:
        _, claims = _unverified(assertion)
        issuer = claims.get("iss")
        if not isinstance(issuer, str) or claims.get("sub") != issuer:
            raise _denied("client_assertion iss and sub must both be the client id")
        return self.registry.client(issuer)

    def _verify_assertion(
        self, client: ClientRegistration, assertion: str, policy: TokenPolicy
    ) -> dict[str, Any]:
        header, _ = _unverified(assertion)
        keys = [k for k in client.public_keys() if header.get("kid") in (None, k.key_id)]
        if not keys:
            raise _denied("no registered key of the client has this kid")
        algorithm = header.get("alg")
        # PyJWT hands the key to the header's algorithm as is: an EC key given to RS256 raises a
        # TypeError deep in cryptography. Only keys of the algorithm's type are tried.
        keys = [k for k in keys if _fits(algorithm, k)]
        if not keys:
            raise _denied(f"no registered key of the client fits the algorithm {algorithm!r}")
        claims = self._decode_with_any(assertion, keys, policy.token_endpoint)
        now = self._clock().timestamp()
        longest = self.policy.assertion_max_lifetime.total_seconds()
        exp, iat = claims["exp"], claims.get("iat")
        # Compared as numbers: PyJWT accepts any number, which datetime cannot always hold.
        too_long = iat is not None and exp - iat > longest
        if exp > now + longest + self.policy.leeway.total_seconds() or too_long:
            raise _denied("client_assertion may live at most 5 minutes", "invalid_client")
        return claims

    def _decode_with_any(
        self, assertion: str, keys: list[jwt.PyJWK], endpoint: str
    ) -> dict[str, Any]:
        error: AuthenticationError | None = None
        for key in keys:
            try:
                return _decode(
                    assertion,
                    key.key,
                    algorithms=list(ASSERTION_ALGORITHMS),
                    audience=endpoint,
                    leeway=self.policy.leeway,
                    options={"require": ["iss", "sub", "aud", "exp", "jti"]},
                )
            except AuthenticationError as exc:
                error = exc
        assert error is not None
        raise error

    def _acting_practitioner(
        self, client: ClientRegistration, raw: str, scopes: tuple[str, ...]
    ) -> tuple[str, str] | None:
        needs_user = any(Scope.parse(s).context == "user" for s in scopes)
        if not raw:
            if needs_user:
                raise InvalidInput(
                    "user/ scopes need the acting practitioner's NIHII",
                    field="practitioner",
                    rule="practitioner-required-for-user-scopes",
                    system="auth",
                )
            return None
        if not client.may_act_for_practitioners:
            raise AuthorizationError(
                "this client may not act for practitioners",
                system="auth",
                operation="token",
                code="unauthorized_client",
            )
        nihii = Nihii.person(raw).value
        enrolled = self.registry.practitioner(nihii)
        if enrolled is None:
            raise AuthorizationError(
                "the practitioner is not enrolled at the hub",
                system="auth",
                operation="token",
                code="unauthorized_client",
            )
        return enrolled.nihii, enrolled.quality

    def _mint(
        self,
        client: ClientRegistration,
        scopes: tuple[str, ...],
        practitioner: tuple[str, str] | None,
        policy: TokenPolicy,
    ) -> TokenGrant:
        now = self._clock()
        claims: dict[str, Any] = {
            "iss": policy.issuer,
            "aud": policy.audience,
            "sub": practitioner[0] if practitioner else client.client_id,
            "client_id": client.client_id,
            "scope": " ".join(scopes),
            "iat": int(now.timestamp()),
            "exp": int((now + self.policy.token_lifetime).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        if practitioner:
            claims["practitioner"], claims["quality"] = practitioner
        token = jwt.encode(claims, self._private, algorithm=TOKEN_ALGORITHM)
        lifetime = int(self.policy.token_lifetime.total_seconds())
        return TokenGrant(token, lifetime, claims["scope"])


_CURVES: Final = {"ES256": "secp256r1", "ES384": "secp384r1"}
"""The curve of each accepted ECDSA assertion algorithm (RFC 7518 section 3.4)."""


def _fits(algorithm: object, key: jwt.PyJWK) -> bool:
    """True when ``key`` can verify a signature made with ``algorithm`` (an accepted one)."""
    if not isinstance(algorithm, str) or algorithm not in ASSERTION_ALGORITHMS:
        return False
    public = key.key
    if algorithm in _CURVES:
        return isinstance(public, ec.EllipticCurvePublicKey) and (
            public.curve.name == _CURVES[algorithm]
        )
    return isinstance(public, rsa.RSAPublicKey)  # RS* and PS*


def _check_form(form: Mapping[str, str]) -> None:
    if form.get("grant_type") != "client_credentials":
        raise InvalidInput(
            "grant_type must be client_credentials",
            field="grant_type",
            rule="unsupported_grant_type",
            system="auth",
        )
    if form.get("client_assertion_type") != JWT_BEARER:
        raise InvalidInput(
            f"client_assertion_type must be {JWT_BEARER}",
            field="client_assertion_type",
            rule="invalid_request",
            system="auth",
        )
    if not form.get("client_assertion"):
        raise InvalidInput(
            "client_assertion is required", field="client_assertion", rule="invalid_request"
        )


def _granted_scopes(client: ClientRegistration, requested: str) -> tuple[str, ...]:
    scopes = parse_requested(requested)
    refused = [s for s in scopes if not satisfied(client.scopes, s)]
    if refused:
        raise InvalidInput(
            f"scopes not allowed to this client: {' '.join(refused)}",
            field="scope",
            rule="invalid_scope",
            system="auth",
        )
    return scopes
