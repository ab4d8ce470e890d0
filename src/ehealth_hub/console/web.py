"""The console's web plumbing: pages, forms, the signed-in user, CSRF, security headers, errors.

* :func:`page` renders a Jinja2 template (autoescaped) with the user and the CSRF token;
* :func:`csrf_guard` runs before every route: a POST without the session's CSRF token is refused
  (403) before the route sees it; forms are parsed here (``application/x-www-form-urlencoded``);
* :class:`SecurityHeaders` gives every answer a strict Content-Security-Policy (scripts and styles
  from the console's own static files only, no inline code), ``no-store`` caching, no referrer;
* errors are HubErrors rendered as a page, with the status :func:`ehealth_hub.api.errors.status_for`
  chooses; a visitor who is not signed in is sent to the sign-in page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import parse_qs

import structlog
from fastapi import Depends, Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ehealth_hub.api.errors import status_for
from ehealth_hub.console.session import Session, Sessions, check_csrf
from ehealth_hub.core.errors import HubError, InvalidInput
from ehealth_hub.services.console import Operations
from ehealth_hub.services.operations_users import ConsoleUser

log = structlog.get_logger(__name__)

HERE: Final = Path(__file__).parent
MAX_FORM_BYTES: Final = 64 * 1024
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS: Final = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def templates() -> Environment:
    """The console's template environment (one per app)."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = lambda d: d.strftime("%Y-%m-%d %H:%M:%S") if d else ""
    return env


class SignInRequired(HubError):
    """The visitor has not signed in (sent to the sign-in page)."""


@dataclass
class Console:
    """What the console app holds: sessions, templates, and the parent app (for its container)."""

    parent: Any
    sessions: Sessions
    env: Environment
    oidc: Any = None

    def operations(self) -> Operations:
        """The container's console services."""
        ops: Operations = self.parent.state.container.operations
        return ops


def console_of(request: Request) -> Console:
    """The running console."""
    console: Console = request.app.state.console
    return console


def session_of(request: Request) -> Session | None:
    """The request's valid session, if any."""
    return console_of(request).sessions.read(request)


async def csrf_guard(request: Request) -> None:
    """Refuse any non-GET request without the session's CSRF token; parse its form."""
    if request.method in ("GET", "HEAD"):
        return
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InvalidInput("the form is too large", field="body", rule="max-size")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    request.state.form = fields
    # the form's own field first: it is rendered with the session that shows the form
    sent = next(iter(fields.get("csrf_token", [])), None) or request.headers.get("x-csrf-token")
    check_csrf(session_of(request), sent)


def form(request: Request) -> dict[str, list[str]]:
    """The parsed form of a POST (checked by :func:`csrf_guard`)."""
    fields: dict[str, list[str]] = getattr(request.state, "form", {})
    return fields


def field(request: Request, name: str) -> str:
    """One form field, stripped ('' when absent)."""
    return (form(request).get(name) or [""])[0].strip()


def date_field(request: Request, name: str) -> datetime | None:
    """A date (or date-time) form field as UTC; None when empty."""
    raw = field(request, name)
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=UTC)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be a date (YYYY-MM-DD)", field=name, rule="date") from exc


async def signed_in(request: Request) -> ConsoleUser:
    """The signed-in user; sends everyone else to the sign-in page."""
    session = session_of(request)
    if session is None or session.user is None:
        raise SignInRequired("sign in first", system="console", code="login")
    request.state.user = session.user
    return session.user


User = Annotated[ConsoleUser, Depends(signed_in)]


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A rendered page; keeps (or starts) the visitor's session so forms carry its CSRF token."""
    console = console_of(request)
    session = session_of(request)
    fresh = session is None
    if session is None:
        session = console.sessions.anonymous()
    html = console.env.get_template(template).render(
        user=session.user, csrf=session.csrf, root="/console", **context
    )
    response = HTMLResponse(html, status_code=status)
    if fresh:
        console.sessions.attach(response, session)
    return response


async def on_error(request: Request, exc: Exception) -> Response:
    """A HubError as a page (sign-in redirect when not signed in)."""
    assert isinstance(exc, HubError)
    if isinstance(exc, SignInRequired):
        if request.method == "GET":
            return RedirectResponse("/console/login", status_code=303)
        return page(request, "error.html", 401, message="Your session has ended: sign in again.")
    status = status_for(exc)
    log.info("console_refused", status=status, **exc.as_dict())
    response = page(request, "error.html", status, message=exc.detail, code=exc.code)
    if status == 503:
        response.headers["Retry-After"] = "30"
    return response


class SecurityHeaders:
    """Pure ASGI: add the console's security headers to every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)
