"""The hub's own URLs that tokens name (the ``aud`` of assertions and of access tokens).

``base`` is the base URL clients reach the hub at: the configured public base URL, else the
request's own (:func:`ehealth_hub.api.base_url.base_url`), else, outside a request,
``http://<host>:<port>`` of the settings.
"""

from __future__ import annotations

from ehealth_hub.settings import Settings


def token_endpoint(settings: Settings, base: str | None = None) -> str:
    """The token endpoint URL clients put in their assertions' ``aud``."""
    return f"{(base or settings.api.base_url()).rstrip('/')}/auth/token"


def fhir_base(settings: Settings, base: str | None = None) -> str:
    """The FHIR base URL (the ``aud`` of access tokens)."""
    return f"{(base or settings.api.base_url()).rstrip('/')}/fhir"
