"""Sign-in (password or OpenID Connect) and sign-out."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from ehealth_hub.console.oidc import STATE_COOKIE, STATE_SECONDS
from ehealth_hub.console.web import console_of, field, page, session_of
from ehealth_hub.core.errors import AuthenticationError, ConfigurationError
from ehealth_hub.services.operations_users import ConsoleUser

router = APIRouter()
HOME = "/console/deliveries"


@router.get("/login")
async def login_form(request: Request) -> Response:
    """The sign-in page."""
    return page(request, "login.html", oidc=console_of(request).oidc is not None)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the password; a fresh session on success."""
    accounts = console_of(request).operations().password_accounts()
    username, password = field(request, "username"), field(request, "password")
    user = await asyncio.to_thread(accounts.sign_in, username, password)
    if user is None:
        return page(
            request,
            "login.html",
            401,
            oidc=console_of(request).oidc is not None,
            error="Unknown user name or wrong password.",
        )
    return _signed_in(request, user)


def _signed_in(request: Request, user: ConsoleUser) -> Response:
    response = RedirectResponse(HOME, status_code=303)
    console_of(request).sessions.attach(response, console_of(request).sessions.signed_in(user))
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session."""
    response = RedirectResponse("/console/login", status_code=303)
    console_of(request).sessions.attach(response, None)
    return response


@router.get("/oidc/login")
async def oidc_login(request: Request) -> Response:
    """Send the visitor to the organisation's identity provider."""
    client = console_of(request).oidc
    if client is None:
        raise ConfigurationError("OpenID Connect is not configured", system="console")
    url, cookie = await client.start()
    response = RedirectResponse(url, status_code=303)
    secure = console_of(request).sessions.secure
    response.set_cookie(
        STATE_COOKIE,
        cookie,
        max_age=STATE_SECONDS,
        path="/console/oidc",
        httponly=True,
        samesite="lax",  # the provider's redirect back is a cross-site top-level GET
        secure=secure,
    )
    return response


@router.get("/oidc/callback")
async def oidc_callback(request: Request, code: str = "", state: str = "") -> Response:
    """The provider's answer: exchange the code, check the ID token, sign in."""
    client = console_of(request).oidc
    if client is None:
        raise ConfigurationError("OpenID Connect is not configured", system="console")
    if not code or not state:
        raise AuthenticationError("the provider sent no code", system="oidc")
    user = await client.finish(code, state, request.cookies.get(STATE_COOKIE))
    response = _signed_in(request, user)
    response.delete_cookie(STATE_COOKIE, path="/console/oidc")
    return response


@router.get("/")
async def home(request: Request) -> Response:
    """The deliveries page for signed-in users, else the sign-in page."""
    session = session_of(request)
    signed = session is not None and session.user is not None
    return RedirectResponse(HOME if signed else "/console/login", status_code=303)
