"""The OpenAPI document, as the server behaves: ``/openapi.json`` (and ``/docs``) read it.

FastAPI sees the routes' paths, query/path/header parameters and scopes, but not what the
routes read from the body themselves nor what the error handlers answer. :func:`build_document`
takes FastAPI's output and states the rest from one table:

* bodies: FHIR JSON (``application/fhir+json``; requests also as ``application/json``), each
  schema a resource type with its ``resourceType`` const and the elements FHIR R4 requires
  (:mod:`ehealth_hub.api.openapi_schemas`), request examples built from the sandbox fixtures
  when the document is built (:mod:`ehealth_hub.api.openapi_examples`);
* errors: every error is an OperationOutcome; which statuses an operation may answer comes from
  :data:`GENERIC_ERRORS` (one rule per status, e.g. every route with a body may answer 415 and
  422, every protected route 401/403/503) plus the few an operation adds (:class:`Spec.also`);
  401 carries ``WWW-Authenticate``, 503 ``Retry-After``;
* security: the OAuth2 client-credentials flow of ``POST /auth/token`` (a ``private_key_jwt``
  client assertion, RFC 7523) with each operation's scopes read from its
  :func:`~ehealth_hub.api.auth.require_scope` dependency, or a pasted access token; public routes
  (:data:`~ehealth_hub.api.auth.PUBLIC_PATHS`) have none;
* links: Consent create -> read/update/delete, note and claim 202 -> Task read, so that a client
  (and schemathesis' stateful phase) can follow what an operation created.

An operation the table does not know (a route added later) still gets the generic errors and
"any FHIR resource" bodies, until the table names its types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from ehealth_hub.api import openapi_examples as examples
from ehealth_hub.api import openapi_schemas as schemas
from ehealth_hub.api.auth import ScopeRequirement, is_public
from ehealth_hub.api.idempotency import IdempotentRoute
from ehealth_hub.api.responses import FHIR_JSON

Example = Callable[[datetime], dict[str, dict[str, Any]]]
"""Named examples (``{name: {"summary", "value"}}``) built for the moment ``now``."""


@dataclass(frozen=True, slots=True)
class Link:
    """An OpenAPI link: the ``id`` of a ``status`` answer names the resource of a target."""

    status: int
    name: str
    method: str
    path: str
    parameter: str


@dataclass(frozen=True, slots=True)
class Spec:
    """What FastAPI cannot see of one FHIR operation."""

    answers: Mapping[int, tuple[str, ...]]
    """Success status -> the FHIR resource types its body may be (``()``: no body)."""
    accepts: tuple[str, ...] = ()
    """The FHIR resource types the request body may be (``()``: no body)."""
    examples: Example | None = None
    headers: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    """Success status -> the response headers it always carries."""
    links: tuple[Link, ...] = ()
    also: frozenset[int] = frozenset()
    """Error statuses beyond :data:`GENERIC_ERRORS` (502: a source answered nonsense)."""


_STORED = ("ETag", "Location", "Last-Modified")
_ACCEPTED = ("Location", "Content-Location", "ETag")
_TASK = "/fhir/Task/{task_id}"
_CONSENT = "/fhir/Consent/{consent_id}"
_SOURCE = frozenset({502})

OPERATIONS: Final[Mapping[tuple[str, str], Spec]] = {
    ("get", "/fhir/metadata"): Spec({200: ("CapabilityStatement",)}),
    ("get", "/fhir/Patient/$summary"): Spec({200: ("Bundle",)}, also=_SOURCE),
    ("post", "/fhir/Patient/$summary"): Spec(
        {200: ("Bundle",)}, ("Parameters",), examples.summary_examples, also=_SOURCE
    ),
    ("get", "/fhir/Patient"): Spec({200: ("Bundle",)}, also=_SOURCE),
    ("post", "/fhir/DocumentReference"): Spec(
        {202: ("Task",)},
        ("DocumentReference",),
        examples.note_examples,
        {202: _ACCEPTED},
        (Link(202, "ReadTask", "get", _TASK, "task_id"),),
        _SOURCE,
    ),
    ("get", _TASK): Spec({200: ("Task",)}, headers={200: ("ETag",)}),
    ("get", "/fhir/Task"): Spec({200: ("Bundle",)}),
    ("post", "/fhir/Task/{task_id}/$replay"): Spec({200: ("Task",)}, headers={200: ("ETag",)}),
    ("post", "/fhir/Task/$replay"): Spec({200: ("Parameters",)}),
    ("post", "/fhir/Claim/$submit"): Spec(
        {200: ("ClaimResponse",), 202: ("Task",)},
        ("Claim", "Parameters"),
        examples.claim_examples,
        {202: _ACCEPTED},
        (Link(202, "ReadTask", "get", _TASK, "task_id"),),
        _SOURCE,
    ),
    ("post", "/fhir/CoverageEligibilityRequest/$submit"): Spec(
        {200: ("CoverageEligibilityResponse",)},
        ("CoverageEligibilityRequest",),
        examples.eligibility_examples,
        also=_SOURCE,
    ),
    ("post", "/fhir/Consent"): Spec(
        {201: ("Consent",), 200: ("Consent",)},
        ("Consent",),
        examples.consent_examples,
        {201: _STORED, 200: _STORED},
        tuple(
            Link(status, name, method, _CONSENT, "consent_id")
            for status in (201, 200)
            for name, method in (("Read", "get"), ("Revoke", "put"), ("Delete", "delete"))
        ),
    ),
    ("get", "/fhir/Consent"): Spec({200: ("Bundle",)}),
    ("get", "/fhir/Consent/$explain"): Spec({200: ("Parameters",)}, also=_SOURCE),
    ("get", _CONSENT): Spec({200: ("Consent",)}, headers={200: _STORED}),
    ("put", _CONSENT): Spec({200: ("Consent",)}, ("ConsentRevocation",), headers={200: _STORED}),
    ("delete", _CONSENT): Spec({200: ("Consent",)}, headers={200: _STORED}),
    ("get", "/fhir/AuditEvent"): Spec({200: ("Bundle",)}),
}
"""The FHIR operations: what they answer and accept (FastAPI states the parameters)."""

GENERIC_ERRORS: Final[tuple[tuple[int, str, str], ...]] = (
    (400, "any", "malformed: a parameter, header or the body breaks its rule (named in the issue)"),
    (401, "protected", "no valid access token (see WWW-Authenticate)"),
    (403, "protected", "refused: the token lacks the scope, or the consent gate said no (why)"),
    (404, "by_id", "no such resource for this client"),
    (406, "fhir", "Accept or _format asks for something other than FHIR JSON"),
    (
        409,
        "conflicting",
        "the first request with this Idempotency-Key is still running, or a conflicting change",
    ),
    (412, "conditional", "If-Match names a version that is not the current one"),
    (415, "body", "the body is neither application/fhir+json nor application/json"),
    (
        422,
        "fhir_input",
        "well-formed but invalid (a check digit, a business rule: named), or an "
        "Idempotency-Key reused for another request",
    ),
    (503, "protected", "a source or the database is unreachable: retry after Retry-After"),
)
"""(status, the :class:`Facts` attribute that says an operation may answer it, meaning)."""

STATUS_TEXT: Final = {status: text for status, _, text in GENERIC_ERRORS} | {
    502: "a source answered something the hub cannot use (retry may help)"
}


@dataclass(frozen=True, slots=True)
class Facts:
    """What decides an operation's generic errors."""

    method: str
    path: str
    route: APIRoute
    spec: Spec
    query: bool
    """The operation has query parameters (FastAPI's document lists them)."""

    @property
    def any(self) -> bool:
        return True

    @property
    def protected(self) -> bool:
        return not is_public(self.path)

    @property
    def by_id(self) -> bool:
        return "{" in self.path

    @property
    def fhir(self) -> bool:
        return self.path.startswith("/fhir")

    @property
    def idempotent(self) -> bool:
        return self.method == "post" and isinstance(self.route, IdempotentRoute)

    @property
    def conflicting(self) -> bool:
        return self.idempotent or self.conditional

    @property
    def conditional(self) -> bool:
        return self.method in ("put", "delete")

    @property
    def body(self) -> bool:
        return bool(self.spec.accepts)

    @property
    def fhir_input(self) -> bool:
        # an idempotent POST without body or query still answers 422 for a key reused elsewhere
        return self.fhir and self.protected and (self.body or self.query or self.idempotent)

    def errors(self) -> list[int]:
        statuses = {status for status, rule, _ in GENERIC_ERRORS if getattr(self, rule)}
        return sorted(statuses | self.spec.also)


