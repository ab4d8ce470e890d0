"""``ehealth-hub demo`` plays the three journeys on a fresh sandbox and exits 0."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from rich.console import Console

from ehealth_hub.demo import run_demo
from ehealth_hub.settings import load_settings


async def test_the_demo_succeeds_from_an_empty_folder(tmp_path: Path, pki_dir: Path) -> None:
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        data_dir=tmp_path / "var",
        trust={"pki_dir": pki_dir},
    )
    out = io.StringIO()
    code = await run_demo(settings, Console(file=out, width=160))
    report = out.getvalue()
    assert code == 0, report
    assert "FAILED" not in report
    assert "Sofie" in report
    assert "operations console: http://127.0.0.1:8000/console" in report
    assert "operator / sandbox-operator" in report


async def test_the_demo_refuses_outside_the_sandbox(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}")
    production_like = settings.model_copy(update={"env": "acceptance"})
    assert await run_demo(production_like, Console(file=io.StringIO())) == 2


@pytest.mark.parametrize("years_ahead", [1, 4])
async def test_the_demo_still_succeeds_years_from_now(
    tmp_path: Path, pki_dir: Path, years_ahead: int
) -> None:
    """The sandbox's validity periods (insurance, consents, tokens) follow the clock, so the
    journeys bill and deliver in any year; the sandbox PKI is valid until 2045 (fixtures/pki.py)."""
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        data_dir=tmp_path / "var",
        trust={"pki_dir": pki_dir},
    )
    later = datetime.now(UTC).replace(month=1, day=2) + timedelta(days=365 * years_ahead)
    out = io.StringIO()
    with time_machine.travel(later, tick=True):
        code = await run_demo(settings, Console(file=out, width=160))
    report = out.getvalue()
    assert code == 0, report
    assert "FAILED" not in report


def test_the_sandbox_pki_outlives_the_tests_by_five_years(pki_dir: Path) -> None:
    """The sandbox PKI is derived once with a fixed validity (deterministic keys and certificates);
    this fails five years before it expires, in time to move its dates."""
    from ehealth_hub.fixtures.pki import SandboxPki

    pki = SandboxPki.load_or_create(pki_dir)
    expires = pki.sts.certificate.not_valid_after_utc
    assert expires > datetime.now(UTC) + timedelta(days=5 * 366)
