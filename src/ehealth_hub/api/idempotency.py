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
  reservation older than :data:`IN_FLIGHT_TIMEOUT_S` (a crashed process) is taken over.

Keys are scoped per authenticated client (the token's ``client_id``): two clients may use the
same key. Requests without a valid token are left to the auth dependency (401), unrecorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.api.auth import token_service
from ehealth_hub.core.errors import AuthenticationError, Conflict, InvalidInput
from ehealth_hub.delivery.outbox import utc
from ehealth_hub.delivery.store import guard
from ehealth_hub.store.tables import idempotency_keys as keys

HEADER: Final = "idempotency-key"
IN_FLIGHT_TIMEOUT_S: Final = 60.0
_KEPT_HEADERS: Final = ("content-type", "location", "content-location", "etag", "last-modified")


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The answer recorded for a key."""

    status_code: int
    headers: dict[str, str]
    body: bytes


class IdempotencyStore:
    """Reservations and stored answers in the ``idempotency_keys`` table."""

    def __init__(self, engine: AsyncEngine, ttl: timedelta) -> None:
        self.engine = engine
        self.ttl = ttl

    async def reserve(
        self, scope: str, key: str, digest: str, now: datetime
    ) -> StoredAnswer | None:
        """None when this request now owns the key; the stored answer of an identical request."""
        for _ in range(2):
            if await self._insert(scope, key, digest, now):
                return None
            row = await self._load(scope, key)
            if row is None:
                continue  # expired and purged in between: try the insert again
            if utc(row["expires_at"]) <= now or (
                row["state"] == "in-flight"
                and (now - utc(row["created_at"])).total_seconds() > IN_FLIGHT_TIMEOUT_S
            ):
                await self.release(scope, key)
                continue
            return _answer_or_conflict(row, digest)
        raise Conflict(
            "Idempotency-Key is contended; retry", system="api", code="idempotency-key-in-flight"
        )

    async def _insert(self, scope: str, key: str, digest: str, now: datetime) -> bool:
        values = {
            "scope": scope,
            "key": key,
            "request_hash": digest,
            "state": "in-flight",
            "created_at": now,
            "expires_at": now + self.ttl,
        }
        async with guard("reserve", system="idempotency"):
            try:
                async with self.engine.begin() as conn:
                    await conn.execute(insert(keys).values(**values))
            except IntegrityError:
                return False
        return True

    async def _load(self, scope: str, key: str) -> dict[str, Any] | None:
        async with guard("load", system="idempotency"), self.engine.connect() as conn:
            row = (
                (await conn.execute(select(keys).where(keys.c.scope == scope, keys.c.key == key)))
                .mappings()
                .first()
            )
        return dict(row) if row else None

    async def complete(self, scope: str, key: str, answer: StoredAnswer) -> None:
        """Store the answer of the request that owns the key."""
        async with guard("complete", system="idempotency"), self.engine.begin() as conn:
            await conn.execute(
                update(keys)
                .where(keys.c.scope == scope, keys.c.key == key)
                .values(
                    state="done",
                    status_code=answer.status_code,
                    headers=orjson.dumps(answer.headers).decode(),
                    body=answer.body,
                )
            )

    async def release(self, scope: str, key: str) -> None:
        """Forget a reservation (the request failed; the client may try again)."""
        async with guard("release", system="idempotency"), self.engine.begin() as conn:
            await conn.execute(delete(keys).where(keys.c.scope == scope, keys.c.key == key))


def _answer_or_conflict(row: dict[str, Any], digest: str) -> StoredAnswer:
    if row["request_hash"] != digest:
        raise Conflict(
            "this Idempotency-Key was used for a different request",
            system="api",
            code="idempotency-key-reused",
        )
    if row["state"] != "done":
        raise Conflict(
            "a request with this Idempotency-Key is still being processed",
            system="api",
            code="idempotency-key-in-flight",
        )
    return StoredAnswer(
        int(row["status_code"]), orjson.loads(row["headers"] or "{}"), bytes(row["body"] or b"")
    )


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
        return token_service(request).verify(token.strip()).client_id
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
            container = request.app.state.container
            ttl = timedelta(seconds=container.settings.delivery.idempotency_ttl_seconds)
            store = IdempotencyStore(container.engine, ttl)
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