def install_openapi(app: FastAPI) -> None:
    """Serve :func:`build_document` as the app's ``/openapi.json``. Built on each ask (~0.1 s),
    not cached: its request examples (a consent valid for the next hour, a claim for today) stay
    usable against the sandbox however long the hub runs."""

    def document() -> dict[str, Any]:
        return build_document(app, datetime.now(UTC))

    app.openapi = document  # type: ignore[method-assign]  # FastAPI's documented override


def build_document(app: FastAPI, now: datetime) -> dict[str, Any]:
    """The app's OpenAPI document, its request examples built for ``now``."""
    doc = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=schemas.DESCRIPTION,
        routes=app.routes,
    )
    ids = {(m, p): op["operationId"] for p, ops in doc["paths"].items() for m, op in ops.items()}
    for method, path, route in _operations(app):
        operation = doc["paths"][path][method]
        spec = OPERATIONS.get((method, path)) or _default_spec(route, path)
        query = any(p["in"] == "query" for p in operation.get("parameters", []))
        facts = Facts(method, path, route, spec, query)
        _parameters(operation, facts)
        if path.startswith("/fhir") and path != "/fhir/.well-known/smart-configuration":
            _fhir_bodies(operation, spec, now)
            _not_modified(operation)
            _links(operation, spec, ids)
        else:
            schemas.plain_bodies(operation, method, path)
        _errors(operation, facts)
        operation["security"] = _security(route) if facts.protected else []
    doc["components"] = schemas.components(doc)
    return doc


