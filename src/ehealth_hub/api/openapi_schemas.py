"""The pieces of the OpenAPI document (:mod:`ehealth_hub.api.openapi`): schemas, examples, security.

FHIR schemas are derived from the FHIR R4 models (``fhir.resources``): a resource type is an
object with its ``resourceType`` const and the elements FHIR requires (1..1 / 1..*), enums where
FHIR binds a required code. Request schemas (``<Type>Input``) require the elements the hub reads
(:data:`INPUT_REQUIRED`); it checks the rest at the door and answers 400/422 naming the element.
The request examples are in :mod:`ehealth_hub.api.openapi_examples`.
"""

from __future__ import annotations

import types
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any, Final, Union, get_args, get_origin

from fhir.resources.R4B import get_fhir_model_class

from ehealth_hub.api.conventions import JSON_FORMATS
from ehealth_hub.api.door import FHIR_ID
from ehealth_hub.auth.scopes import KNOWN_SCOPES
from ehealth_hub.auth.tokens import ASSERTION_ALGORITHMS, JWT_BEARER
from ehealth_hub.fhir.outcome import issue, outcome

SCHEMES: Final = ("smart-backend-services", "access-token")
_REF: Final = "#/components/schemas/"

DESCRIPTION: Final = f"""FHIR R4 (4.0.1) door to the Belgian eHealth systems.

**Access.** `POST /auth/token` (OAuth 2.0 client credentials, SMART backend services): form
`grant_type=client_credentials`, `client_assertion_type={JWT_BEARER}`, `client_assertion` = a
JWT signed with the client's registered key ({", ".join(ASSERTION_ALGORITHMS)}; `iss` = `sub` =
client id, `aud` = the `token_endpoint` of `/fhir/.well-known/smart-configuration`, a fresh
`jti`, `exp` at most 5 minutes ahead), `scope`, and for a practitioner's app `practitioner`
(NIHII). The answer's `access_token` goes in `Authorization: Bearer ...` (the "access-token"
scheme of the Authorize button: paste it there; the OAuth2 dialog cannot sign an assertion).

**Errors** are FHIR OperationOutcomes naming the element and the rule: 400 malformed, 401 no
valid token, 403 refused (scope or consent), 404, 406 not FHIR JSON, 409 idempotency key reuse,
412 stale If-Match, 415 unsupported body type, 422 well-formed but invalid, 502/503 a source
failed (503 carries Retry-After: the hub never turns an outage into a refusal).
"""

INPUT_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "Consent": ("status", "patient", "provision"),
    "DocumentReference": ("subject", "content"),
    "Claim": ("patient", "provider", "item"),
    "CoverageEligibilityRequest": ("patient",),
    "Parameters": ("parameter",),
    "Resource": (),
}
"""Per request type, the elements the hub reads (besides ``resourceType``)."""

_STORED: Final = frozenset({"Consent", "Task"})
"""Types answered as stored resources: they always carry their ``id``."""

FORMAT_PARAMETER: Final = {
    "name": "_format",
    "in": "query",
    "required": False,
    "description": "the response format: FHIR JSON only (anything else is 406)",
    "schema": {"type": "string", "enum": sorted(JSON_FORMATS)},
}
IDEMPOTENCY_PARAMETER: Final = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "1..255 printable characters: the same key and request replays the stored "
    "answer (Idempotent-Replayed: true); the same key with another request is 409",
    "schema": {"type": "string"},
}
_HEADERS: Final = {
    "ETag": 'the version: W/"1" for versionId 1',
    "Location": "the resource (or the Task following the request)",
    "Content-Location": "the Task following the request",
    "Last-Modified": "when this version was stored",
    "WWW-Authenticate": 'Bearer error="invalid_token"',
    "Retry-After": "seconds to wait before retrying",
}


def header(name: str) -> dict[str, Any]:
    """A response header the answer always carries."""
    return {"description": _HEADERS[name], "required": True, "schema": {"type": "string"}}


def answer_text(status: int, fhir_types: tuple[str, ...]) -> str:
    """The description of a success answer."""
    if status == 304:
        return "not modified: If-None-Match names the current version"
    if status == 202:
        return "accepted: the Task following the delivery (Location)"
    return " or ".join(fhir_types) or "no body"


