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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ehealth_hub.errors import ConfigurationError

Environment = Literal["sandbox", "acceptance", "production"]

SQLITE_DEFAULT = "sqlite+aiosqlite:///./var/ehealth-hub.db"


class Section(BaseModel):
    """Base of every settings section: immutable, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def sandbox_defaults(self) -> list[str]:
        """Names of fields still holding a sandbox-only value (refused outside the sandbox)."""
        return []


class ApiSettings(Section):
    """The HTTP API."""

    host: str = "127.0.0.1"
    """Interface ``ehealth-hub serve`` binds to."""
    port: int = Field(default=8000, ge=1, le=65535)
    """Port ``ehealth-hub serve`` listens on."""
    public_base_url: str = "http://127.0.0.1:8000"
    """Base URL clients see (used in Task links, the token audience and the CapabilityStatement)."""


class LogSettings(Section):
    """Structured logging."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    """Minimum level written."""
    json_output: bool = True
    """JSON lines (machines) when true, coloured console lines (people) when false."""


def normalise_database_url(url: str) -> str:
    """Accept plain ``postgresql://`` / ``sqlite://`` URLs and pick the hub's async driver."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql+psycopg://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    if url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
        return url
    raise ConfigurationError(
        "database_url must be a postgresql:// or sqlite:// URL, "
        f"got scheme {url.split(':', 1)[0]!r}",
        system="settings",
        operation="database_url",
    )


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
    log: LogSettings = LogSettings()
    """Structured logging."""

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
