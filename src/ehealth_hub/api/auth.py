"""Authentication and scopes on every route: deny by default.

:func:`install_auth` (called first thing in ``create_app``) makes :func:`authenticate` a
dependency of every route: a request to any path not in :data:`PUBLIC_PATHS` without a valid hub
access token is answered 401 (OperationOutcome, ``WWW-Authenticate: Bearer``), whether or not
the route asks for a scope. Routes then state what they need with :func:`require_scope`::

    from ehealth_hub.api.auth import require_scope
    from ehealth_hub.auth import scopes

    @router.post("/fhir/Consent")
    async def create(principal: Annotated[Principal, Depends(require_scope(scopes.CONSENT_WRITE))]):
        actor = principal.actor()          # the acting practitioner (Actor), 403 when none

``require_scope(a, b)`` passes when any one of the listed scopes is satisfied by a granted one
(SMART v2: ``user/Consent.cruds`` satisfies ``user/Consent.c``), and answers 403 otherwise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Final

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ehealth_hub.api.base_url import base_url
from ehealth_hub.auth.principal import Principal
from ehealth_hub.auth.scopes import Scope
from ehealth_hub.auth.tokens import TokenService
from ehealth_hub.core.errors import AuthenticationError, AuthorizationError

PUBLIC_PATHS: Final = frozenset(
    {
        "/health/live",
        "/health/ready",
        "/metrics",
        "/fhir/metadata",
        "/fhir/.well-known/smart-configuration",
        "/auth/token",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
    }
)
"""Paths served without a token; everything else needs one."""

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="smart-backend-services",
    description="A hub access token from POST /auth/token (SMART backend services).",
)


def is_public(path: str) -> bool:
    """True for the routes that need no token."""
    return path in PUBLIC_PATHS


def token_service(request: Request) -> TokenService:
    """The running app's token service."""
    service: TokenService = request.app.state.container.auth
    return service


def verify_bearer(request: Request, token: str) -> Principal:
    """The principal of ``token``, presented at this request's base URL (its audience)."""
    return token_service(request).verify(token, base=base_url(request))


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The caller of a non-public route (None on public ones); 401 without a valid token."""
    route = request.scope.get("route")
    if is_public(getattr(route, "path", request.url.path)):
        return None
    if credentials is None:
        raise AuthenticationError(
            "a bearer access token is required (POST /auth/token)", system="auth", code="login"
        )
    principal = verify_bearer(request, credentials.credentials)
    request.state.principal = principal
    return principal


def require_scope(*required: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency returning the Principal when it holds one of ``required`` (403 otherwise)."""
    if not required:
        raise ValueError("require_scope needs at least one scope")
    for scope in required:
        Scope.parse(scope)

    async def dependency(
        principal: Annotated[Principal | None, Depends(authenticate)],
    ) -> Principal:
        if principal is None:
            raise AuthenticationError("a bearer access token is required", system="auth")
        if not any(principal.allows(scope) for scope in required):
            raise AuthorizationError(
                f"this request needs the scope {' or '.join(required)}",
                system="auth",
                operation="scope",
                code="insufficient_scope",
            )
        return principal

    dependency.__name__ = f"require_scope({', '.join(required)})"
    dependency.required_scopes = required  # type: ignore[attr-defined]  # read by route checks
    return dependency


def install_auth(app: FastAPI) -> None:
    """Make :func:`authenticate` a dependency of every route included after this call."""
    app.router.dependencies.append(Depends(authenticate))
