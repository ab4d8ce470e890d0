"""The production keystore registry and the ``pki`` / ``keystore`` commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ehealth_hub.cli import app
from ehealth_hub.core.errors import ConfigurationError, NotFound
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.trust.keystores import KeystoreEntry, KeystoreRegistry

SARAH = "11530231003"


def _registry(
    tmp_path: Path, environ: dict[str, str] | None = None, now: datetime | None = None
) -> KeystoreRegistry:
    moment = now or datetime(2026, 3, 2, tzinfo=UTC)
    return KeystoreRegistry(
        tmp_path / "keystores.json", environ=environ or {}, clock=lambda: moment
    )


def _secret(tmp_path: Path, pki: SandboxPki) -> str:
    secret = tmp_path / "secret"
    secret.write_text(pki.p12_passphrase + "\n")
    return str(secret)


def test_registers_a_keystore_and_opens_it_for_signing(
    sandbox_pki: SandboxPki, tmp_path: Path
) -> None:
    registry = _registry(tmp_path)
    registry.add(
        KeystoreEntry(
            SARAH,
            str(sandbox_pki.practitioner_p12("sarah")),
            passphrase_file=_secret(tmp_path, sandbox_pki),
        )
    )
    assert registry.credential(SARAH).thumbprint == sandbox_pki.practitioner("sarah").thumbprint


def test_never_stores_the_passphrase(sandbox_pki: SandboxPki, tmp_path: Path) -> None:
    registry = _registry(tmp_path, {"SARAH_P12": sandbox_pki.p12_passphrase})
    registry.add(
        KeystoreEntry(SARAH, str(sandbox_pki.practitioner_p12("sarah")), passphrase_env="SARAH_P12")
    )
    stored = (tmp_path / "keystores.json").read_text()
    assert sandbox_pki.p12_passphrase not in stored
    assert json.loads(stored)["keystores"][SARAH]["passphrase_env"] == "SARAH_P12"


def test_refuses_a_keystore_registered_under_another_nihii(
    sandbox_pki: SandboxPki, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match="another NIHII"):
        _registry(tmp_path).add(
            KeystoreEntry(
                "23456776003",
                str(sandbox_pki.practitioner_p12("sarah")),
                passphrase_file=_secret(tmp_path, sandbox_pki),
            )
        )
    assert not (tmp_path / "keystores.json").exists()


def test_refuses_a_missing_passphrase_variable(sandbox_pki: SandboxPki, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not set"):
        _registry(tmp_path).add(
            KeystoreEntry(SARAH, str(sandbox_pki.practitioner_p12("sarah")), passphrase_env="NOPE")
        )


def test_flags_a_keystore_close_to_expiry(sandbox_pki: SandboxPki, tmp_path: Path) -> None:
    entry = KeystoreEntry(
        SARAH,
        str(sandbox_pki.practitioner_p12("sarah")),
        passphrase_file=_secret(tmp_path, sandbox_pki),
    )
    _registry(tmp_path).add(entry)
    late = datetime(2045, 1, 1, tzinfo=UTC) - timedelta(days=10)
    [status] = _registry(tmp_path, now=late).status()
    assert status.expiring
    assert status.days_left == 10


def test_removes_a_keystore_and_reports_unknown_ones(
    sandbox_pki: SandboxPki, tmp_path: Path
) -> None:
    registry = _registry(tmp_path)
    registry.add(
        KeystoreEntry(
            SARAH,
            str(sandbox_pki.practitioner_p12("sarah")),
            passphrase_file=_secret(tmp_path, sandbox_pki),
        )
    )
    registry.remove(SARAH)
    with pytest.raises(NotFound):
        registry.credential(SARAH)
    with pytest.raises(NotFound):
        registry.remove(SARAH)


def test_keystore_commands_add_list_and_remove(
    sandbox_pki: SandboxPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EHEALTH_HUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SARAH_P12", sandbox_pki.p12_passphrase)
    runner = CliRunner()
    added = runner.invoke(
        app,
        [
            "keystore",
            "add",
            SARAH,
            str(sandbox_pki.practitioner_p12("sarah")),
            "--passphrase-env",
            "SARAH_P12",
        ],
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["keystore", "list"])
    assert listed.exit_code == 0
    assert SARAH in listed.output
    assert sandbox_pki.p12_passphrase not in added.output + listed.output
    assert runner.invoke(app, ["keystore", "remove", SARAH]).exit_code == 0
    assert runner.invoke(app, ["keystore", "remove", SARAH]).exit_code == 1


def test_pki_init_reuses_an_existing_pki(sandbox_pki: SandboxPki) -> None:
    result = CliRunner().invoke(app, ["pki", "init", str(sandbox_pki.directory)])
    assert result.exit_code == 0, result.output
    assert "sandbox PKI" in result.output
