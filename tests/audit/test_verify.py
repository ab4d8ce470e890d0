"""`audit verify` finds every edit, deletion, insertion, reordering and a truncated tail."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit.events import AuditRecord
from ehealth_hub.audit.heads import HeadSigner
from ehealth_hub.audit.log import AuditLog
from ehealth_hub.audit.verify import verify
from ehealth_hub.core.errors import SignatureError
from ehealth_hub.settings import Settings, load_settings
from ehealth_hub.store.db import create_engine, upgrade
from ehealth_hub.store.tables import audit_chain, audit_events

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def event(n: int) -> AuditRecord:
    return AuditRecord(
        id=f"evt-{n}",
        recorded=T0 + timedelta(seconds=n),
        action="read-dossier",
        outcome="success",
        patient_ssin="85031212362",
        actor_nihii="11530231003",
        client_id="consult-app",
        decision_id=f"dec-{n}",
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(database_url=database_url, data_dir=tmp_path / "var")


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    async with engine.begin() as conn:
        for n in range(1, 9):
            await AuditLog().record(conn, event(n))
    yield engine
    await engine.dispose()


@pytest.fixture
async def signer(settings: Settings, engine: AsyncEngine) -> HeadSigner:
    signer = HeadSigner.from_settings(settings)
    assert await signer.checkpoint(engine, T0) is not None
    return signer


async def kinds(engine: AsyncEngine, signer: HeadSigner) -> set[str]:
    return (await verify(engine, signer.read())).kinds()


async def test_an_untouched_trail_verifies(engine: AsyncEngine, signer: HeadSigner) -> None:
    report = await verify(engine, signer.read())
    assert report.ok, report.problems
    assert (report.records, report.signed_heads) == (8, 1)


async def test_detects_an_edited_body(engine: AsyncEngine, signer: HeadSigner) -> None:
    async with engine.begin() as conn:
        body = (
            await conn.execute(select(audit_events.c.body).where(audit_events.c.seq == 3))
        ).scalar_one()
        forged = body.replace("success", "failure")
        await conn.execute(update(audit_events).where(audit_events.c.seq == 3).values(body=forged))
    assert await kinds(engine, signer) == {"edited"}


async def test_detects_an_edited_search_column(engine: AsyncEngine, signer: HeadSigner) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            update(audit_events).where(audit_events.c.seq == 4).values(actor_nihii="23456776003")
        )
    assert await kinds(engine, signer) == {"edited"}


async def test_detects_a_rewritten_and_rehashed_record(
    engine: AsyncEngine, signer: HeadSigner
) -> None:
    from ehealth_hub.audit.chain import link_hash

    async with engine.begin() as conn:
        row = (await conn.execute(select(audit_events).where(audit_events.c.seq == 5))).one()
        forged = row.body.replace("success", "failure")
        await conn.execute(
            update(audit_events)
            .where(audit_events.c.seq == 5)
            .values(body=forged, hash=link_hash(row.prev_hash, forged))
        )
    assert "edited" in await kinds(engine, signer)


async def test_detects_a_deleted_record(engine: AsyncEngine, signer: HeadSigner) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(audit_events).where(audit_events.c.seq == 4))
    assert await kinds(engine, signer) == {"deleted"}


async def test_detects_an_inserted_record(engine: AsyncEngine, signer: HeadSigner) -> None:
    async with engine.begin() as conn:
        rows = (await conn.execute(select(audit_events).order_by(audit_events.c.seq.desc()))).all()
        for row in rows:  # make room at seq 4 by shifting the later records up, newest first
            if row.seq >= 4:
                await conn.execute(
                    update(audit_events)
                    .where(audit_events.c.seq == row.seq)
                    .values(seq=row.seq + 1)
                )
        third = next(r for r in rows if r.seq == 3)
        forged = dict(third._mapping)
        forged.update(seq=4, id="forged", body=third.body.replace("evt-3", "forged"))
        from ehealth_hub.audit.chain import link_hash

        forged["prev_hash"] = third.hash
        forged["hash"] = link_hash(third.hash, forged["body"])
        await conn.execute(audit_events.insert().values(**forged))
    found = await verify(engine, signer.read())
    assert "inserted" in found.kinds()
    assert any(p.kind == "inserted" and p.seq == 4 for p in found.problems)


async def test_detects_reordered_records(engine: AsyncEngine, signer: HeadSigner) -> None:
    async with engine.begin() as conn:
        for old, new in ((3, 100), (4, 3), (100, 4)):
            await conn.execute(
                update(audit_events).where(audit_events.c.seq == old).values(seq=new)
            )
    assert await kinds(engine, signer) == {"reordered"}


async def test_detects_a_truncated_tail_via_the_signed_head(
    engine: AsyncEngine, signer: HeadSigner
) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(audit_events).where(audit_events.c.seq >= 7))
        await conn.execute(update(audit_chain).values(seq=6, head_hash="cover-up"))
    found = await verify(engine, signer.read())
    assert "truncated" in found.kinds()


async def test_detects_a_truncated_tail_via_the_chain_head_row(
    engine: AsyncEngine, signer: HeadSigner
) -> None:
    async with engine.begin() as conn:
        await AuditLog().record(conn, event(9))
        await conn.execute(delete(audit_events).where(audit_events.c.seq == 9))
    assert await kinds(engine, signer) == {"truncated"}


async def test_records_after_the_last_signed_head_verify(
    engine: AsyncEngine, signer: HeadSigner
) -> None:
    async with engine.begin() as conn:
        await AuditLog().record(conn, event(9))
    assert (await verify(engine, signer.read())).ok


async def test_a_forged_signed_head_is_refused(signer: HeadSigner) -> None:
    lines = signer.heads_file.read_text().splitlines()
    head = json.loads(lines[0])
    head["seq"] = 2
    signer.heads_file.write_text(json.dumps(head) + "\n")
    with pytest.raises(SignatureError):
        signer.read()


async def test_checkpoint_skips_an_unchanged_head(engine: AsyncEngine, signer: HeadSigner) -> None:
    assert await signer.checkpoint(engine, T0) is None
    assert len(signer.read()) == 1