def _operations(app: FastAPI) -> Iterator[tuple[str, str, APIRoute]]:
    """(method, path, route) of every documented operation (routers included, as FastAPI walks
    them for its own document)."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            for method in sorted(route.methods or ()):
                yield method.lower(), route.path_format, route


def _default_spec(route: APIRoute, path: str) -> Spec:
    """A FHIR route the table does not know: any resource, with a body when it is a write."""
    status = route.status_code or 200
    if not path.startswith("/fhir"):
        return Spec({status: ()})
    writes = bool((route.methods or set()) & {"POST", "PUT", "PATCH"}) and "$" not in path
    return Spec({status: ("Resource",)}, ("Resource",) if writes else ())


def _parameters(operation: dict[str, Any], facts: Facts) -> None:
    parameters = operation.setdefault("parameters", [])
    names = {p["name"].lower() for p in parameters}
    if facts.fhir and "_format" not in names:
        parameters.append(schemas.FORMAT_PARAMETER)
    if facts.idempotent and "idempotency-key" not in names:
        parameters.append(schemas.IDEMPOTENCY_PARAMETER)
    if not parameters:
        del operation["parameters"]


def _fhir_bodies(operation: dict[str, Any], spec: Spec, now: datetime) -> None:
    responses: dict[str, Any] = {}
    for status, types in sorted(spec.answers.items()):
        answer: dict[str, Any] = {"description": schemas.answer_text(status, types)}
        if types:
            answer["content"] = {FHIR_JSON: {"schema": schemas.ref_one_of(types)}}
        if status in spec.headers:
            answer["headers"] = {h: schemas.header(h) for h in spec.headers[status]}
        responses[str(status)] = answer
    operation["responses"] = responses
    operation.pop("requestBody", None)
    if spec.accepts:
        schema = schemas.ref_one_of(spec.accepts, suffix="Input")
        media: dict[str, Any] = {"schema": schema}
        if spec.examples is not None:
            media["examples"] = spec.examples(now)
        operation["requestBody"] = {
            "required": True,
            "content": {FHIR_JSON: media, "application/json": media},
        }


def _not_modified(operation: dict[str, Any]) -> None:
    """A read that takes If-None-Match answers 304 when it names the current version."""
    names = {p["name"].lower() for p in operation.get("parameters", [])}
    if "if-none-match" in names:
        operation["responses"].setdefault("304", {"description": schemas.answer_text(304, ())})


def _links(operation: dict[str, Any], spec: Spec, ids: Mapping[tuple[str, str], str]) -> None:
    for link in spec.links:
        target = ids.get((link.method, link.path))
        answer = operation["responses"].get(str(link.status))
        if target is None or answer is None:
            continue  # the target route is not served (or this answer is not documented)
        answer.setdefault("links", {})[link.name] = {
            "operationId": target,
            "parameters": {link.parameter: "$response.body#/id"},
            "description": f"the resource this answer names, by its id ({link.parameter})",
        }


def _errors(operation: dict[str, Any], facts: Facts) -> None:
    responses = operation["responses"]
    for status in facts.errors():
        if str(status) in responses:
            continue  # the token endpoint's OAuth errors are stated with its body
        responses[str(status)] = schemas.outcome_response(status, STATUS_TEXT[status])


def _security(route: APIRoute) -> list[dict[str, list[str]]]:
    """Alternatives: any one of the route's scopes, by the OAuth2 flow or a pasted token."""
    required = [scope for need in _scope_requirements(route.dependant) for scope in need.scopes]
    wanted = [[scope] for scope in required] or [[]]
    return [{scheme: scopes} for scheme in schemas.SCHEMES for scopes in wanted]


def _scope_requirements(dependant: Dependant) -> Iterator[ScopeRequirement]:
    for sub in dependant.dependencies:
        if isinstance(sub.call, ScopeRequirement):
            yield sub.call
        yield from _scope_requirements(sub)
