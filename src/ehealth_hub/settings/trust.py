"""Settings of the trust layer: truststore, STS pin, keystores, token renewal (``connectors/``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from ehealth_hub.settings.base import Section


class TrustSettings(Section):
    """The trust layer: PKI, keystores, STS tokens, ETK depot (``trust.wsse/sts/etee``)."""

    pki_dir: Path | None = None
    """Sandbox PKI directory; None = ``data_dir/sandbox/pki`` (``ehealth-hub pki init``)."""
    truststore_file: Path | None = None
    """PEM bundle of the CA certificates trusted for eHealth signatures (issuing CAs + roots);
    None = the sandbox PKI (refused outside the sandbox)."""
    sts_certificate_file: Path | None = None
    """PEM of the STS signing certificate(s) accepted on SAML assertions (pinned); None = the
    sandbox STS (refused outside the sandbox)."""
    keystore_registry: Path | None = None
    """JSON registry NIHII -> PKCS#12 keystore (``ehealth-hub keystore``); None =
    ``data_dir/keystores.json``."""
    sts_url: str = "http://sts.sandbox/IAM/SecurityTokenService/v1"
    """eHealth STS endpoint (acceptance: https://services-acpt.ehealth.fgov.be/IAM/...)."""
    etkdepot_url: str = "http://etkdepot.sandbox/EtkDepot/v1"
    """ETK depot endpoint."""
    token_renew_at: float = Field(default=0.5, gt=0.0, lt=1.0)
    """Renew a SAML token once less than this share of its lifetime remains."""
    clock_skew_seconds: int = Field(default=300, ge=0, le=900)
    """Clock difference tolerated on Timestamps and assertion Conditions."""
    message_ttl_seconds: int = Field(default=300, ge=30, le=3600)
    """Lifetime written in outgoing wsu:Timestamp (Expires - Created)."""
    etk_cache_seconds: int = Field(default=86400, ge=0)
    """How long a fetched ETK is reused before asking the depot again."""
    expiry_warning_days: int = Field(default=30, ge=0)
    """Warn (``keystore list``, start-up log) when a keystore certificate expires sooner."""

    def sandbox_defaults(self) -> list[str]:
        """The sandbox PKI and simulator endpoints are refused outside the sandbox."""
        names = [n for n in ("truststore_file", "sts_certificate_file") if getattr(self, n) is None]
        return names + [n for n in ("sts_url", "etkdepot_url") if ".sandbox" in getattr(self, n)]
