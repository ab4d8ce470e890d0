"""Revocations reach every API process on PostgreSQL (LISTEN/NOTIFY); a deaf process fails closed.

Two engines on one database stand for two API processes: process A decides with its own gate,
cache and listener; process B revokes through its own consent store (as its API does).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.bootstrap import build_container
from ehealth_hub.consent.gate import ConsentGate
from ehealth_hub.consent.notify import APPLICATION_NAME, RevocationListener, asyncpg_dsn
from ehealth_hub.consent.store import ConsentStore
from ehealth_hub.core.errors import ConsentDenied
from ehealth_hub.settings import ConsentSettings, load_settings
from ehealth_hub.store.db import create_engine, upgrade
from tests.consent._support import consent_resource
from tests.consent.conftest import Clock
from tests.consent.test_gate import AN, SARAH, read
from tests.fakes.consent import FakeConsentService, sandbox_services

pytestmark = pytest.mark.postgres


@dataclass
class Process:
    engine: AsyncEngine
    gate: ConsentGate
    store: ConsentStore
    consent: FakeConsentService


async def wait_until(condition: Callable[[], bool], attempts: int = 500) -> None:
    """Poll ``condition`` every 10 ms (5 s by default): notifications arrive asynchronously."""
    for _ in range(attempts):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition did not hold in time")


@pytest.fixture
async def processes(postgres_url: str) -> AsyncIterator[tuple[Process, Process]]:
    await upgrade(postgres_url)
    made: list[Process] = []
    clock = Clock()
    for _ in range(2):
        engine = create_engine(postgres_url)
        consent, links, exclusions = sandbox_services()
        store = ConsentStore()
        gate = ConsentGate(
            consent=consent,
            links=links,
            exclusions=exclusions,
            engine=engine,
            config=ConsentSettings(),  # the default timeout: a loaded CI machine is slow
            store=store,
            clock=clock,
        )
        made.append(Process(engine, gate, store, consent))
    yield made[0], made[1]
    for process in made:
        await process.engine.dispose()


Listen = Callable[..., Awaitable[RevocationListener]]


@pytest.fixture
async def listen(postgres_url: str, processes: tuple[Process, Process]) -> AsyncIterator[Listen]:
    """Start process A's listener (reconnecting after ``backoff`` seconds) and wait for LISTEN."""
    started: list[RevocationListener] = []
    dsn = asyncpg_dsn(postgres_url)
    assert dsn is not None

    async def start(backoff: float = 0.05) -> RevocationListener:
        listener = RevocationListener(
            dsn, processes[0].gate.cache, min_backoff=backoff, check_interval=0.5
        )
        started.append(listener)
        listener.start()
        await asyncio.wait_for(listener.listening.wait(), 5)
        return listener

    yield start
    for listener in started:
        await listener.stop()


async def record_consent(process: Process) -> str:
    now = Clock().now
    resource = consent_resource(AN.ssin, SARAH.nihii, start=now - timedelta(minutes=5))
    async with process.engine.begin() as conn:
        stored = await process.store.create(conn, resource, now)
    return stored.consent.consent_id


async def cache_permit(a: Process) -> None:
    await a.gate.authorize(read())
    assert a.gate.cache.get(read(), Clock().now) is not None, "A should now serve from its cache"


async def kill_listening_connection(postgres_url: str) -> None:
    admin = await asyncpg.connect(postgres_url)
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = $1 AND datname = current_database()",
            APPLICATION_NAME,
        )
    finally:
        await admin.close()
    assert killed == 1


async def test_revocation_by_another_process_denies_the_next_request_here(
    processes: tuple[Process, Process], listen: Listen
) -> None:
    a, b = processes
    await listen()
    consent_id = await record_consent(b)
    await cache_permit(a)
    async with b.engine.begin() as conn:
        await b.store.set_status(conn, consent_id, "inactive", Clock().now)
    await wait_until(lambda: len(a.gate.cache) == 0)  # NOTIFY is delivered on B's commit
    with pytest.raises(ConsentDenied):
        await a.gate.authorize(read())


async def test_a_rolled_back_revocation_notifies_nobody(
    processes: tuple[Process, Process], listen: Listen
) -> None:
    a, b = processes
    await listen()
    consent_id = await record_consent(b)
    await cache_permit(a)
    async with b.engine.connect() as conn:
        await b.store.set_status(conn, consent_id, "inactive", Clock().now)
        await conn.rollback()
    await asyncio.sleep(0.3)
    assert len(a.gate.cache) == 1
    await a.gate.authorize(read())


async def test_does_not_serve_from_cache_while_the_listener_is_disconnected(
    postgres_url: str, processes: tuple[Process, Process], listen: Listen
) -> None:
    a, _ = processes
    listener = await listen(backoff=60.0)
    await record_consent(a)
    await cache_permit(a)
    await kill_listening_connection(postgres_url)
    await wait_until(lambda: not listener.listening.is_set())
    assert not a.gate.cache.serving
    a.consent.consents.pop(AN.ssin)  # a change this process is not told about
    with pytest.raises(ConsentDenied):
        await a.gate.authorize(read())


async def test_reconnects_and_hears_revocations_again(
    postgres_url: str, processes: tuple[Process, Process], listen: Listen
) -> None:
    a, b = processes
    listener = await listen()
    consent_id = await record_consent(b)
    await kill_listening_connection(postgres_url)
    await wait_until(lambda: listener.connections == 2 and listener.listening.is_set())
    await cache_permit(a)
    async with b.engine.begin() as conn:
        await b.store.set_status(conn, consent_id, "inactive", Clock().now)
    await wait_until(lambda: len(a.gate.cache) == 0)
    with pytest.raises(ConsentDenied):
        await a.gate.authorize(read())


def test_sqlite_needs_no_listener() -> None:
    assert asyncpg_dsn("sqlite:///var/hub.db") is None
    assert asyncpg_dsn("postgresql://u:p@db:5432/hub") == "postgresql://u:p@db:5432/hub"


async def listening_connections(postgres_url: str) -> int:
    admin = await asyncpg.connect(postgres_url)
    try:
        count: int = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = $1 AND datname = current_database()",
            APPLICATION_NAME,
        )
    finally:
        await admin.close()
    return count


async def test_the_container_listens_on_postgresql_and_stops_on_close(
    postgres_url: str, tmp_path: Path
) -> None:
    settings = load_settings(
        database_url=postgres_url, data_dir=tmp_path / "var", log={"level": "warning"}
    )
    container = await build_container(settings, migrate=True)
    try:
        assert container.consent_gate is not None
        cache = container.consent_gate.cache
        await wait_until(lambda: cache.serving)
        assert await listening_connections(postgres_url) == 1
    finally:
        await container.aclose()
    assert not cache.serving
    for _ in range(100):  # the server notices the closed socket asynchronously
        if await listening_connections(postgres_url) == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the listening connection outlived the container")
