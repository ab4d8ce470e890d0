"""Settings of API client authentication (SMART backend services, ``auth/``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from ehealth_hub.settings.base import Section


class AuthSettings(Section):
    """API client authentication (SMART backend services; ``ehealth_hub.auth``)."""

    clients_file: Path | None = None
    """JSON registry of clients and enrolled practitioners; None = the sandbox clients generated
    into ``data_dir/sandbox/auth`` (refused outside the sandbox)."""
    signing_key_file: Path | None = None
    """PEM EC P-256 private key signing access tokens (ES256); None = a sandbox key derived into
    ``data_dir/sandbox/auth`` (refused outside the sandbox)."""
    token_lifetime_seconds: int = Field(default=300, ge=30, le=3600)
    """Lifetime of the access tokens the hub issues."""
    assertion_max_lifetime_seconds: int = Field(default=300, ge=10, le=300)
    """Longest accepted client-assertion lifetime (SMART: at most 5 minutes)."""
    clock_skew_seconds: int = Field(default=30, ge=0, le=300)
    """Clock difference tolerated when checking exp/iat/nbf."""

    def sandbox_defaults(self) -> list[str]:
        """The sandbox clients and signing key are public: refused outside the sandbox."""
        return [
            name for name in ("clients_file", "signing_key_file") if getattr(self, name) is None
        ]
