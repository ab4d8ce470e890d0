"""The command line: version, database upgrade, serve answering over a real socket, demo."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ehealth_hub import __version__
from ehealth_hub.cli import app

runner = CliRunner()


def test_prints_its_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_db_upgrade_works_on_each_backend(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EHEALTH_HUB_DATABASE_URL", database_url)
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output


def test_invalid_configuration_exits_2_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EHEALTH_HUB_ENV", "production")
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 2
    assert "database_url" in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.slow
def test_serve_answers_liveness_and_metadata(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "EHEALTH_HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}"}
    cmd = [sys.executable, "-m", "ehealth_hub", "serve", "--port", str(port)]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603  # fixed argv, our own module
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                live = httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        meta = httpx.get(f"http://127.0.0.1:{port}/fhir/metadata", timeout=5).json()
    finally:
        server.terminate()
        server.wait(10)
    assert live.status_code == 200
    assert meta["fhirVersion"] == "4.0.1"
