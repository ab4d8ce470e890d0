"""Builds the token service from the settings (the composition root's part for ``auth/``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.auth.clients import ClientRegistry
from ehealth_hub.auth.jti import SqlJtiStore
from ehealth_hub.auth.tokens import TokenPolicy, TokenService
from ehealth_hub.auth.urls import fhir_base, token_endpoint
from ehealth_hub.core.errors import ConfigurationError
from ehealth_hub.fixtures.auth_clients import ensure_sandbox_auth
from ehealth_hub.settings import Settings


def policy_for(settings: Settings) -> TokenPolicy:
    """Lifetimes and URLs from the ``auth`` and ``api`` settings."""
    auth = settings.auth
    return TokenPolicy(
        issuer=settings.api.base_url(),
        token_endpoint=token_endpoint(settings),
        audience=fhir_base(settings),
        token_lifetime=timedelta(seconds=auth.token_lifetime_seconds),
        assertion_max_lifetime=timedelta(seconds=auth.assertion_max_lifetime_seconds),
        leeway=timedelta(seconds=auth.clock_skew_seconds),
    )


def load_signing_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The hub's access-token key: an unencrypted PEM EC P-256 private key."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"auth.signing_key_file {path}: {exc}", system="auth", operation="signing_key"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ConfigurationError(
            f"auth.signing_key_file {path} must be an EC P-256 key (ES256)",
            system="auth",
            operation="signing_key",
        )
    return key


def registry_and_key_paths(settings: Settings) -> tuple[Path, Path]:
    """The configured files, the sandbox ones filling in what is unset (sandbox only)."""
    clients, key = settings.auth.clients_file, settings.auth.signing_key_file
    if clients is None or key is None:
        sandbox_clients, sandbox_key = ensure_sandbox_auth(settings.data_dir)
        clients, key = clients or sandbox_clients, key or sandbox_key
    return clients, key


def build_token_service(settings: Settings, engine: AsyncEngine) -> TokenService:
    """The token service for ``settings`` with its jti store in the hub's database."""
    clients, key = registry_and_key_paths(settings)
    return TokenService(
        ClientRegistry.load(clients),
        load_signing_key(key),
        policy_for(settings),
        SqlJtiStore(engine),
    )
