"""``Idempotency-Key`` on POST (draft-ietf-httpapi-idempotency-key-header-06), implemented once.

A router opts in with one line, ``APIRouter(route_class=IdempotentRoute)``; every POST route of it
then honours the header:

* first request with a key: processed normally; its answer (status, body, Location/ETag/...) is
  stored for ``delivery.idempotency_ttl_seconds`` (answers >= 500 are not stored: retry may help);
  expired keys are deleted by the workers' periodic purge (:mod:`ehealth_hub.delivery.retention`);
* same key, same request (method, path, query and body hashed with SHA-256): the stored answer,
  byte for byte, with ``Idempotent-Replayed: true``; the route is not run again;
* same key, another request: 409 Conflict (OperationOutcome, rule ``idempotency-key-reused``);
* same key while the first is still being processed: 409 (rule ``idempotency-key-in-flight``); a
  reservation older than
  :data:`~ehealth_hub.services.idempotency.IN_FLIGHT_TIMEOUT_S` (a crashed process) is taken
  over. The records live in :mod:`ehealth_hub.services.idempotency`.

Keys are scoped per authenticated client (the token's ``client_id``): two clients may use the
same key. Requests without a valid token are left to the auth dependency (401), unrecorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, Final

from fastapi import Request, Response
from fastapi.routing import APIRoute

from ehealth_hub.api.auth import verify_bearer
from ehealth_hub.core.errors import AuthenticationError, InvalidInput
from ehealth_hub.services.idempotency import IdempotencyStore, StoredAnswer

HEADER: Final = "idempotency-key"
_KEPT_HEADERS: Final = ("content-type", "location", "content-location", "etag", "last-modified")


def request_digest(request: Request, body: bytes) -> str:
    """SHA-256 over method, path, query and body."""
    head = f"{request.method}\n{request.url.path}\n{request.url.query}\n".encode()
    return hashlib.sha256(head + body).hexdigest()


def _client_scope(request: Request) -> str | None:
    """The calling client's id from its bearer token; None when it has none (auth answers 401)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        return verify_bearer(request, token.strip()).client_id
    except AuthenticationError:
        return None


def _checked_key(value: str) -> str:
    if not 1 <= len(value) <= 255 or not value.isprintable():
        raise InvalidInput(
            "Idempotency-Key must be 1..255 printable characters",
            field="Idempotency-Key",
            rule="idempotency-key-format",
            system="api",
        )
    return value


Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


class IdempotentRoute(APIRoute):
    """An APIRoute whose POSTs honour ``Idempotency-Key`` (see the module docstring)."""

    def get_route_handler(self) -> Endpoint:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            raw = request.headers.get(HEADER)
            scope = _client_scope(request) if raw is not None and request.method == "POST" else None
            if raw is None or scope is None:
                return await inner(request)
            key = _checked_key(raw)
            store: IdempotencyStore = request.app.state.container.idempotency
            digest = request_digest(request, await request.body())
            stored = await store.reserve(scope, key, digest, datetime.now(UTC))
            if stored is not None:
                headers = {**stored.headers, "idempotent-replayed": "true"}
                return Response(stored.body, status_code=stored.status_code, headers=headers)
            return await _run_and_store(inner, request, store, scope, key)

        return handler


async def _run_and_store(
    inner: Endpoint, request: Request, store: IdempotencyStore, scope: str, key: str
) -> Response:
    try:
        response = await inner(request)
    except BaseException:
        await store.release(scope, key)
        raise
    body = getattr(response, "body", None)
    if response.status_code >= 500 or not isinstance(body, bytes):
        await store.release(scope, key)
        return response
    headers = {k: v for k, v in response.headers.items() if k in _KEPT_HEADERS}
    await store.complete(scope, key, StoredAnswer(response.status_code, headers, body))
    return response
