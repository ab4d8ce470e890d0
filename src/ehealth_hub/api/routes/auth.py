"""``POST /auth/token`` (OAuth 2.0 client credentials, RFC 6749 section 4.4, with a JWT client
assertion, RFC 7523) and ``GET /fhir/.well-known/smart-configuration`` (SMART App Launch 2.x).

Errors of the token endpoint follow RFC 6749 section 5.2 (``{"error", "error_description"}``), as
OAuth client libraries expect, rather than an OperationOutcome: 400 ``invalid_request`` /
``unsupported_grant_type`` / ``invalid_scope`` / ``invalid_grant``, 401 ``invalid_client``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ehealth_hub.api.auth import token_service
from ehealth_hub.api.base_url import base_url
from ehealth_hub.api.deps import SettingsDep
from ehealth_hub.auth.scopes import KNOWN_SCOPES
from ehealth_hub.auth.tokens import ASSERTION_ALGORITHMS
from ehealth_hub.auth.urls import token_endpoint
from ehealth_hub.core.errors import AuthenticationError, AuthorizationError, HubError, InvalidInput

router = APIRouter(tags=["auth"])

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

_TOKEN_FORM: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": [
                        "grant_type",
                        "client_assertion_type",
                        "client_assertion",
                        "scope",
                    ],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "client_assertion_type": {
                            "type": "string",
                            "enum": ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"],
                        },
                        "client_assertion": {"type": "string"},
                        "scope": {"type": "string", "description": "SMART v2 scopes"},
                        "practitioner": {
                            "type": "string",
                            "description": "NIHII of the acting practitioner",
                        },
                    },
                }
            }
        },
    },
    "responses": {
        "400": {"description": "OAuth error (RFC 6749 section 5.2)"},
        "401": {"description": "OAuth error invalid_client"},
    },
}


def _oauth_error(exc: HubError) -> JSONResponse:
    if isinstance(exc, AuthenticationError):
        code = "invalid_grant" if exc.code == "invalid_grant" else "invalid_client"
        status = 400 if code == "invalid_grant" else 401
    elif isinstance(exc, AuthorizationError):
        status, code = 400, exc.code or "unauthorized_client"
    elif isinstance(exc, InvalidInput):
        status = 400
        code = (
            exc.rule
            if exc.rule in {"unsupported_grant_type", "invalid_scope"}
            else ("invalid_request")
        )
    else:
        raise exc
    body = {"error": code, "error_description": exc.detail}
    return JSONResponse(body, status_code=status, headers=_NO_STORE)


@router.post(
    "/auth/token",
    summary="Access token (SMART backend services: client credentials + JWT assertion)",
    openapi_extra=_TOKEN_FORM,
)
async def token(request: Request) -> JSONResponse:
    """Issue a short-lived access token for a client proving itself with a signed assertion."""
    limit = request.app.state.container.settings.limits.token_form_bytes
    try:  # the door's middleware refuses a longer body as it streams in
        body = await request.body()
    except InvalidInput as exc:
        return _oauth_error(exc)
    if len(body) > limit:
        return _oauth_error(InvalidInput("form too large", field="body", rule="size"))
    form = dict(parse_qsl(body.decode("utf-8", errors="replace")))
    try:
        grant = await token_service(request).issue(form, base=base_url(request))
    except (AuthenticationError, AuthorizationError, InvalidInput) as exc:
        return _oauth_error(exc)
    payload = {
        "access_token": grant.access_token,
        "token_type": grant.token_type,
        "expires_in": grant.expires_in,
        "scope": grant.scope,
    }
    return JSONResponse(payload, headers=_NO_STORE)


@router.get(
    "/fhir/.well-known/smart-configuration",
    summary="SMART configuration (token endpoint, scopes, algorithms)",
)
async def smart_configuration(request: Request, settings: SettingsDep) -> dict[str, Any]:
    """Where and how to get a token (SMART App Launch 2.x discovery), at the base URL the
    client used (or the configured public one)."""
    return {
        "token_endpoint": token_endpoint(settings, base_url(request)),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "scopes_supported": sorted(KNOWN_SCOPES),
        "capabilities": ["client-confidential-asymmetric", "permission-v2"],
    }
