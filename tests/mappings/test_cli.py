"""``ehealth-hub translate``: KMEHR -> FHIR JSON, FHIR note -> KMEHR, summary and exit code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ehealth_hub.cli import app
from ehealth_hub.fhir.bundle import validate_bundle

GOLDEN = Path(__file__).parent / "golden"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wide terminal, so that rich does not fold the summary table's cells."""
    monkeypatch.setenv("COLUMNS", "250")


def _inputs(tmp_path: Path) -> tuple[Path, Path]:
    kmehr = shutil.copy(GOLDEN / "sumehr_an.kmehr", tmp_path / "an.kmehr")
    note = shutil.copy(GOLDEN / "note_an.json", tmp_path / "note.json")
    return Path(kmehr), Path(note)


def test_translates_kmehr_to_fhir_json_and_notes_to_kmehr(tmp_path: Path) -> None:
    kmehr, note = _inputs(tmp_path)
    out = tmp_path / "out"
    result = runner.invoke(app, ["translate", str(kmehr), str(note), "-o", str(out)])
    assert result.exit_code == 0, result.output
    bundle = json.loads((out / "an.json").read_text(encoding="utf-8"))
    validate_bundle(bundle)
    assert bundle["type"] == "document"
    assert (out / "note.xml").read_bytes().startswith(b"<?xml")
    assert "document, 15 entries" in result.output  # 14 + the author's PractitionerRole


def test_exits_1_and_names_the_rule_when_a_file_fails(tmp_path: Path) -> None:
    kmehr, _ = _inputs(tmp_path)
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b'<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>')
    broken = tmp_path / "broken.kmehr"
    broken.write_bytes(b"<kmehrmessage><header>")
    result = runner.invoke(
        app, ["translate", str(kmehr), str(bad), str(broken), "-o", str(tmp_path / "o")]
    )
    assert result.exit_code == 1
    assert "HostileXmlError" in result.output
    assert "xml.well-formed" in result.output
    assert (tmp_path / "o" / "an.json").is_file()
    assert not (tmp_path / "o" / "bad.json").exists()


def test_reports_a_missing_file_without_a_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["translate", str(tmp_path / "nope.xml"), "-o", str(tmp_path)])
    assert result.exit_code == 1
    assert "cannot read" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
