"""Serialised audit appends: a fair in-process queue, one chain across tasks and processes."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit.log import AuditLog
from ehealth_hub.audit.verify import verify
from ehealth_hub.core.errors import Conflict
from ehealth_hub.store.tables import audit_events
from tests.audit.test_log import record

REPO = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from ehealth_hub.audit.log import AuditLog
    from ehealth_hub.store.db import create_engine
    from tests.audit.test_log import record

    async def main(url: str, worker: int, count: int) -> None:
        engine = create_engine(url)
        log = AuditLog()
        await asyncio.gather(
            *(log.append(engine, record(n, id=f"p{worker}-{n}")) for n in range(count))
        )
        await engine.dispose()

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
    """
)


async def ids_in_chain_order(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(audit_events.c.id).order_by(audit_events.c.seq))
        return [str(row[0]) for row in rows]


async def test_concurrent_appends_queue_in_arrival_order_on_one_chain(engine: AsyncEngine) -> None:
    log = AuditLog()
    await asyncio.gather(*(log.append(engine, record(n)) for n in range(40)))
    report = await verify(engine, [])
    assert report.ok, report.problems
    assert await ids_in_chain_order(engine) == [f"evt-{n}" for n in range(40)]


async def test_a_failed_append_rolls_back_and_lets_the_next_writer_through(
    engine: AsyncEngine,
) -> None:
    log = AuditLog()
    await log.append(engine, record(1))
    with pytest.raises(Conflict):
        await log.append(engine, record(1))  # same id: refused, nothing half-written
    head = await log.append(engine, record(2))
    assert head.seq == 2
    report = await verify(engine, [])
    assert report.ok, report.problems
    assert await ids_in_chain_order(engine) == ["evt-1", "evt-2"]


async def test_appends_from_several_processes_keep_one_unbroken_chain(
    engine: AsyncEngine, database_url: str
) -> None:
    workers, count = 3, 15
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, database_url, str(w), str(count), cwd=REPO
        )
        for w in range(workers)
    ]
    local = AuditLog()
    await asyncio.gather(*(local.append(engine, record(n, id=f"here-{n}")) for n in range(count)))
    codes = await asyncio.gather(*(p.wait() for p in processes))
    assert codes == [0] * workers
    report = await verify(engine, [])
    assert report.ok, report.problems
    assert report.records == (workers + 1) * count
    assert len(set(await ids_in_chain_order(engine))) == (workers + 1) * count


async def test_concurrent_appends_commit_together(engine: AsyncEngine) -> None:
    commits: list[int] = []
    event.listen(engine.sync_engine, "commit", lambda conn: commits.append(1))
    log = AuditLog()
    heads = await asyncio.gather(*(log.append(engine, record(n)) for n in range(50)))
    assert [h.seq for h in heads] == list(range(1, 51))
    assert len(commits) < 10  # group commit: the first alone, then the 49 that queued behind it
    assert (await verify(engine, [])).ok


async def test_a_record_at_fault_fails_alone_in_its_batch(engine: AsyncEngine) -> None:
    log = AuditLog()
    await log.append(engine, record(7))
    results = await asyncio.gather(
        *(log.append(engine, record(n)) for n in range(20)), return_exceptions=True
    )
    failed = [n for n, r in enumerate(results) if isinstance(r, BaseException)]
    assert failed == [7]
    assert isinstance(results[7], Conflict)
    report = await verify(engine, [])
    assert report.ok, report.problems
    assert report.records == 20


async def test_a_cancelled_caller_still_gets_its_record_written(engine: AsyncEngine) -> None:
    log = AuditLog()
    first = asyncio.ensure_future(log.append(engine, record(1)))
    second = asyncio.ensure_future(log.append(engine, record(2)))
    await asyncio.sleep(0)
    second.cancel()
    await first
    for _ in range(200):  # the writer finishes the batch on its own
        if len(await ids_in_chain_order(engine)) == 2:
            break
        await asyncio.sleep(0.01)
    assert await ids_in_chain_order(engine) == ["evt-1", "evt-2"]
