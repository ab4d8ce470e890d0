"""Validation at the door: request sizes per endpoint, and every identifier of a FHIR body.

Nothing the hub refuses here reaches a service, the consent gate, the audit trail or a
downstream system:

* :class:`BodyLimit` (ASGI middleware): a body larger than the endpoint's limit
  (``settings.limits``) is refused 400 (rule ``size``), by its ``Content-Length`` before it is
  read, or as soon as the bytes read pass the limit;
* :func:`check_resource` walks a parsed FHIR body: every ``identifier`` of the Belgian naming
  systems is checked on its own rules (SSIN, NIHII, CBE: ASCII digits, length -> 400; check
  digits -> 422), every other ``identifier.value`` and every string on its size, every resource
  ``id`` on the FHIR id rule (``[A-Za-z0-9-.]{1,64}``), the nesting on its depth (400).

Every refusal is an :class:`~ehealth_hub.core.errors.InvalidInput` naming the field (a FHIRPath-like
path such as ``Claim.patient.identifier.value``) and the rule.
"""

from __future__ import annotations

import re
from typing import Any, Final

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ehealth_hub.api.responses import FHIR_JSON_UTF8
from ehealth_hub.core.errors import IdentifierError, InvalidInput
from ehealth_hub.core.identifiers import Cbe, Nihii, Ssin
from ehealth_hub.fhir.outcome import outcome_for
from ehealth_hub.fhir.profiles import CBE_SYSTEM, NIHDI_SYSTEM, SSIN_SYSTEM
from ehealth_hub.settings.limits import InputLimits

FHIR_ID: Final = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
"""FHIR R4 ``id`` (datatypes.html#id)."""
_CHECKED: Final = {SSIN_SYSTEM: Ssin.parse, NIHDI_SYSTEM: Nihii.parse, CBE_SYSTEM: Cbe.parse}
_TOKEN_PATH: Final = "/auth/token"  # noqa: S105 - a URL path, not a password
_IDENTIFIER: Final = re.compile(r"\.identifier(\[\d+\])?$")
"""Where an Identifier sits: ``x.identifier`` (Reference.identifier) or ``x.identifier[i]``."""


def body_limit(limits: InputLimits, method: str, path: str) -> int:
    """The largest body accepted by ``method path``."""
    if method == "POST" and path == "/fhir/Claim/$submit":
        return limits.claim_body_bytes
    if method == "POST" and path == "/fhir/CoverageEligibilityRequest/$submit":
        return limits.eligibility_body_bytes
    if method == "POST" and path == "/fhir/DocumentReference":
        return limits.note_body_bytes
    if method in ("POST", "PUT") and (path == "/fhir/Consent" or path.startswith("/fhir/Consent/")):
        return limits.consent_body_bytes
    if path == _TOKEN_PATH:
        return limits.token_form_bytes
    return limits.other_body_bytes


def _too_large(limit: int) -> InvalidInput:
    return InvalidInput(
        f"the body exceeds {limit} bytes for this endpoint", field="body", rule="size", system="api"
    )


class BodyLimit:
    """Refuses bodies over the endpoint's limit before the application reads them whole."""

    def __init__(self, app: ASGIApp, limits: InputLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(self.limits, scope["method"], scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > limit:
            await _refuse(scope, send, _too_large(limit))
            return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:  # a chunked body longer than announced: the route's handler answers
                raise _too_large(limit)
            return message

        await self.app(scope, bounded, send)


async def _refuse(scope: Scope, send: Send, error: InvalidInput) -> None:
    """400 with an OperationOutcome (an OAuth error on the token endpoint, RFC 6749 5.2)."""
    if scope["path"] == _TOKEN_PATH:
        body = orjson.dumps({"error": "invalid_request", "error_description": error.detail})
        media = b"application/json"
    else:
        body = orjson.dumps(outcome_for(error))
        media = FHIR_JSON_UTF8.encode()
    headers = [(b"content-type", media), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def check_resource(body: dict[str, Any], limits: InputLimits) -> None:
    """Refuse (InvalidInput naming field and rule) a body with an invalid identifier or size."""
    _walk(body, str(body.get("resourceType") or "body"), limits, 0)


def _walk(value: Any, path: str, limits: InputLimits, depth: int) -> None:
    if depth > limits.depth:
        raise InvalidInput(
            f"the body nests deeper than {limits.depth} levels", field=path, rule="depth"
        )
    if isinstance(value, dict):
        _check_object(value, path, limits)
        for key, item in value.items():
            _walk(item, f"{path}.{key}", limits, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{path}[{index}]", limits, depth + 1)
    elif isinstance(value, str) and len(value) > limits.string_chars and not path.endswith(".data"):
        raise InvalidInput(
            f"{path} is longer than {limits.string_chars} characters", field=path, rule="size"
        )


def _check_object(value: dict[str, Any], path: str, limits: InputLimits) -> None:
    if "resourceType" in value and "id" in value:
        rid = value["id"]
        if not isinstance(rid, str) or not FHIR_ID.match(rid):
            raise InvalidInput(
                f"{path}.id must be a FHIR id: 1 to 64 of A-Z a-z 0-9 - .",
                field=f"{path}.id",
                rule="fhir-id",
            )
    system, ident = value.get("system"), value.get("value")
    if not _IDENTIFIER.search(path) or not isinstance(system, str) or "value" not in value:
        return
    field = f"{path}.value"
    if not isinstance(ident, str) or not 1 <= len(ident) <= limits.identifier_chars:
        raise InvalidInput(
            f"{field} must be a string of 1 to {limits.identifier_chars} characters",
            field=field,
            rule="identifier-size",
        )
    parse = _CHECKED.get(system)
    if parse is None:
        return
    try:
        parse(ident)
    except IdentifierError as exc:  # named by its place in the body, not by its kind
        raise type(exc)(exc.detail, field=field, rule=exc.rule, system="api") from exc
