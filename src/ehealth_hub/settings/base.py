"""The base of every settings section, and the sections of the hub process itself (API, logs,
database URL)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ehealth_hub.core.errors import ConfigurationError

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
    server_timing: bool = True
    """Answer every request with ``Server-Timing: downstream;dur=..., hub;dur=...`` (ms): how
    long it waited for the eHealth systems and how long the hub itself took."""
    workers: int = Field(default=1, ge=1, le=64)
    """API processes ``ehealth-hub serve`` starts (one per core; they share the database)."""


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
