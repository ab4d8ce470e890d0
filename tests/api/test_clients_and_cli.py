"""The client registry file, the sandbox keys, and the sandbox-token / sandbox-info commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jwt
import orjson
import pytest
from typer.testing import CliRunner, Result

from ehealth_hub.auth.clients import ClientRegistry
from ehealth_hub.cli import app
from ehealth_hub.core.errors import ConfigurationError
from ehealth_hub.fixtures.auth_clients import derive_key, ensure_sandbox_auth, registry_data
from ehealth_hub.settings import load_settings


def test_the_sandbox_registry_is_deterministic(tmp_path: Path) -> None:
    first, _ = ensure_sandbox_auth(tmp_path / "a")
    second, _ = ensure_sandbox_auth(tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    assert ClientRegistry.load(first).client("consult-app").may_act_for_practitioners


def test_a_registry_with_a_private_key_is_refused(tmp_path: Path) -> None:
    data = registry_data()
    private = orjson.loads(jwt.algorithms.ECAlgorithm.to_jwk(derive_key("x")))
    data["clients"][0]["jwks"] = {"keys": [private]}
    with pytest.raises(ConfigurationError, match="public keys only"):
        ClientRegistry.from_mapping(data, source="test")


def test_a_registry_with_an_unknown_scope_is_refused() -> None:
    data = registry_data()
    data["clients"][0]["scopes"] = ["user/Everything.cruds"]
    with pytest.raises(ConfigurationError, match="unknown scopes"):
        ClientRegistry.from_mapping(data, source="test")


def test_duplicate_client_ids_are_refused() -> None:
    data = registry_data()
    data["clients"].append(data["clients"][0])
    with pytest.raises(ConfigurationError, match="unique"):
        ClientRegistry.from_mapping(data, source="test")


def test_production_refuses_the_sandbox_clients_and_key() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(env="production", database_url="postgresql://db/hub")
    assert "auth.clients_file" in caught.value.detail
    assert "auth.signing_key_file" in caught.value.detail


@pytest.fixture
def sandbox_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], Result]:
    """``ehealth-hub sandbox-token --client C --practitioner P`` in an empty folder, quiet logs."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EHEALTH_HUB_LOG__LEVEL", "error")

    def run(client: str, practitioner: str) -> Result:
        args = ["sandbox-token", "--client", client, "--practitioner", practitioner]
        return CliRunner().invoke(app, args)

    return run


def test_sandbox_token_prints_a_token_acting_for_the_practitioner(
    sandbox_token: Callable[[str, str], Result],
) -> None:
    result = sandbox_token("consult-app", "sarah")
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.stdout.strip().splitlines()[-1], options={"verify_signature": False})
    assert claims["practitioner"] == "11530231003"


def test_sandbox_token_refuses_a_practitioner_for_a_system_client(
    sandbox_token: Callable[[str, str], Result],
) -> None:
    result = sandbox_token("auditor", "sarah")
    assert result.exit_code == 1


def test_sandbox_info_lists_clients_practitioners_and_patients(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["sandbox-info", "--json"])
    assert result.exit_code == 0, result.output
    info = orjson.loads(result.stdout)
    assert {c["client_id"] for c in info["clients"]} >= {
        "consult-app",
        "mutuality-cm",
        "gp-software",
        "auditor",
    }
    sofie = next(p for p in info["patients"] if p["key"] == "sofie")
    assert sofie["national_consent"] is False
    marc = next(p for p in info["patients"] if p["key"] == "marc")
    assert marc["exclusions"][0]["key"] == "sarah"
