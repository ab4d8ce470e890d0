"""Console accounts: password hashes from the CLI, configured accounts, settings outside the
sandbox."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ehealth_hub.api import create_app
from ehealth_hub.bootstrap import build_container
from ehealth_hub.cli import app as cli
from ehealth_hub.core.errors import ConfigurationError
from ehealth_hub.services.operations_users import Accounts, password_matches
from ehealth_hub.settings import OperatorAccount, load_settings
from tests.console._support import console_settings, csrf_in


def test_the_cli_prints_a_hash_that_checks_the_password_and_no_other() -> None:
    result = CliRunner().invoke(cli, ["console-password"], input="correct horse\ncorrect horse\n")
    assert result.exit_code == 0, result.output
    stored = result.output.strip().splitlines()[-1]
    assert stored.startswith("scrypt$")
    assert password_matches("correct horse", stored)
    assert not password_matches("correct horsf", stored)
    account = OperatorAccount(username="els", password_hash=stored, role="auditor")
    user = Accounts((account,)).sign_in("els", "correct horse")
    assert user is not None
    assert user.role == "auditor"
    assert Accounts((account,)).sign_in("els", "wrong") is None
    assert Accounts((account,)).sign_in("nobody", "correct horse") is None


def test_outside_the_sandbox_the_console_needs_its_session_key() -> None:
    with pytest.raises(ConfigurationError, match=r"console\.session_key_file"):
        load_settings(env="production", database_url="postgresql://db.internal/hub")


async def test_configured_accounts_replace_the_sandbox_ones(
    tmp_path: Path, pki_dir: Path, sqlite_url: str
) -> None:
    stored = CliRunner().invoke(cli, ["console-password"], input="s3cret-pw\ns3cret-pw\n")
    accounts = [{"username": "ops1", "password_hash": stored.output.strip().splitlines()[-1]}]
    settings = console_settings(tmp_path, pki_dir, sqlite_url, console={"accounts": accounts})
    container = await build_container(settings, migrate=True)
    app = create_app(settings, container=container)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            token = csrf_in((await client.get("/console/login")).text)
            sandbox = {"username": "operator", "password": "sandbox-operator", "csrf_token": token}
            assert (await client.post("/console/login", data=sandbox)).status_code == 401
            mine = {"username": "ops1", "password": "s3cret-pw", "csrf_token": token}
            assert (await client.post("/console/login", data=mine)).status_code == 303
    await container.aclose()
