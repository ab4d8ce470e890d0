"""Worker processes against a loopback receiver that de-duplicates by message id and counts
effects: a worker killed with SIGKILL mid-delivery loses nothing and causes no double effect;
several workers on PostgreSQL deliver each item once and keep per-key order."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.delivery.outbox import Status, enqueue
from ehealth_hub.fixtures.receiver import Receiver, serve
from ehealth_hub.store.db import create_engine, upgrade
from ehealth_hub.store.tables import outbox

REPO = Path(__file__).resolve().parents[2]


def spawn_worker(
    database_url: str, receiver_url: str, data_dir: Path, lease: float = 2.0
) -> subprocess.Popen[bytes]:
    """``ehealth-hub worker`` as its own process, delivering to the receiver."""
    env = {
        **os.environ,
        "EHEALTH_HUB_DATABASE_URL": database_url,
        "EHEALTH_HUB_DATA_DIR": str(data_dir),
        "EHEALTH_HUB_DELIVERY__WEBHOOKS": json.dumps({"receiver": receiver_url}),
        "EHEALTH_HUB_DELIVERY__LEASE_SECONDS": str(lease),
        "EHEALTH_HUB_DELIVERY__POLL_INTERVAL_SECONDS": "0.05",
        "EHEALTH_HUB_DELIVERY__BATCH_SIZE": "20",
        "EHEALTH_HUB_LOG__LEVEL": "info",  # "worker_started" tells the test it is polling
    }
    with (data_dir / f"worker-{uuid.uuid4().hex}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "ehealth_hub", "worker"],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


async def _fill(engine: AsyncEngine, keys: int, per_key: int) -> None:
    async with engine.begin() as conn:
        for n in range(per_key):
            for k in range(keys):
                await enqueue(
                    conn,
                    kind="note",
                    destination="receiver",
                    ordering_key=f"p{k}",
                    payload={"key": f"p{k}", "n": n},
                )


async def _wait_until_all_completed(engine: AsyncEngine, total: int, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        async with engine.connect() as conn:
            done = (
                await conn.execute(
                    select(func.count())
                    .select_from(outbox)
                    .where(outbox.c.status == Status.COMPLETED.value)
                )
            ).scalar_one()
        if done == total:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"only {done} of {total} items completed within {within}s")


async def _wait_started(
    data_dir: Path, workers: list[subprocess.Popen[bytes]], within: float = 60
) -> None:
    """Until every worker has logged "worker_started" (signal handlers installed, polling); a
    worker that exits first, or a timeout, fails with the exit codes and the workers' logs."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        logs = [p.read_text() for p in data_dir.glob("worker-*.log")]  # noqa: ASYNC240 - tiny files
        if sum("worker_started" in text for text in logs) >= len(workers):
            return
        if any(proc.poll() is not None for proc in workers):
            break
        await asyncio.sleep(0.05)
    codes = [proc.poll() for proc in workers]
    tails = "\n---\n".join(text[-1500:] for text in logs)
    raise AssertionError(f"workers not all started (exit codes {codes}); their logs:\n{tails}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_a_worker_killed_mid_delivery_loses_nothing_and_causes_no_double_effect(
    database_url: str, tmp_path: Path
) -> None:
    await upgrade(database_url)
    engine = create_engine(database_url)
    receiver = Receiver(hold=30.0, hold_count=3)  # the first answers never come back
    await _fill(engine, keys=10, per_key=3)
    async with serve(receiver) as url:
        first = spawn_worker(database_url, url, tmp_path)
        try:
            await asyncio.wait_for(receiver.arrived.wait(), 30)
            while len(receiver.effects) < 3:  # noqa: ASYNC110 - effects applied, answers held
                await asyncio.sleep(0.02)
            first.send_signal(signal.SIGKILL)
            assert first.wait(10) == -signal.SIGKILL
            receiver.release()
            second = spawn_worker(database_url, url, tmp_path)
            try:
                await _wait_until_all_completed(engine, 30, within=40)
            finally:
                _stop(second)
        finally:
            _stop(first)
    await engine.dispose()
    assert len(receiver.effects) == 30, "every item delivered"
    assert receiver.duplicates >= 1, "the killed worker's deliveries were sent again"
    assert all(n >= 1 for n in receiver.received.values())
    assert len(receiver.effects) == len(receiver.received), "one effect per message id"


@pytest.mark.postgres
async def test_competing_workers_deliver_each_item_once_and_keep_per_key_order(
    postgres_url: str, tmp_path: Path
) -> None:
    await upgrade(postgres_url)
    engine = create_engine(postgres_url)
    keys, per_key = 40, 10
    receiver = Receiver()
    async with serve(receiver) as url:
        workers = [spawn_worker(postgres_url, url, tmp_path, lease=30) for _ in range(3)]
        try:
            await _wait_started(tmp_path, workers)  # all three compete for the items
            await _fill(engine, keys, per_key)
            await _wait_until_all_completed(engine, keys * per_key, within=60)
        finally:
            for proc in workers:
                _stop(proc)
    await engine.dispose()
    logs = "".join(p.read_text() for p in tmp_path.glob("worker-*.log"))  # noqa: ASYNC240 - after the run
    codes = [proc.returncode for proc in workers]
    assert codes == [0] * len(workers), f"exit codes {codes}: {logs[-2000:]}"
    assert set(receiver.received.values()) == {1}, "no message received twice"
    assert len(receiver.effects) == keys * per_key
    by_key: dict[str, list[int]] = {}
    for payload in receiver.effects.values():  # dicts keep arrival order
        by_key.setdefault(payload["key"], []).append(payload["n"])
    assert all(seq == list(range(per_key)) for seq in by_key.values()), "per-key order kept"
