"""``ehealth-hub serve``: what runs once before the API processes, one API process as uvicorn's
factory builds it, the garbage-collector tuning of a serving process."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from ehealth_hub.bootstrap import prepare_serving
from ehealth_hub.cli.serve import serve_app
from ehealth_hub.cli.tuning import SERVER_YOUNG_GENERATION as YOUNG_GENERATION
from ehealth_hub.cli.tuning import for_server as tune_gc
from ehealth_hub.settings import load_settings
from ehealth_hub.store.db import create_engine


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


async def test_prepares_the_sandbox_once_before_the_api_processes(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}", data_dir=tmp_path)
    await prepare_serving(settings)
    assert (tmp_path / "audit" / "hub-audit-key.pem").exists()
    engine = create_engine(settings.database_url)
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    await engine.dispose()
    assert "audit_events" in tables


async def test_an_api_process_takes_its_settings_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restored_gc: None
) -> None:
    monkeypatch.setenv("EHEALTH_HUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EHEALTH_HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    await prepare_serving(load_settings())
    app = serve_app()
    async with app.router.lifespan_context(app):
        assert app.state.container.settings.data_dir == tmp_path
        assert gc.get_threshold()[0] == YOUNG_GENERATION  # a serving process


def test_a_serving_process_freezes_start_up_objects(restored_gc: None) -> None:
    tune_gc()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == YOUNG_GENERATION
