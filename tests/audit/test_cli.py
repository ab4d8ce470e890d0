"""`ehealth-hub audit verify` and `audit checkpoint` as a user runs them (exit codes, output)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete
from typer.testing import CliRunner

from ehealth_hub.audit.events import AuditRecord
from ehealth_hub.audit.heads import HeadSigner
from ehealth_hub.audit.log import AuditLog
from ehealth_hub.cli import app
from ehealth_hub.settings import load_settings
from ehealth_hub.store.db import create_engine, upgrade
from ehealth_hub.store.tables import audit_events

runner = CliRunner()


async def seed(url: str, count: int) -> None:
    """``count`` records written by the hub (keyed with the audit key of the environment's
    settings, as the hub's own AuditLog is)."""
    await upgrade(url)
    engine = create_engine(url)
    log = AuditLog(mac_key=HeadSigner.from_settings(load_settings()).mac_key)
    async with engine.begin() as conn:
        for n in range(count):
            record = AuditRecord(
                id=f"e{n}", recorded=datetime.now(UTC), action="decision", outcome="permit"
            )
            await log.record(conn, record)
    await engine.dispose()


async def drop_tail(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(delete(audit_events).where(audit_events.c.seq == 5))
    await engine.dispose()


def test_verify_passes_then_reports_a_truncated_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    monkeypatch.setenv("EHEALTH_HUB_DATABASE_URL", url)
    monkeypatch.setenv("EHEALTH_HUB_DATA_DIR", str(tmp_path / "var"))
    asyncio.run(seed(url, 5))
    signed = runner.invoke(app, ["audit", "checkpoint"])
    assert signed.exit_code == 0, signed.output
    assert "record 5" in signed.output
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    asyncio.run(drop_tail(url))
    tampered = runner.invoke(app, ["audit", "verify"])
    assert tampered.exit_code == 1
    assert "truncated" in tampered.output
