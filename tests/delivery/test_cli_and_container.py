"""``ehealth-hub replay`` (dry run, by id) and the in-process worker the container starts."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ehealth_hub.bootstrap import build_container
from ehealth_hub.cli import app
from ehealth_hub.delivery import store
from ehealth_hub.delivery.outbox import Status, enqueue
from ehealth_hub.settings import load_settings
from ehealth_hub.store.db import create_engine, upgrade


async def _dead_item(url: str) -> str:
    await upgrade(url)
    engine = create_engine(url)
    async with engine.begin() as conn:
        item = await enqueue(conn, kind="note", destination="gp", ordering_key="k", payload={})
        [claimed] = await store.claim(
            conn,
            owner="w",
            destinations=["gp"],
            now=item.created_at,
            lease=timedelta(seconds=1),
            limit=1,
        )
        await store.record(
            conn,
            [store.Outcome(claimed, Status.DEAD, error={"detail": "x"})],
            owner="w",
            now=item.created_at,
        )
    await engine.dispose()
    return item.id


async def _status(url: str, item_id: str) -> Status:
    engine = create_engine(url)
    async with engine.connect() as conn:
        item = await store.get(conn, item_id)
    await engine.dispose()
    assert item is not None
    return item.status


def test_replay_lists_with_dry_run_then_requeues_by_id(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    item_id = asyncio.run(_dead_item(sqlite_url))
    monkeypatch.setenv("EHEALTH_HUB_DATABASE_URL", sqlite_url)
    runner = CliRunner()
    listed = runner.invoke(app, ["replay", "--destination", "gp", "--dry-run"])
    assert listed.exit_code == 0, listed.output
    assert item_id in listed.stdout
    assert asyncio.run(_status(sqlite_url, item_id)) is Status.DEAD
    replayed = runner.invoke(app, ["replay", "--id", item_id])
    assert replayed.exit_code == 0, replayed.output
    assert asyncio.run(_status(sqlite_url, item_id)) is Status.PENDING


def test_replay_without_a_filter_refuses_to_requeue_everything(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EHEALTH_HUB_DATABASE_URL", sqlite_url)
    assert CliRunner().invoke(app, ["replay"]).exit_code == 2


async def test_the_sandbox_container_delivers_with_its_in_process_worker(
    sqlite_url: str, tmp_path: Path
) -> None:
    settings = load_settings(
        database_url=sqlite_url, data_dir=tmp_path, delivery={"poll_interval_seconds": 5}
    )
    container = await build_container(settings)
    assert container.delivery is not None
    delivered = asyncio.Event()

    async def handler(payload: Mapping[str, Any], message_id: str) -> Mapping[str, Any]:
        delivered.set()
        return {"ok": message_id}

    container.delivery.register("test-sink", handler)
    try:
        async with container.engine.begin() as conn:
            item = await enqueue(
                conn, kind="note", destination="test-sink", ordering_key="k", payload={"a": 1}
            )
        container.delivery.wake()  # no need to wait for the 5 s poll
        await asyncio.wait_for(delivered.wait(), 5)
        for _ in range(50):
            async with container.engine.connect() as conn:
                stored = await store.get(conn, item.id)
            if stored is not None and stored.status is Status.COMPLETED:
                break
            await asyncio.sleep(0.05)
        assert stored is not None
        assert stored.result == {"ok": item.message_id}
    finally:
        await container.aclose()
