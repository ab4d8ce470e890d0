"""`ehealth-hub audit verify` against someone who can write the database but lacks the audit key.

Records are written as the hub writes them (the AuditLog keyed with the MAC key derived from the
audit signing key); the attacker writes with correct SHA-256 link hashes but without the key. On
both backends; the CLI runs in a thread (it starts its own event loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from ehealth_hub.audit.chain import GENESIS, canonical, link_hash
from ehealth_hub.audit.events import AuditRecord
from ehealth_hub.audit.heads import HeadSigner
from ehealth_hub.audit.log import AuditLog, body_of
from ehealth_hub.bootstrap import build_container
from ehealth_hub.cli import app
from ehealth_hub.settings import Settings, load_settings
from ehealth_hub.store.db import create_engine, upgrade
from ehealth_hub.store.tables import audit_chain, audit_events

runner = CliRunner()
AN = "85031212362"


def event(n: int, age: timedelta = timedelta(minutes=10), outcome: str = "permit") -> AuditRecord:
    return AuditRecord(
        id=f"evt-{n}",
        recorded=datetime.now(UTC) - age,
        action="decision",
        outcome=outcome,  # type: ignore[arg-type]
        patient_ssin=AN,
        decision_id=f"dec-{n}",
    )


class Trail:
    """One database, the hub's settings pointing at it, and its keyed AuditLog."""

    def __init__(self, url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.url, self.data_dir, self.monkeypatch = url, data_dir, monkeypatch
        self.engine: AsyncEngine = create_engine(url)
        self.log = AuditLog(mac_key=HeadSigner.from_settings(self.settings).mac_key)

    @property
    def settings(self) -> Settings:
        return load_settings(database_url=self.url, data_dir=self.data_dir)

    @property
    def heads_file(self) -> Path:
        return HeadSigner.from_settings(self.settings).heads_file

    async def write(self, *records: AuditRecord, log: AuditLog | None = None) -> None:
        async with self.engine.begin() as conn:
            for record in records:
                await (log or self.log).record(conn, record)

    async def cli(self, *args: str) -> Result:
        self.monkeypatch.setenv("EHEALTH_HUB_DATABASE_URL", self.url)
        self.monkeypatch.setenv("EHEALTH_HUB_DATA_DIR", str(self.data_dir))
        return await asyncio.to_thread(runner.invoke, app, ["audit", *args])

    async def verify(self) -> Result:
        return await self.cli("verify")

    async def checkpoint(self) -> None:
        signed = await self.cli("checkpoint")
        assert signed.exit_code == 0, signed.output


@pytest.fixture
async def trail(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Trail]:
    await upgrade(database_url)
    made = Trail(database_url, tmp_path / "var", monkeypatch)
    await made.write(*(event(n) for n in range(1, 6)))
    await made.checkpoint()
    ok = await made.verify()
    assert ok.exit_code == 0, ok.output
    yield made
    await made.engine.dispose()


async def test_an_event_appended_with_a_correct_sha256_but_without_the_key_fails(
    trail: Trail,
) -> None:
    await trail.write(event(6), log=AuditLog())  # a database writer: well-formed, correct hash
    await trail.checkpoint()  # the next checkpoint signs it, as the hub's background task would
    result = await trail.verify()
    assert result.exit_code == 1, result.output
    assert "forged at 6" in result.output
    assert "TAMPERED" in result.output


async def test_an_event_with_a_mac_under_another_key_fails(trail: Trail) -> None:
    await trail.write(event(6), log=AuditLog(mac_key=b"k" * 32))
    result = await trail.verify()
    assert result.exit_code == 1, result.output
    assert "forged at 6" in result.output


async def test_a_rewritten_recent_event_with_recomputed_hashes_fails(trail: Trail) -> None:
    await trail.write(event(6, age=timedelta(0)))  # after the last checkpoint: the open tail
    recent = await trail.verify()
    assert recent.exit_code == 0, recent.output  # a young unsigned tail is within the bound
    body = canonical(body_of(event(6, outcome="deny")))
    async with trail.engine.begin() as conn:
        prev = (
            await conn.execute(select(audit_events.c.prev_hash).where(audit_events.c.seq == 6))
        ).scalar_one()
        digest = link_hash(prev, body)
        await conn.execute(
            update(audit_events)
            .where(audit_events.c.seq == 6)
            .values(body=body, outcome="deny", hash=digest)
        )
        await conn.execute(update(audit_chain).values(head_hash=digest))
    result = await trail.verify()
    assert result.exit_code == 1, result.output
    assert "forged at 6" in result.output


async def test_an_emptied_or_missing_heads_file_fails(trail: Trail) -> None:
    trail.heads_file.write_text("")
    emptied = await trail.verify()
    assert emptied.exit_code == 1, emptied.output
    assert "unsigned at 1" in emptied.output
    assert "covered by no signed head" in emptied.output
    trail.heads_file.unlink()
    missing = await trail.verify()
    assert missing.exit_code == 1, missing.output
    assert "unsigned at 1" in missing.output


async def test_heads_rolled_back_to_an_older_copy_fail(trail: Trail) -> None:
    older = trail.heads_file.read_bytes()
    await trail.write(event(6), event(7))  # written 10 minutes ago, then signed
    await trail.checkpoint()
    trail.heads_file.write_bytes(older)
    result = await trail.verify()
    assert result.exit_code == 1, result.output
    assert "unsigned at 6" in result.output


async def test_heads_of_another_database_fail(trail: Trail, tmp_path: Path) -> None:
    other = Trail(f"sqlite:///{tmp_path / 'other.db'}", trail.data_dir, trail.monkeypatch)
    await upgrade(other.url)
    await other.write(*(event(n) for n in range(1, 6)))
    try:
        result = await other.verify()  # same key, same heads file: the first database's heads
    finally:
        await other.engine.dispose()
    assert result.exit_code == 1, result.output
    assert "foreign at 5" in result.output


async def test_a_database_upgraded_with_unkeyed_records_verifies_then_keys_new_ones(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await upgrade(database_url, "0001")
    engine = create_engine(database_url)
    try:
        await _write_as_before_the_keyed_chain(engine, 3)
    finally:
        await engine.dispose()
    await upgrade(database_url)
    trail = Trail(database_url, tmp_path / "var", monkeypatch)
    try:
        await trail.write(event(4), event(5))
        await trail.checkpoint()
        ok = await trail.verify()
        assert ok.exit_code == 0, ok.output
        assert "5 records" in ok.output
        await trail.write(event(6), log=AuditLog())
        forged = await trail.verify()
        assert forged.exit_code == 1, forged.output
        assert "forged at 6" in forged.output
        assert "forged at 1" not in forged.output
    finally:
        await trail.engine.dispose()


async def _write_as_before_the_keyed_chain(engine: AsyncEngine, count: int) -> None:
    """Records as revision 0001's hub wrote them: hash chain, no MAC column."""
    digest = GENESIS
    async with engine.begin() as conn:
        for seq in range(1, count + 1):
            record = event(seq)
            body = canonical(body_of(record))
            prev, digest = digest, link_hash(digest, body)
            await conn.execute(
                audit_events.insert().values(
                    seq=seq,
                    id=record.id,
                    recorded=record.recorded,
                    patient_ssin=record.patient_ssin,
                    actor_nihii=None,
                    client_id=None,
                    action=record.action,
                    outcome=record.outcome,
                    decision_id=record.decision_id,
                    body=body,
                    prev_hash=prev,
                    hash=digest,
                )
            )
        await conn.execute(update(audit_chain).values(seq=count, head_hash=digest))


async def test_the_running_hub_writes_keyed_records_and_signs_them_at_shutdown(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "var"
    settings = load_settings(database_url=database_url, data_dir=data_dir)
    await upgrade(database_url)
    container = await build_container(settings, migrate=False)
    try:
        async with container.engine.begin() as conn:
            await container.audit_log.record(conn, event(1))
    finally:
        await container.aclose()  # stops the checkpoints: one last head is signed
    trail = Trail(database_url, data_dir, monkeypatch)
    result = await trail.verify()
    await trail.engine.dispose()
    assert result.exit_code == 0, result.output
    assert "1 records, 1 signed heads" in result.output