def ref_one_of(fhir_types: tuple[str, ...], suffix: str = "") -> dict[str, Any]:
    """A schema reference to one of ``fhir_types`` (``<Type><suffix>`` components)."""
    refs = [{"$ref": f"{_REF}{name}{suffix}"} for name in fhir_types]
    return refs[0] if len(refs) == 1 else {"oneOf": refs}


def outcome_response(status: int, text: str) -> dict[str, Any]:
    """An error answer: an OperationOutcome (with the headers the status carries)."""
    example = outcome(issue(_ISSUE_CODES.get(status, "processing"), text, rule=f"http-{status}"))
    answer: dict[str, Any] = {
        "description": text,
        "content": {
            "application/fhir+json": {"schema": {"$ref": f"{_REF}OperationOutcome"}},
        },
    }
    answer["content"]["application/fhir+json"]["example"] = example
    if status == 401:
        answer["headers"] = {"WWW-Authenticate": header("WWW-Authenticate")}
    if status == 503:
        answer["headers"] = {"Retry-After": header("Retry-After")}
    return answer


_ISSUE_CODES: Final = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    406: "not-supported",
    409: "conflict",
    412: "conflict",
    415: "not-supported",
    422: "business-rule",
    502: "transient",
    503: "transient",
}


# ---------------------------------------------------------------- FHIR schemas from the models


def fhir_schema(name: str, *, request: bool = False) -> dict[str, Any]:
    """``name`` as JSON Schema: resourceType const, the required elements (see module doc)."""
    resource_type = {"type": "string"} | ({"const": name} if name != "Resource" else {})
    properties: dict[str, Any] = {
        "resourceType": resource_type,
        "id": {"type": "string", "pattern": FHIR_ID.pattern},
    }
    wanted = INPUT_REQUIRED.get(name, ()) if request else ()
    elements = _required_elements(name, 1, wanted) if name != "Resource" else {}
    wanted = wanted if request else tuple(elements)
    for element in wanted:
        properties[element] = elements[element]
    required = ["resourceType", *wanted] + (["id"] if name in _STORED and not request else [])
    link = f"https://hl7.org/fhir/R4/{name.lower()}.html"
    return {
        "type": "object",
        "description": f"FHIR R4 {name} ({link})" if name != "Resource" else "any FHIR resource",
        "required": required,
        "properties": properties,
    }


def _required_elements(model_name: str, depth: int, also: tuple[str, ...] = ()) -> dict[str, Any]:
    """Element name -> JSON Schema, for the elements FHIR requires of ``model_name`` (and those
    named in ``also``)."""
    model = get_fhir_model_class(model_name)
    found: dict[str, Any] = {}
    for info in model.model_fields.values():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if not extra.get("element_property"):
            continue
        if info.is_required() or extra.get("element_required") or info.alias in also:
            schema = _json_type(info.annotation, depth)
            codes = extra.get("enum_values")
            if isinstance(codes, list) and "+" not in codes and schema.get("type") == "string":
                schema["enum"] = list(codes)  # "+": the model lists only the first few codes
            found[str(info.alias)] = schema
    return found


_PRIMITIVES: Final[dict[type, str]] = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    Decimal: "number",
    datetime: "string",
    date: "string",
    time: "string",
    timedelta: "string",
}


def _json_type(annotation: Any, depth: int) -> dict[str, Any]:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return _json_type(next(a for a in get_args(annotation) if a is not type(None)), depth)
    if origin is Annotated:
        return _json_type(get_args(annotation)[0], depth)
    if origin is list:
        return {"type": "array", "minItems": 1, "items": _json_type(get_args(annotation)[0], depth)}
    if isinstance(annotation, type) and annotation in _PRIMITIVES:
        return {"type": _PRIMITIVES[annotation]}
    schema: dict[str, Any] = {"type": "object"}
    backbone = getattr(annotation, "__name__", "").removesuffix("Type")
    if depth > 0 and backbone[:1].isupper() and _is_backbone(backbone):
        nested = _required_elements(backbone, depth - 1)
        if nested:
            schema |= {"required": list(nested), "properties": nested}
    return schema


def _is_backbone(name: str) -> bool:
    """A BackboneElement of a resource (``OperationOutcomeIssue``), not a reusable data type."""
    try:
        model = get_fhir_model_class(name)
    except KeyError:
        return False
    return any(base.__name__ == "BackboneElement" for base in model.__mro__)


