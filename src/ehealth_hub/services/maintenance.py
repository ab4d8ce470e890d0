"""The operator's commands behind ``ehealth-hub``: migrations, the audit trail, the outbox.

The CLI reaches storage and delivery only through here (services are the one door for api/ and
cli/): each function opens what it needs for the database named by ``settings`` (or its URL) and
closes it before returning.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit.heads import HeadSigner
from ehealth_hub.audit.verify import Report, Seal, verify
from ehealth_hub.delivery import queries, requeue, store
from ehealth_hub.delivery.engine import DeliveryEngine
from ehealth_hub.delivery.metrics import age_seconds
from ehealth_hub.delivery.outbox import Status
from ehealth_hub.delivery.retention import PurgeReport, purge
from ehealth_hub.delivery.worker import Worker
from ehealth_hub.settings import Settings
from ehealth_hub.store.db import create_engine, upgrade

__all__ = [
    "PurgeReport",
    "QueueRow",
    "Report",
    "checkpoint_audit",
    "database",
    "deliver",
    "outbox_stats",
    "purge_outbox",
    "replay_deliveries",
    "upgrade_database",
    "verify_audit_trail",
]


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One line of ``outbox stats``: items of a destination in one status."""

    destination: str
    status: str
    count: int
    oldest_age_seconds: float | None


async def upgrade_database(url: str, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (StorageError when the database refuses)."""
    await upgrade(url, revision)


@asynccontextmanager
async def database(url: str) -> AsyncIterator[AsyncEngine]:
    """An engine for ``url``, disposed on the way out."""
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def verify_audit_trail(settings: Settings) -> Report:
    """Verify the trail of the database named by ``settings`` against the signed heads, with the
    hub's key: every MAC, the heads' database, and no unsigned tail older than the bound."""
    signer = HeadSigner.from_settings(settings)
    seal = Seal(signer.mac_key, datetime.now(UTC), settings.audit.max_unsigned_seconds)
    async with database(settings.database_url) as engine:
        return await verify(engine, await asyncio.to_thread(signer.read), seal)


async def checkpoint_audit(settings: Settings) -> str:
    """Sign the committed head now; says what was signed."""
    signer = HeadSigner.from_settings(settings)
    async with database(settings.database_url) as engine:
        signed = await signer.checkpoint(engine, datetime.now(UTC))
    return f"signed head at record {signed.seq}" if signed else "head unchanged; nothing signed"


async def replay_deliveries(
    url: str,
    ids: tuple[str, ...],
    destination: str | None,
    statuses: str,
    since: datetime | None,
    *,
    dry_run: bool,
) -> list[str]:
    """Re-queue (or, ``dry_run``, list) the selected items; ``statuses``: ``dead,failed``;
    ValueError for an unknown status."""
    chosen = tuple(Status(s.strip()) for s in statuses.split(","))
    when = since.replace(tzinfo=UTC) if since and since.tzinfo is None else since
    selection = requeue.ReplayFilter(ids=ids, destination=destination, statuses=chosen, since=when)
    async with database(url) as engine, store.guard("replay"), engine.begin() as conn:
        return await requeue.replay(conn, selection, now=datetime.now(UTC), dry_run=dry_run)


async def outbox_stats(url: str) -> list[QueueRow]:
    """Queue depth per destination and status, and the age of the oldest item (as /metrics)."""
    async with database(url) as engine, store.guard("stats"), engine.connect() as conn:
        found = await queries.queue_stats(conn)
    now = datetime.now(UTC)
    return [
        QueueRow(s.destination, s.status, s.count, age_seconds(s.oldest, now))
        for s in sorted(found, key=lambda s: (s.destination, s.status))
    ]


async def purge_outbox(settings: Settings, *, dry_run: bool) -> PurgeReport:
    """Delete (or count) finished items past ``delivery.retention`` and expired
    Idempotency-Keys; audit events are never purged."""
    async with database(settings.database_url) as engine:
        return await purge(
            engine, settings.delivery.retention, now=datetime.now(UTC), dry_run=dry_run
        )


async def deliver(engine: DeliveryEngine) -> None:
    """Deliver outbox items with ``engine`` until it is stopped (``ehealth-hub worker``)."""
    await Worker(engine).run()
