"""The MHC adapter is acceptance-only: its message shape is assumed, so the hub refuses to start
in production with it enabled until someone verified the shape (and says how to get past it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ehealth_hub.bootstrap import build_container
from ehealth_hub.bootstrap.mhc import check_mhc
from ehealth_hub.core.errors import ConfigurationError
from ehealth_hub.settings import Settings, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "acceptance.example.toml"


def _settings(monkeypatch: pytest.MonkeyPatch, **overrides: object) -> Settings:
    monkeypatch.setenv("EHEALTH_HUB_CONFIG_FILE", str(EXAMPLE))
    return load_settings(**overrides)


async def test_production_with_the_unverified_mhc_adapter_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = _settings(monkeypatch, env="production")
    assert settings.mycarenet.mhc.enabled
    assert not settings.mycarenet.mhc.shape_verified
    with pytest.raises(ConfigurationError) as refused:
        await build_container(settings)
    assert refused.value.code == "mhc-acceptance-only"
    assert "mycarenet.mhc.shape_verified" in refused.value.detail
    assert "mycarenet.mhc.enabled" in refused.value.detail


def test_acceptance_may_run_it_and_production_may_once_verified_or_disabled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    check_mhc(_settings(monkeypatch))  # acceptance: the place to verify it
    verified = {"mhc": {"url": "https://mhc.example.invalid/v1", "shape_verified": True}}
    check_mhc(_settings(monkeypatch, env="production", mycarenet=verified))
    disabled = {"mhc": {"enabled": False}}
    check_mhc(_settings(monkeypatch, env="production", mycarenet=disabled))
