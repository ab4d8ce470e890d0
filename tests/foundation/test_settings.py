"""Settings: environment variables, config file, validation once, production refuses sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from ehealth_hub.core.errors import ConfigurationError
from ehealth_hub.settings import load_settings, normalise_database_url


def test_defaults_to_the_sandbox_on_sqlite_under_var() -> None:
    settings = load_settings()
    assert settings.is_sandbox
    assert settings.database_url == "sqlite+aiosqlite:///./var/ehealth-hub.db"


def test_reads_nested_sections_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EHEALTH_HUB_API__PORT", "9100")
    assert load_settings().api.port == 9100


def test_reads_a_toml_config_file_below_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('[api]\nport = 9200\nhost = "::1"\n')
    monkeypatch.setenv("EHEALTH_HUB_CONFIG_FILE", str(config))
    monkeypatch.setenv("EHEALTH_HUB_API__PORT", "9300")
    settings = load_settings()
    assert (settings.api.host, settings.api.port) == ("::1", 9300)


def test_refuses_a_missing_config_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EHEALTH_HUB_CONFIG_FILE", "/nonexistent/hub.toml")
    with pytest.raises(ConfigurationError, match="not a file"):
        load_settings()


def test_production_refuses_sandbox_defaults() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(env="production")
    assert "database_url" in caught.value.detail


def test_accepts_the_documented_acceptance_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).resolve().parents[2] / "docs" / "acceptance.example.toml"
    monkeypatch.setenv("EHEALTH_HUB_CONFIG_FILE", str(example))
    settings = load_settings()
    assert settings.env == "acceptance"
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert set(settings.endpoints.hubs) == {"rsw", "abrumet", "vitalink"}


def test_production_names_every_sandbox_default_it_refuses() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(env="production", database_url="postgresql://db.internal/hub")
    for name in ("auth.signing_key_file", "trust.sts_url", "endpoints.consent", "audit.key_file"):
        assert name in caught.value.detail


def test_refuses_invalid_values_naming_the_field() -> None:
    with pytest.raises(ConfigurationError, match=r"api\.port"):
        load_settings(api={"port": 70000})


def test_refuses_unknown_settings() -> None:
    with pytest.raises(ConfigurationError, match="colour"):
        load_settings(colour="blue")


@pytest.mark.parametrize(
    ("plain", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///var/x.db", "sqlite+aiosqlite:///var/x.db"),
    ],
)
def test_picks_the_async_driver_for_plain_urls(plain: str, driver: str) -> None:
    assert normalise_database_url(plain) == driver


def test_refuses_unsupported_database_schemes() -> None:
    with pytest.raises(ConfigurationError, match="mysql"):
        normalise_database_url("mysql://h/db")
