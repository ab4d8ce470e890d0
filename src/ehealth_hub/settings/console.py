"""Settings of the operations console (``/console``, package ``ehealth_hub.console``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from ehealth_hub.settings.base import Section

ConsoleRole = Literal["operator", "auditor"]


class OperatorAccount(Section):
    """One console account signed in with a password (the sandbox, or a site without OIDC)."""

    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    """The login name."""
    password_hash: str = Field(pattern=r"^scrypt\$\d+\$\d+\$\d+\$[0-9a-f]+\$[0-9a-f]+$")
    """``scrypt$n$r$p$<salt hex>$<hash hex>`` (hashlib.scrypt); make one with
    ``ehealth-hub console-password``."""
    role: ConsoleRole = "operator"
    """operator: deliveries, replay, downstreams, consent explanations; auditor: also message
    bodies (with an audited reason), the audit trail and ``audit verify``."""


class OidcSettings(Section):
    """The organisation's OpenID Connect provider (authorization code flow, authlib)."""

    issuer: str | None = None
    """Issuer URL; its ``/.well-known/openid-configuration`` is read at sign-in. None: no OIDC."""
    client_id: str = ""
    """The console's client id at the provider."""
    client_secret: SecretStr = SecretStr("")
    """The console's client secret at the provider."""
    redirect_url: str | None = None
    """The callback URL registered at the provider; None =
    ``<public_base_url>/console/oidc/callback``."""
    scope: str = "openid profile email"
    """Scopes asked for."""
    role_claim: str = "roles"
    """ID token claim listing the user's roles (a list or a space-separated string)."""
    operator_values: tuple[str, ...] = ("ehealth-hub-operator",)
    """Values of ``role_claim`` that grant operator rights."""
    auditor_values: tuple[str, ...] = ("ehealth-hub-auditor",)
    """Values of ``role_claim`` that grant auditor rights (they win over operator)."""


class ConsoleSettings(Section):
    """The operations console: accounts, sessions, OpenID Connect, the metrics history."""

    enabled: bool = True
    """Serve ``/console``."""
    accounts: tuple[OperatorAccount, ...] = ()
    """Password accounts; empty in the sandbox = the sandbox ``operator`` and ``auditor``
    (passwords in ``ehealth_hub.fixtures.sandbox``, printed by ``ehealth-hub demo``)."""
    session_key_file: Path | None = None
    """File holding the secret that signs session cookies (32+ random bytes); None = one
    generated into ``data_dir/console`` on first use (refused outside the sandbox)."""
    session_minutes: int = Field(default=480, ge=5, le=1440)
    """How long a sign-in lasts."""
    secure_cookies: bool | None = None
    """Cookies marked ``Secure`` (HTTPS only); None = everywhere except the sandbox."""
    oidc: OidcSettings = OidcSettings()
    """Sign-in with the organisation's identity provider (production)."""
    history_interval_seconds: float = Field(default=60.0, gt=0, le=3600)
    """How often the console samples the delivery metrics for its charts (one hour is kept)."""

    def sandbox_defaults(self) -> list[str]:
        """A generated session key is per installation: outside the sandbox it must be named."""
        return ["session_key_file"] if self.enabled and self.session_key_file is None else []
