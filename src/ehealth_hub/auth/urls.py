"""The hub's own URLs that tokens name (the ``aud`` of assertions and of access tokens)."""

from __future__ import annotations

from ehealth_hub.settings import Settings


def token_endpoint(settings: Settings) -> str:
    """The token endpoint URL clients put in their assertions' ``aud``."""
    return f"{settings.api.public_base_url.rstrip('/')}/auth/token"


def fhir_base(settings: Settings) -> str:
    """The FHIR base URL (the ``aud`` of access tokens)."""
    return f"{settings.api.public_base_url.rstrip('/')}/fhir"
