"""Signed heads: written in the background, keyed outside the sandbox, refused when foreign."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ehealth_hub.audit.events import AuditRecord
from ehealth_hub.audit.heads import HeadSigner, run_checkpoints
from ehealth_hub.audit.log import AuditLog
from ehealth_hub.core.errors import ConfigurationError, SignatureError
from ehealth_hub.settings import load_settings
from ehealth_hub.store.db import create_engine, upgrade


async def test_background_checkpoints_sign_the_committed_head(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}", data_dir=tmp_path)
    await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    async with engine.begin() as conn:
        record = AuditRecord(id="e1", recorded=datetime.now(UTC), action="x", outcome="success")
        head = await AuditLog().record(conn, record)
    signer = HeadSigner.from_settings(settings)
    task = asyncio.create_task(run_checkpoints(signer, engine, 0.01))
    for _ in range(200):
        if signer.read():
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await engine.dispose()
    assert [(h.seq, h.hash) for h in signer.read()] == [(head.seq, head.hash)]


def test_heads_signed_with_another_key_are_refused(tmp_path: Path) -> None:
    first = HeadSigner.from_settings(load_settings(data_dir=tmp_path / "a"))
    other = HeadSigner.from_settings(load_settings(data_dir=tmp_path / "b"))
    from ehealth_hub.audit.log import ChainHead, ChainIdentity

    head, identity = ChainHead(1, "ab" * 32), ChainIdentity("cd" * 16, 1)
    first.append(first.sign(head, identity, datetime.now(UTC)))
    other.heads_file.parent.mkdir(parents=True, exist_ok=True)
    other.heads_file.write_bytes(first.heads_file.read_bytes())
    with pytest.raises(SignatureError):
        other.read()


def test_outside_the_sandbox_the_audit_key_must_be_named() -> None:
    with pytest.raises(ConfigurationError, match=r"audit\.key_file"):
        load_settings(env="production", database_url="postgresql://db/hub")


def test_a_key_that_is_not_ed25519_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("not a key")
    with pytest.raises(ConfigurationError, match="audit signing key"):
        HeadSigner.from_settings(load_settings(data_dir=tmp_path, audit={"key_file": key}))


async def test_stopping_the_background_checkpoints_signs_the_tail_once_more(
    tmp_path: Path,
) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}", data_dir=tmp_path)
    await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    signer = HeadSigner.from_settings(settings)
    task = asyncio.create_task(run_checkpoints(signer, engine, 3600.0))
    async with engine.begin() as conn:
        record = AuditRecord(id="e1", recorded=datetime.now(UTC), action="x", outcome="success")
        head = await AuditLog(mac_key=signer.mac_key).record(conn, record)
    await asyncio.sleep(0)  # the task is waiting for its first interval
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await engine.dispose()
    assert [(h.seq, h.hash) for h in signer.read()] == [(head.seq, head.hash)]
