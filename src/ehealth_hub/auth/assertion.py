"""The client side of SMART backend services: a signed JWT client assertion (RFC 7523).

Used by ``ehealth-hub sandbox-token``, the demo, the benchmark and the tests, exactly as a
client application would build it; the hub never signs assertions for itself.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from ehealth_hub.auth.tokens import JWT_BEARER


def client_assertion(
    client_id: str,
    key: Any,
    token_endpoint: str,
    *,
    kid: str | None = None,
    algorithm: str = "ES256",
    lifetime: timedelta = timedelta(minutes=4),
    now: datetime | None = None,
    jti: str | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """A JWT with iss = sub = ``client_id``, aud = ``token_endpoint``, a fresh jti."""
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_endpoint,
        "iat": int(issued.timestamp()),
        "exp": int((issued + lifetime).timestamp()),
        "jti": jti or uuid.uuid4().hex,
        **(extra or {}),
    }
    headers = {"kid": kid or f"{client_id}-1", "typ": "JWT"}
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def token_request(
    assertion: str, scopes: tuple[str, ...] | list[str], practitioner: str | None = None
) -> dict[str, str]:
    """The form fields of ``POST /auth/token``."""
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
        "scope": " ".join(scopes),
    }
    if practitioner:
        form["practitioner"] = practitioner
    return form
