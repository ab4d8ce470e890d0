"""Typed settings, read once at start-up and passed down from the composition root.

Sources, highest priority first: keyword arguments (tests), ``EHEALTH_HUB_*`` environment variables
(nested sections with ``__``, e.g. ``EHEALTH_HUB_API__PORT=8080``), the TOML file named by
``EHEALTH_HUB_CONFIG_FILE``, then the defaults below. Nothing else in the hub reads the environment.

``EHEALTH_HUB_ENV`` chooses the world the hub talks to:

* ``sandbox`` (default): simulators in-process, sandbox PKI, SQLite under ``./var``;
* ``acceptance`` / ``production``: real endpoints and keystores; every section that still holds a
  sandbox default is refused at start-up with the list of offending settings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ehealth_hub.core.errors import ConfigurationError
from ehealth_hub.settings.auth import AuthSettings
from ehealth_hub.settings.base import (
    SQLITE_DEFAULT,
    ApiSettings,
    LogSettings,
    Section,
    normalise_database_url,
)
from ehealth_hub.settings.consent import AuditSettings, ConsentSettings, RoleRule
from ehealth_hub.settings.console import ConsoleSettings, OidcSettings, OperatorAccount
from ehealth_hub.settings.delivery import DeliverySettings, RetentionSettings, RetryPolicySettings
from ehealth_hub.settings.endpoints import EndpointSettings, GpSystemSettings
from ehealth_hub.settings.limits import InputLimits
from ehealth_hub.settings.mycarenet import FederationSettings, MyCareNetSettings
from ehealth_hub.settings.payers import InsurerSettings, PayersSettings
from ehealth_hub.settings.records import RecordsSettings
from ehealth_hub.settings.trust import TrustSettings

Environment = Literal["sandbox", "acceptance", "production"]

__all__ = [
    "SQLITE_DEFAULT",
    "ApiSettings",
    "AuditSettings",
    "AuthSettings",
    "ConsentSettings",
    "ConsoleSettings",
    "DeliverySettings",
    "EndpointSettings",
    "Environment",
    "FederationSettings",
    "GpSystemSettings",
    "InsurerSettings",
    "LogSettings",
    "MyCareNetSettings",
    "OidcSettings",
    "OperatorAccount",
    "PayersSettings",
    "RecordsSettings",
    "RetentionSettings",
    "RetryPolicySettings",
    "RoleRule",
    "Section",
    "Settings",
    "TrustSettings",
    "load_settings",
    "normalise_database_url",
]


class Settings(BaseSettings):
    """All settings of the hub. Build with :func:`load_settings`; never mutate."""

    model_config = SettingsConfigDict(
        env_prefix="EHEALTH_HUB_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    env: Environment = "sandbox"
    """Which world the hub talks to: sandbox (simulators), acceptance or production."""
    database_url: str = SQLITE_DEFAULT
    """SQLAlchemy URL; plain postgresql:// and sqlite:// are accepted and get the async driver."""
    data_dir: Path = Path("var")
    """Where the hub keeps its files (SQLite database, sandbox PKI, signed audit heads)."""
    api: ApiSettings = ApiSettings()
    """The HTTP API."""
    limits: InputLimits = InputLimits()
    """Body and field sizes the API accepts at the door, per endpoint."""
    log: LogSettings = LogSettings()
    """Structured logging."""
    consent: ConsentSettings = ConsentSettings()
    """The consent gate (policy sources, role rules, break-the-glass, decision cache)."""
    audit: AuditSettings = AuditSettings()
    """The tamper-evident audit trail (signing key, checkpoint interval)."""
    delivery: DeliverySettings = DeliverySettings()
    """The outbox, its workers and retry policies per destination."""
    auth: AuthSettings = AuthSettings()
    """API client authentication: client registry, token signing key, lifetimes."""
    trust: TrustSettings = TrustSettings()
    """Trust layer: truststore, STS pin, keystore registry, endpoints, token renewal."""
    endpoints: EndpointSettings = EndpointSettings()
    """The eHealth connectors: endpoints, regional hubs, GP systems, timeouts, retries."""
    mycarenet: MyCareNetSettings = MyCareNetSettings()
    """MyCareNet: licence, endpoints, claim wait, per-federation routing."""
    records: RecordsSettings = RecordsSettings()
    """``Patient/$summary`` reads: per-source timeout, the content cache."""
    console: ConsoleSettings = ConsoleSettings()
    """The operations console (``/console``): accounts, sessions, OpenID Connect."""
    payers: PayersSettings = PayersSettings()
    """Payers besides the mutualities: private insurers (``services.insurer_claims``)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("EHEALTH_HUB_CONFIG_FILE")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    @model_validator(mode="after")
    def _check(self) -> Settings:
        object.__setattr__(self, "database_url", normalise_database_url(self.database_url))
        if self.env != "sandbox":
            offending = self._sandbox_defaults()
            if offending:
                raise ValueError(
                    f"EHEALTH_HUB_ENV={self.env} refuses sandbox defaults: " + ", ".join(offending)
                )
        return self

    def _sandbox_defaults(self) -> list[str]:
        offending = ["database_url"] if self.database_url.startswith("sqlite") else []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, Section):
                offending += [f"{name}.{field}" for field in value.sandbox_defaults()]
        return offending

    @property
    def is_sandbox(self) -> bool:
        """True in the sandbox environment (simulators, sandbox PKI)."""
        return self.env == "sandbox"


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings once, raising ConfigurationError with every problem."""
    path = os.environ.get("EHEALTH_HUB_CONFIG_FILE")
    if path and not Path(path).is_file():
        raise ConfigurationError(
            f"EHEALTH_HUB_CONFIG_FILE points at {path!r}, which is not a file", system="settings"
        )
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigurationError(problems, system="settings", operation="load") from exc
