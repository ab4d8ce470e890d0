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
    public_base_url: str | None = None
    """Base URL clients see (``https://hub.example.be``), when a proxy stands in front of the hub:
    used in search Bundles, Task links, ``Location``, the CapabilityStatement, SMART discovery
    and the token audience. Unset: each request's own scheme, host and port. Required outside
    the sandbox (a Host header must not choose the token audience there)."""
    search_default_count: int = Field(default=50, ge=1, le=1000)
    """Page size of a search without ``_count``."""
    search_max_count: int = Field(default=500, ge=1, le=5000)
    """Largest page a search answers (a larger ``_count`` gets this many)."""
    server_timing: bool = True
    """Answer every request with ``Server-Timing: downstream;dur=..., hub;dur=...`` (ms): how
    long it waited for the eHealth systems and how long the hub itself took."""
    workers: int = Field(default=1, ge=1, le=64)
    """API processes ``ehealth-hub serve`` starts (one per core; they share the database)."""

    def base_url(self) -> str:
        """The public base URL, else ``http://<host>:<port>`` (for URLs made outside a
        request: the CLI, the demo, the console's sign-in)."""
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    def sandbox_defaults(self) -> list[str]:
        """Outside the sandbox the public base URL must be configured."""
        return [] if self.public_base_url else ["public_base_url"]


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
