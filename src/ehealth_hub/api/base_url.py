"""The base URL clients reach the hub at, for the URLs the API writes (FHIR R4 http.html#general).

The configured ``api.public_base_url`` (``EHEALTH_HUB_API__PUBLIC_BASE_URL``) when set: behind a
proxy, the hub cannot know the address clients use. Otherwise the request's own scheme, host and
port (``serve --port N`` answers with port N): search Bundles' ``fullUrl`` and ``link``, the
CapabilityStatement, SMART discovery, ``Location`` headers, Task URLs and the token endpoint's
audience all follow it.
"""

from __future__ import annotations

from typing import Final

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def base_url(request: Request) -> str:
    """``scheme://host[:port][/root]`` without a trailing slash."""
    configured: str | None = request.app.state.container.settings.api.public_base_url
    if configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")


def fhir_url(request: Request, relative: str) -> str:
    """The absolute URL of ``relative`` (``Consent/1``) under the FHIR base."""
    return f"{base_url(request)}/fhir/{relative.lstrip('/')}"


class AbsoluteLocations:
    """ASGI middleware: a relative ``Location`` or ``Content-Location`` a FHIR route answers
    (``/fhir/Task/1``) leaves absolute, under the same base as :func:`base_url` (FHIR http.html
    #create: ``Location: [base]/[type]/[id]``)."""

    def __init__(self, app: ASGIApp, public_base_url: str | None) -> None:
        self.app, self.public = app, public_base_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/fhir/"):
            await self.app(scope, receive, send)
            return
        base = (self.public or str(Request(scope).base_url)).rstrip("/").encode()

        async def absolute(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    (name, base + value if name in _LOCATIONS and value[:1] == b"/" else value)
                    for name, value in message.get("headers", [])
                ]
            await send(message)

        await self.app(scope, receive, absolute)


_LOCATIONS: Final = frozenset({b"location", b"content-location"})
