"""The records behind ``Idempotency-Key`` (:mod:`ehealth_hub.api.idempotency` is the HTTP side).

One row per (client, key) in ``idempotency_keys``: a reservation while the first request runs,
then its answer (status, kept headers, body) until ``delivery.idempotency_ttl_seconds`` have
passed; the workers' periodic purge deletes expired rows (:mod:`ehealth_hub.delivery.retention`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import orjson
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.core.errors import Conflict, RuleViolation
from ehealth_hub.delivery.outbox import utc
from ehealth_hub.delivery.store import guard
from ehealth_hub.store.tables import idempotency_keys as keys

IN_FLIGHT_TIMEOUT_S: Final = 60.0
"""A reservation older than this (its process crashed) is taken over."""


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
    if row["request_hash"] != digest:  # draft-ietf-httpapi-idempotency-key-header 2.7: 422
        raise RuleViolation(
            "this Idempotency-Key was used for a different request (another body, path or query):"
            " use a new key for a new request",
            field="Idempotency-Key",
            rule="idempotency-key-reused",
            system="api",
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
