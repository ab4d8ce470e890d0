"""The ``mycarenet`` settings section: sandbox licence and simulator endpoints refused elsewhere."""

from __future__ import annotations

import pytest

from ehealth_hub.core.errors import ConfigurationError
from ehealth_hub.settings import MyCareNetSettings, load_settings
from ehealth_hub.settings.mycarenet import MhcSettings


def test_production_refuses_the_sandbox_licence_and_simulator_endpoints() -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(env="production", database_url="postgresql://db.internal/hub")
    names = (
        "license_password",
        "memberdata_url",
        "attest_url",
        "genasync_url",
        "gmd_url",
        "mhc.url",
    )
    for name in names:
        assert f"mycarenet.{name}" in refused.value.detail


def test_real_endpoints_and_licence_are_not_sandbox_defaults() -> None:
    real = MyCareNetSettings(
        license_password="granted-by-the-cin",
        memberdata_url="https://services.ehealth.fgov.be/MyCareNet/MemberData/v1",
        attest_url="https://services.ehealth.fgov.be/MyCareNet/eAttest/v3",
        genasync_url="https://services.ehealth.fgov.be/MyCareNet/GenAsync/v1",
        gmd_url="https://services.ehealth.fgov.be/MyCareNet/GlobalMedicalFile/v1",
        mhc=MhcSettings(url="https://mhc.example.invalid/v1"),  # assumed path: acceptance-only
    )
    assert real.sandbox_defaults() == []
    assert set(real.federations) == {"100", "200", "300", "400", "500", "600", "900"}
