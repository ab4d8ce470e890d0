"""Error rendering: every error leaves the API as a FHIR OperationOutcome.

The one place where HubError classes become HTTP status codes (the table is in the README,
"Errors"): 400 malformed (not JSON, a bad parameter, header or identifier syntax), 422 well-formed
but invalid (a FHIR rule, a profile, a business rule, a reused ``Idempotency-Key``), 403 refused
by a scope or by the consent gate (its reasons as issues), 404, 405, 406 (``_format``/``Accept``),
409 (stored state, a key in flight), 412 (``If-Match``/``If-None-Exist``), 415 (``Content-Type``),
502 (a downstream answer the hub cannot use), 503 + ``Retry-After`` when a source or the database
is unavailable (also when the consent gate failed closed only because a source was unreachable:
unavailable, never denied). Validation errors from FastAPI name the offending field; unknown
routes and methods get an OperationOutcome too; anything unexpected is logged with its request id
and answered 500 without internals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ehealth_hub.api.responses import FhirResponse
from ehealth_hub.core.errors import (
    AuthenticationError,
    AuthorizationError,
    BusinessRejection,
    ConfigurationError,
    Conflict,
    ConsentDenied,
    ConsentUnavailable,
    DownstreamError,
    DownstreamProtocolError,
    DownstreamUnavailable,
    HostileXmlError,
    HubError,
    IdentifierCheckError,
    InvalidInput,
    MappingError,
    NotFound,
    PreconditionFailed,
    RuleViolation,
    SecurityError,
    StorageError,
)
from ehealth_hub.fhir.outcome import issue, outcome, outcome_for

log = structlog.get_logger(__name__)

RETRY_AFTER_S: Final = 30
"""``Retry-After`` of a 503: about one circuit-breaker cool-down (transport/resilience.py)."""


class NotAcceptable(InvalidInput):
    """Raised when: ``_format`` or ``Accept`` asks for a representation the hub does not speak."""


class UnsupportedMediaType(InvalidInput):
    """Raised when: a request body's ``Content-Type`` is not FHIR JSON."""


# First match wins: subclasses before their bases.
STATUS: Final[tuple[tuple[type[HubError], int], ...]] = (
    (IdentifierCheckError, 422),  # well-formed but invalid
    (MappingError, 422),
    (RuleViolation, 422),
    (NotAcceptable, 406),
    (UnsupportedMediaType, 415),
    (InvalidInput, 400),
    (HostileXmlError, 400),
    (SecurityError, 502),
    (AuthenticationError, 401),
    (AuthorizationError, 403),
    (ConsentUnavailable, 503),
    (ConsentDenied, 403),
    (NotFound, 404),
    (PreconditionFailed, 412),
    (Conflict, 409),
    (BusinessRejection, 422),
    (DownstreamUnavailable, 503),
    (DownstreamProtocolError, 502),
    (DownstreamError, 502),
    (StorageError, 503),
    (ConfigurationError, 500),
    (HubError, 500),
)

_HTTP_ISSUE: Final = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    412: "conflict",
    415: "not-supported",
    422: "invalid",
}


def status_for(error: HubError) -> int:
    """The HTTP status code for ``error``."""
    return next(code for cls, code in STATUS if isinstance(error, cls))


async def _hub_error(request: Request, exc: Exception) -> FhirResponse:
    assert isinstance(exc, HubError)
    status = status_for(exc)
    log.info("request_refused", status=status, **exc.as_dict())
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    if isinstance(exc, AuthenticationError):
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    body = outcome_for(exc)
    if isinstance(exc, NotAcceptable | UnsupportedMediaType):  # a format the hub does not speak
        body["issue"][0]["code"] = "not-supported"
    return FhirResponse(body, status_code=status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> FhirResponse:
    assert isinstance(exc, RequestValidationError)
    issues = [
        issue(
            "invalid",
            str(err.get("msg", "invalid value")),
            expression=_field(err.get("loc", ())),
            rule=str(err.get("type", "invalid")),
        )
        for err in exc.errors()
    ]
    return FhirResponse(outcome(*issues), status_code=400)


def _field(loc: Sequence[object]) -> str | None:
    """The parameter, header or body path a FastAPI error location names, without its kind."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "header", "path", "cookie", "body"):
        parts = parts[1:]
    return ".".join(parts) or None


async def _http_error(request: Request, exc: Exception) -> FhirResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_ISSUE.get(exc.status_code, "processing")
    body = outcome(issue(code, str(exc.detail), rule=f"http-{exc.status_code}"))
    return FhirResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> FhirResponse:
    log.error("unexpected_error", error=type(exc).__name__, exc_info=exc)
    body = outcome(issue("exception", "internal error; see the hub's log for this request id"))
    return FhirResponse(body, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Render every error as an OperationOutcome."""
    app.add_exception_handler(HubError, _hub_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
