"""``ehealth-hub demo`` plays the three journeys on a fresh sandbox and exits 0."""

from __future__ import annotations

import io
from pathlib import Path

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


async def test_the_demo_refuses_outside_the_sandbox(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}")
    production_like = settings.model_copy(update={"env": "acceptance"})
    assert await run_demo(production_like, Console(file=io.StringIO())) == 2