def components(doc: dict[str, Any]) -> dict[str, Any]:
    """The document's components: every schema it references, and the security schemes."""
    referenced = sorted(_references(doc["paths"]))
    found: dict[str, Any] = {}
    for name in referenced:
        if name in _PLAIN_SCHEMAS:
            found[name] = _PLAIN_SCHEMAS[name]
        elif name.endswith("Input"):
            found[name] = fhir_schema(name.removesuffix("Input"), request=True)
        else:
            found[name] = fhir_schema(name)
    return {"schemas": found, "securitySchemes": security_schemes(doc)}


def _references(value: Any) -> set[str]:
    if isinstance(value, dict):
        ref = value.get("$ref")
        own = {ref.removeprefix(_REF)} if isinstance(ref, str) and ref.startswith(_REF) else set()
        return own.union(*(_references(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_references(v) for v in value))
    return set()


def security_schemes(doc: dict[str, Any]) -> dict[str, Any]:
    """The OAuth2 client-credentials flow of /auth/token, and a pasted access token."""
    scopes = dict(KNOWN_SCOPES)
    for path_item in doc["paths"].values():
        for operation in path_item.values():
            for requirement in operation.get("security", []):
                for needed in requirement.get(SCHEMES[0], []):
                    scopes.setdefault(needed, "granted by any registered scope that includes it")
    return {
        SCHEMES[0]: {
            "type": "oauth2",
            "description": "SMART backend services: client credentials with a private_key_jwt "
            "client assertion (RFC 7523) posted to /auth/token; see the API description.",
            "flows": {"clientCredentials": {"tokenUrl": "/auth/token", "scopes": scopes}},
        },
        SCHEMES[1]: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "an access_token from POST /auth/token",
        },
    }


# ---------------------------------------------------------------- the routes that are not FHIR


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


_STRING: Final = {"type": "string"}
_PLAIN_SCHEMAS: Final[dict[str, Any]] = {
    "ConsentRevocationInput": _object(
        ["resourceType", "status"],
        resourceType={"type": "string", "const": "Consent"},
        status={"type": "string", "const": "inactive", "description": "the only change allowed"},
    ),
    "Health": _object(["status"], status={"type": "string", "enum": ["pass", "fail"]}),
    "Readiness": _object(
        ["status", "checks"],
        status={"type": "string", "enum": ["pass", "fail"]},
        checks={"type": "object", "additionalProperties": _object(["status"], status=_STRING)},
    ),
    "SmartConfiguration": _object(
        ["token_endpoint", "grant_types_supported", "token_endpoint_auth_methods_supported"],
        token_endpoint=_STRING,
        grant_types_supported={"type": "array", "items": _STRING},
        token_endpoint_auth_methods_supported={"type": "array", "items": _STRING},
        scopes_supported={"type": "array", "items": _STRING},
    ),
    "TokenResponse": _object(
        ["access_token", "token_type", "expires_in", "scope"],
        access_token=_STRING,
        token_type={"type": "string", "enum": ["Bearer", "bearer"]},
        expires_in={"type": "integer"},
        scope=_STRING,
    ),
    "OAuthError": _object(
        ["error"],
        error={
            "type": "string",
            "enum": [
                "invalid_request",
                "invalid_client",
                "invalid_grant",
                "unauthorized_client",
                "unsupported_grant_type",
                "invalid_scope",
            ],
        },
        error_description=_STRING,
    ),
}


def _json(schema: str, description: str) -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": f"{_REF}{schema}"}}}
    return {"description": description, "content": content}


def plain_bodies(operation: dict[str, Any], method: str, path: str) -> None:
    """The answers of the health, metrics, SMART discovery and token routes."""
    if path == "/health/live":
        operation["responses"] = {"200": _json("Health", "the process serves requests")}
    elif path == "/health/ready":
        operation["responses"] = {
            "200": _json("Readiness", "every check passes"),
            "503": _json("Readiness", "a check fails (named)"),
        }
    elif path == "/metrics":
        text = {"text/plain": {"schema": _STRING}}
        operation["responses"] = {"200": {"description": "Prometheus text", "content": text}}
    elif path == "/fhir/.well-known/smart-configuration":
        operation["responses"] = {"200": _json("SmartConfiguration", "SMART App Launch 2.x")}
    elif path == "/auth/token":
        operation["responses"] = {
            "200": _json("TokenResponse", "an access token (Cache-Control: no-store)"),
            "400": _json("OAuthError", "RFC 6749 5.2: malformed request, grant or scope"),
            "401": _json("OAuthError", "RFC 6749 5.2: invalid_client (the assertion)"),
        }
