"""The base URL clients reach the hub at, for the URLs the API writes (FHIR R4 http.html#general).

The configured ``api.public_base_url`` (``EHEALTH_HUB_API__PUBLIC_BASE_URL``) when set: behind a
proxy, the hub cannot know the address clients use. Otherwise the request's own scheme, host and
port (``serve --port N`` answers with port N): search Bundles' ``fullUrl`` and ``link``, the
CapabilityStatement, SMART discovery, ``Location`` headers, Task URLs and the token endpoint's
audience all follow it.
"""

from __future__ import annotations

from fastapi import Request


def base_url(request: Request) -> str:
    """``scheme://host[:port][/root]`` without a trailing slash."""
    configured: str | None = request.app.state.container.settings.api.public_base_url
    if configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")


def fhir_url(request: Request, relative: str) -> str:
    """The absolute URL of ``relative`` (``Consent/1``) under the FHIR base."""
    return f"{base_url(request)}/fhir/{relative.lstrip('/')}"
