"""Delivery throughput on PostgreSQL: 1, 2 and 4 ``ehealth-hub worker`` processes delivering to a
loopback receiver (webhook destination, de-duplicating by message id), with the duplicate count.

Floor, measured in the same run on the same database: the rate of single-row UPDATEs committed one
by one from 4 connections, i.e. what an outbox that commits every delivery separately could reach
at best. Items are spread over 500 ordering keys. Workers are started first and the items are
committed in one transaction once every worker is polling; the clock runs from that commit until
the last item is recorded as completed.

Run: ``python -m benchmarks outbox`` (``EHEALTH_HUB_BENCH_POSTGRES_URL``, default the local
trust-auth server; ``EHEALTH_HUB_BENCH_ITEMS`` items per run, default 4000).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy import func, select, text

from ehealth_hub.delivery.outbox import Status, enqueue
from ehealth_hub.fixtures.receiver import Receiver, serve
from ehealth_hub.store.db import create_engine, upgrade
from ehealth_hub.store.tables import outbox

ADMIN_URL = os.environ.get(
    "EHEALTH_HUB_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
ITEMS = int(os.environ.get("EHEALTH_HUB_BENCH_ITEMS", "4000"))
KEYS = 500
REPO = Path(__file__).resolve().parents[1]


async def _floor(url: str, seconds: float = 2.0) -> float:
    """Committed single-row UPDATEs per second from 4 connections."""
    conns = [await asyncpg.connect(url) for _ in range(4)]
    await conns[0].execute("CREATE TABLE floor (id int primary key, n int)")
    await conns[0].execute("INSERT INTO floor SELECT g, 0 FROM generate_series(0, 9999) g")
    deadline = time.perf_counter() + seconds
    counts = [0] * len(conns)

    async def run(i: int) -> None:
        while time.perf_counter() < deadline:
            await conns[i].execute("UPDATE floor SET n = n + 1 WHERE id = $1", counts[i] * 4 + i)
            counts[i] += 1

    started = time.perf_counter()
    await asyncio.gather(*(run(i) for i in range(len(conns))))
    elapsed = time.perf_counter() - started
    for conn in conns:
        await conn.close()
    return sum(counts) / elapsed


def _spawn(url: str, receiver_url: str, data_dir: Path, n: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "EHEALTH_HUB_DATABASE_URL": url,
        "EHEALTH_HUB_DATA_DIR": str(data_dir),
        "EHEALTH_HUB_DELIVERY__WEBHOOKS": json.dumps({"receiver": receiver_url}),
        "EHEALTH_HUB_DELIVERY__POLL_INTERVAL_SECONDS": "0.1",
        "EHEALTH_HUB_DELIVERY__BATCH_SIZE": "100",
        "EHEALTH_HUB_LOG__LEVEL": "info",
    }
    with (data_dir / f"worker-{n}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "ehealth_hub", "worker"],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def _read_logs(data_dir: Path) -> list[str]:
    return [p.read_text() for p in data_dir.glob("worker-*.log")]


async def _wait_started(data_dir: Path, n: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        logs = await asyncio.to_thread(_read_logs, data_dir)
        if sum("worker_started" in text for text in logs) >= n:
            return
        await asyncio.sleep(0.05)
    tail = "\n".join(text[-1500:] for text in await asyncio.to_thread(_read_logs, data_dir))
    raise RuntimeError(f"workers did not start within 60 s:\n{tail}")


async def _run(url: str, workers: int) -> tuple[float, int]:
    """Deliveries per second with ``workers`` processes, and the duplicates received."""
    engine = create_engine(url)
    async with engine.begin() as conn:  # each run starts from an empty, unbloated table
        await conn.execute(text("TRUNCATE outbox"))
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as tmp:
        async with serve(receiver) as receiver_url:
            procs = [_spawn(url, receiver_url, Path(tmp), n) for n in range(workers)]
            try:
                await _wait_started(Path(tmp), workers)
                async with engine.begin() as conn:
                    for i in range(ITEMS):
                        await enqueue(
                            conn,
                            kind="bench",
                            destination="receiver",
                            ordering_key=f"k{i % KEYS}",
                            payload={"i": i},
                        )
                started = time.perf_counter()
                async with engine.connect() as conn:
                    await conn.execute(text("ANALYZE outbox"))
                while True:
                    async with engine.connect() as conn:
                        done = (
                            await conn.execute(
                                select(func.count()).where(
                                    outbox.c.status == Status.COMPLETED.value
                                )
                            )
                        ).scalar_one()
                    if done >= ITEMS:
                        break
                    await asyncio.sleep(0.02)
                elapsed = time.perf_counter() - started
            finally:
                for proc in procs:
                    proc.send_signal(signal.SIGTERM)
                for proc in procs:
                    proc.wait(30)
    await engine.dispose()
    duplicates = receiver.duplicates + (len(receiver.received) - len(receiver.effects))
    return ITEMS / elapsed, duplicates


async def _main() -> int:
    name = f"ehub_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        await upgrade(url)
        floor = await _floor(url)
        print(f"floor: {floor:,.0f} committed single-row UPDATEs/s (4 connections)")
        print(f"{'workers':>7} {'deliveries/s':>13} {'x floor':>8} {'duplicates':>10}")
        failed = 0
        for workers in (1, 2, 4):
            rate, duplicates = await _run(url, workers)
            failed += duplicates != 0
            print(f"{workers:>7} {rate:>13,.0f} {rate / floor:>8.2f} {duplicates:>10}")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return 1 if failed else 0


def main() -> int:
    """Entry point for ``python -m benchmarks outbox``."""
    return asyncio.run(_main())


if __name__ == "__main__":
    sys.exit(main())
