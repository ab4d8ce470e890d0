"""The console's session cookie: signed (HMAC-SHA256), HttpOnly, SameSite=Strict, Secure outside the
sandbox; it carries the user, the role, the expiry and the CSRF token, nothing about patients.

Before sign-in a visitor gets an anonymous session (only a CSRF token) so that the sign-in form is
CSRF-protected too. Every POST must echo the session's token (form field ``csrf_token`` or header
``X-CSRF-Token``); :func:`check_csrf` refuses it otherwise. The signing secret is
``console.session_key_file``, or in the sandbox a random key created once in ``data_dir/console``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ehealth_hub.core.errors import AuthorizationError, ConfigurationError
from ehealth_hub.core.files import create_once
from ehealth_hub.services.operations_users import ConsoleUser
from ehealth_hub.settings import Settings

COOKIE: Final = "hub_console"
ANONYMOUS_SECONDS: Final = 3600


@dataclass(frozen=True, slots=True)
class Session:
    """What the cookie says."""

    csrf: str
    expires: float
    user: ConsoleUser | None = None


class Sessions:
    """Issues and reads signed session cookies."""

    def __init__(self, key: bytes, *, lifetime: float, secure: bool) -> None:
        if len(key) < 32:
            raise ConfigurationError("the console session key must be 32 bytes or more")
        self._key = key
        self.lifetime = lifetime
        self.secure = secure

    @classmethod
    def from_settings(cls, settings: Settings) -> Sessions:
        """The sessions of ``settings`` (key file, lifetime, Secure flag)."""
        conf = settings.console
        path = conf.session_key_file
        if path is None:
            if not settings.is_sandbox:
                raise ConfigurationError(
                    "console.session_key_file is required outside the sandbox", system="settings"
                )
            path = settings.data_dir / "console" / "session.key"
            create_once(path, secrets.token_bytes(32))
        secure = conf.secure_cookies if conf.secure_cookies is not None else not settings.is_sandbox
        return cls(_read(path), lifetime=conf.session_minutes * 60.0, secure=secure)

    def sign(self, payload: dict[str, Any]) -> str:
        """``payload`` as a signed cookie value."""
        body = base64.urlsafe_b64encode(json.dumps(payload, sort_keys=True).encode()).decode()
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()
        return f"{body}.{mac}"

    def unsign(self, value: str | None) -> dict[str, Any] | None:
        """The payload of a cookie value whose signature and expiry hold, else None."""
        if not value or "." not in value:
            return None
        body, mac = value.rsplit(".", 1)
        expected = hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, expected):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(body.encode()))
        except ValueError:
            return None
        if not isinstance(payload, dict) or float(payload.get("x", 0)) < time.time():
            return None
        return payload

    def read(self, request: Request) -> Session | None:
        """The request's session, when its cookie is valid."""
        payload = self.unsign(request.cookies.get(COOKIE))
        if payload is None:
            return None
        user = ConsoleUser(payload["u"], payload["r"]) if payload.get("u") else None
        return Session(str(payload["c"]), float(payload["x"]), user)

    def anonymous(self) -> Session:
        """A fresh session for a visitor who has not signed in."""
        return Session(secrets.token_urlsafe(24), time.time() + ANONYMOUS_SECONDS)

    def signed_in(self, user: ConsoleUser) -> Session:
        """A fresh session for ``user`` (new CSRF token: no fixation across sign-in)."""
        return Session(secrets.token_urlsafe(24), time.time() + self.lifetime, user)

    def attach(self, response: Response, session: Session | None) -> None:
        """Set (or, for None, delete) the session cookie on ``response``."""
        if session is None:
            response.delete_cookie(COOKIE, path="/console")
            return
        payload: dict[str, Any] = {"c": session.csrf, "x": session.expires}
        if session.user is not None:
            payload.update(u=session.user.username, r=session.user.role)
        response.set_cookie(
            COOKIE,
            self.sign(payload),
            max_age=int(session.expires - time.time()),
            path="/console",
            httponly=True,
            samesite="strict",
            secure=self.secure,
        )


def check_csrf(session: Session | None, sent: str | None) -> None:
    """Refuse a state-changing request whose CSRF token is missing or not the session's."""
    if session is None or not sent or not hmac.compare_digest(sent, session.csrf):
        raise AuthorizationError(
            "the form's CSRF token is missing or does not match your session; reload the page",
            system="console",
            code="csrf",
        )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the console session key {path.name}: {type(exc).__name__}",
            system="settings",
            operation="console.session_key_file",
        ) from exc
