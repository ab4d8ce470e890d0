"""``ehealth-hub serve --workers N``: several API processes need PostgreSQL (issue 16, finding 10).

The consent gate's decision cache lives in each process; only PostgreSQL carries a revocation to
the other processes, so ``serve`` refuses several processes on SQLite before starting anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from ehealth_hub.cli import app


@pytest.fixture
def started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every uvicorn start ``serve`` asks for (recorded instead of serving)."""
    monkeypatch.setenv("EHEALTH_HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    monkeypatch.setenv("EHEALTH_HUB_DATA_DIR", str(tmp_path / "var"))
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    return calls


def test_serving_several_processes_on_sqlite_is_refused_naming_postgresql(
    started: list[dict[str, Any]], tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, ["serve", "--workers", "2"])
    assert result.exit_code == 2, result.output
    assert "PostgreSQL" in result.output
    assert started == []
    assert not (tmp_path / "hub.db").exists(), "nothing may be prepared before the refusal"


def test_the_workers_setting_is_refused_on_sqlite_as_well(
    started: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EHEALTH_HUB_API__WORKERS", "3")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2, result.output
    assert "PostgreSQL" in result.output
    assert started == []


def test_one_process_on_sqlite_still_serves(started: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(app, ["serve", "--workers", "1", "--port", "18080"])
    assert result.exit_code == 0, result.output
    assert [(call["workers"], call["port"]) for call in started] == [(1, 18080)]
