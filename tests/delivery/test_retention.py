"""Retention on both backends: finished items and expired Idempotency-Keys are purged in batches
once past their retention, unfinished items never; the worker purges periodically; the
``ehealth-hub outbox purge`` and ``outbox stats`` commands."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from ehealth_hub.cli import app
from ehealth_hub.delivery import store
from ehealth_hub.delivery.engine import DeliveryEngine
from ehealth_hub.delivery.outbox import Status, enqueue
from ehealth_hub.delivery.retention import purge
from ehealth_hub.settings import RetentionSettings
from ehealth_hub.store.db import create_engine, upgrade
from ehealth_hub.store.tables import idempotency_keys, outbox
from tests.delivery.conftest import Clock

DAY = 86400.0
RETENTION = RetentionSettings(
    completed_seconds=DAY, failed_seconds=2 * DAY, dead_seconds=3 * DAY, batch_size=2
)


async def _finished(db: AsyncEngine, now: datetime, key: str, status: Status) -> str:
    """An item claimed and recorded as ``status`` at ``now``."""
    async with db.begin() as conn:
        item = await enqueue(
            conn, kind="note", destination="gp", ordering_key=key, payload={}, now=now
        )
        [claimed] = await store.claim(
            conn, owner="w", destinations=["gp"], now=now, lease=timedelta(seconds=30), limit=1
        )
        await store.record(conn, [store.Outcome(claimed, status)], owner="w", now=now)
    return item.id


async def _unfinished(db: AsyncEngine, now: datetime) -> dict[Status, str]:
    """One in-progress, one pending and one waiting item (behind the pending one)."""
    async with db.begin() as conn:
        leased = await enqueue(
            conn, kind="note", destination="queued", ordering_key="busy", payload={}, now=now
        )
        await store.claim(
            conn, owner="w", destinations=["queued"], now=now, lease=timedelta(days=30), limit=1
        )
        first = await enqueue(
            conn, kind="note", destination="queued", ordering_key="queue", payload={}, now=now
        )
        second = await enqueue(
            conn, kind="note", destination="queued", ordering_key="queue", payload={}, now=now
        )
    assert second.status is Status.WAITING
    return {Status.IN_PROGRESS: leased.id, Status.PENDING: first.id, Status.WAITING: second.id}


async def _ids(db: AsyncEngine) -> set[str]:
    async with db.connect() as conn:
        return set((await conn.execute(select(outbox.c.id))).scalars())


async def _add_key(db: AsyncEngine, key: str, expires_at: datetime) -> None:
    async with db.begin() as conn:
        await conn.execute(
            insert(idempotency_keys).values(
                scope="client",
                key=key,
                request_hash="0" * 64,
                state="done",
                created_at=expires_at - timedelta(days=1),
                expires_at=expires_at,
            )
        )


async def test_purge_deletes_finished_items_past_their_retention_and_never_unfinished_ones(
    db: AsyncEngine, clock: Clock
) -> None:
    start = clock()
    done = [await _finished(db, start, f"c{n}", Status.COMPLETED) for n in range(3)]
    failed = await _finished(db, start, "f", Status.FAILED)
    dead = await _finished(db, start, "d", Status.DEAD)
    unfinished = await _unfinished(db, start)
    clock.advance(1.5 * DAY)
    recent = await _finished(db, clock(), "c-new", Status.COMPLETED)

    report = await purge(db, RETENTION, now=clock())
    assert report.outbox == {"completed": 3, "failed": 0, "dead": 0}
    assert await _ids(db) == {failed, dead, recent, *unfinished.values()}

    clock.advance(2 * DAY)
    report = await purge(db, RETENTION, now=clock())
    assert report.outbox == {"completed": 1, "failed": 1, "dead": 1}
    assert await _ids(db) == set(unfinished.values()), "unfinished items are never purged"
    assert done[0] not in await _ids(db)


async def test_a_periodic_pass_is_bounded_to_small_batches(db: AsyncEngine, clock: Clock) -> None:
    for n in range(5):
        await _finished(db, clock(), f"c{n}", Status.COMPLETED)
    clock.advance(2 * DAY)
    bounded = await purge(db, RETENTION, now=clock(), max_batches=2)
    assert (bounded.outbox["completed"], bounded.more) == (4, True), "two batches of two"
    rest = await purge(db, RETENTION, now=clock())
    assert (rest.outbox["completed"], rest.more) == (1, False)
    assert await _ids(db) == set()


async def test_expired_idempotency_keys_are_purged_and_live_ones_kept(
    db: AsyncEngine, clock: Clock
) -> None:
    for n in range(3):
        await _add_key(db, f"old-{n}", clock() - timedelta(seconds=1))
    await _add_key(db, "live", clock() + timedelta(hours=1))
    report = await purge(db, RETENTION, now=clock())
    assert report.idempotency_keys == 3
    async with db.connect() as conn:
        left = set((await conn.execute(select(idempotency_keys.c.key))).scalars())
    assert left == {"live"}


async def test_a_dry_run_counts_what_would_go_and_deletes_nothing(
    db: AsyncEngine, clock: Clock
) -> None:
    await _finished(db, clock(), "c", Status.COMPLETED)
    await _finished(db, clock(), "d", Status.DEAD)
    await _add_key(db, "old", clock() - timedelta(seconds=1))
    clock.advance(1.5 * DAY)
    report = await purge(db, RETENTION, now=clock(), dry_run=True)
    assert (report.outbox, report.idempotency_keys, report.dry_run) == (
        {"completed": 1, "failed": 0, "dead": 0},
        1,
        True,
    )
    assert len(await _ids(db)) == 2


async def test_the_running_worker_purges_on_its_own(
    delivery: DeliveryEngine, db: AsyncEngine, clock: Clock
) -> None:
    gone = await _finished(db, clock(), "c", Status.COMPLETED)
    clock.advance(31 * DAY)  # past the default retention of completed items (30 days)
    kept = await _finished(db, clock(), "c2", Status.COMPLETED)
    delivery.start(worker=True)  # the in-process worker; the first pass runs at start
    try:
        for _ in range(100):
            if gone not in await _ids(db):
                break
            await asyncio.sleep(0.05)
    finally:
        await delivery.stop()
    assert await _ids(db) == {kept}


def _seed_for_cli(url: str) -> None:
    async def seed() -> None:
        await upgrade(url)
        engine = create_engine(url)
        old = datetime.now(UTC) - timedelta(days=100)
        await _finished(engine, old, "old", Status.DEAD)
        await _finished(engine, datetime.now(UTC), "new", Status.COMPLETED)
        async with engine.begin() as conn:
            for key in ("a", "a", "b"):
                await enqueue(
                    conn,
                    kind="note",
                    destination="ehbox",
                    ordering_key=key,
                    payload={},
                    now=old,
                )
        await engine.dispose()

    asyncio.run(seed())


def _count(url: str) -> int:
    async def count() -> int:
        engine = create_engine(url)
        async with engine.connect() as conn:
            n = (await conn.execute(select(func.count()).select_from(outbox))).scalar_one()
        await engine.dispose()
        return int(n)

    return asyncio.run(count())


def test_outbox_purge_command_dry_runs_then_purges(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed_for_cli(sqlite_url)
    monkeypatch.setenv("EHEALTH_HUB_DATABASE_URL", sqlite_url)
    runner = CliRunner()
    dry = runner.invoke(app, ["outbox", "purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "outbox dead: 1" in dry.stdout
    assert _count(sqlite_url) == 5
    done = runner.invoke(app, ["outbox", "purge"])
    assert done.exit_code == 0, done.output
    assert "outbox dead: 1" in done.stdout
    assert _count(sqlite_url) == 4, "the recent completed item and the queue stay"


def test_outbox_stats_shows_depth_per_destination_and_status_and_the_oldest_age(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed_for_cli(sqlite_url)
    monkeypatch.setenv("EHEALTH_HUB_DATABASE_URL", sqlite_url)
    result = CliRunner().invoke(app, ["outbox", "stats"])
    assert result.exit_code == 0, result.output
    rows = {tuple(line.split()[:3]): line.split()[3] for line in result.stdout.splitlines()[1:]}
    assert set(rows) == {("ehbox", "pending", "2"), ("ehbox", "waiting", "1"), ("gp", "dead", "1")}
    assert float(rows[("ehbox", "pending", "2")]) == pytest.approx(100 * DAY, rel=0.01)
