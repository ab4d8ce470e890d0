"""The operations console: ``/console``, served by the hub itself for the people who run it.

Server-rendered pages (Jinja2) made lively with htmx (shipped in ``static/``, no build step, no
CDN), behind a sign-in: a password account (the sandbox's ``operator`` / ``auditor``, or
``console.accounts``) or the organisation's OpenID Connect provider (``console.oidc``). Operators
search deliveries, replay one or many (dry run first; each replay audited as its own entry), watch
the downstreams; auditors also read message bodies (with an audited reason), search the audit trail
and run ``audit verify``. Both explain consent decisions.

Security: a signed HttpOnly SameSite=Strict session cookie (Secure outside the sandbox), a CSRF
token on every form (checked before any POST route runs), a strict Content-Security-Policy (no
inline script or style), no patient identifier in any URL (searches by patient are POSTs).
Everything goes through ``services.operations*``; nothing here touches the store or the outbox.

Mounted by the app factory: ``app.mount("/console", console.build(app, settings))``. The API's
bearer-token check does not apply here (a mounted app has its own routes); the console has its own.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI
from starlette.staticfiles import StaticFiles

from ehealth_hub.console import routes_auth, routes_deliveries, routes_views
from ehealth_hub.console.oidc import OidcClient
from ehealth_hub.console.session import Sessions
from ehealth_hub.console.web import HERE, Console, SecurityHeaders, csrf_guard, on_error, templates
from ehealth_hub.core.errors import HubError
from ehealth_hub.settings import Settings

__all__ = ["build"]


def build(parent: FastAPI, settings: Settings) -> FastAPI:
    """The console app for the hub app ``parent`` (whose container it uses once started)."""
    app = FastAPI(
        title="ehealth-hub console",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(csrf_guard)],
    )
    sessions = Sessions.from_settings(settings)
    oidc = None
    if settings.console.oidc.issuer:
        redirect = settings.console.oidc.redirect_url or (
            f"{settings.api.base_url()}/console/oidc/callback"
        )
        oidc = OidcClient(settings.console.oidc, redirect, sessions)
    app.state.console = Console(parent, sessions, templates(), oidc)
    app.add_exception_handler(HubError, on_error)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (routes_auth, routes_deliveries, routes_views):
        app.include_router(module.router)
    return app
