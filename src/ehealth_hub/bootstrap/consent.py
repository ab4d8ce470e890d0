"""Wiring of the consent gate and the audit checkpoints (called by the composition root only)."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit.heads import HeadSigner, run_checkpoints
from ehealth_hub.audit.log import AuditLog
from ehealth_hub.consent.gate import ConsentGate
from ehealth_hub.consent.notify import RevocationListener, asyncpg_dsn
from ehealth_hub.consent.store import ConsentStore
from ehealth_hub.core.ports import ConsentPort, ExclusionPort, TherapeuticLinkPort
from ehealth_hub.settings import Settings


def build_gate(
    settings: Settings,
    engine: AsyncEngine,
    *,
    consent: ConsentPort,
    links: TherapeuticLinkPort,
    exclusions: ExclusionPort,
    store: ConsentStore,
    audit: AuditLog,
) -> ConsentGate:
    """The consent gate over these ports, the hub's consent store and audit trail."""
    return ConsentGate(
        consent=consent,
        links=links,
        exclusions=exclusions,
        engine=engine,
        config=settings.consent,
        store=store,
        audit=audit,
    )


def start_revocation_listener(settings: Settings, gate: ConsentGate) -> RevocationListener | None:
    """On PostgreSQL, listen for revocations made by other processes (None on SQLite)."""
    dsn = asyncpg_dsn(settings.database_url)
    if dsn is None:
        return None
    listener = RevocationListener(dsn, gate.cache)
    listener.start()
    return listener


def start_checkpoints(
    settings: Settings, engine: AsyncEngine
) -> tuple[HeadSigner, asyncio.Task[None], asyncio.Event]:
    """Sign the audit chain head every ``audit.checkpoint_interval_seconds`` in the background;
    setting the event stops it (after one last checkpoint)."""
    signer, stop = HeadSigner.from_settings(settings), asyncio.Event()
    task = asyncio.create_task(
        run_checkpoints(signer, engine, settings.audit.checkpoint_interval_seconds, stop),
        name="audit-checkpoints",
    )
    return signer, task, stop


async def stop_checkpoints(task: asyncio.Task[None], stop: asyncio.Event) -> None:
    """Stop the background signing (``ehealth-hub audit checkpoint`` signs on demand)."""
    stop.set()
    await task
