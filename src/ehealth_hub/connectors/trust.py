"""The trust layer assembled from settings, for the composition root (``bootstrap/``).

One object holding what every eHealth/MyCareNet connector needs: the truststore, the pinned STS
certificates, the practitioners' signing credentials (sandbox PKI or the production keystore
registry), the STS client (token cache) and the ETK depot client (ETK cache). Sandbox defaults come
from the sandbox PKI (:class:`Identities`, handed in by the composition root).

Public API (stable)::

    TrustLayer.from_settings(settings, *, sts_http, etk_http, clock, sandbox=None) -> TrustLayer
    trust.truststore ; trust.sts_certificates ; trust.sts (StsClient) ; trust.etk_depot
    trust.credential(nihii) -> Credential             # the practitioner's authentication identity
    await trust.token(nihii, quality) -> SamlToken     # cached HoK token for business calls
    trust.saml_plugin()                                # signs business calls (zeep plugin)
    trust.verify_plugin(signer, *, system)             # verifies their signed answers
    EHEALTH_SIGNER                                     # who signs eHealth's answers (CBE)
    trust.hub_etk -> Credential | None                 # the hub's own ETK (sandbox)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

import httpx
from cryptography import x509

from ehealth_hub.connectors.credentials import Credential
from ehealth_hub.connectors.etee import EtkDepotClient
from ehealth_hub.connectors.keystores import KeystoreRegistry
from ehealth_hub.connectors.saml import SamlToken
from ehealth_hub.connectors.soap import create_client, wsdl_path
from ehealth_hub.connectors.sts import StsClient
from ehealth_hub.connectors.wsse import ExpectedSigner, WsseSignPlugin, WsseVerifyPlugin
from ehealth_hub.core.errors import ConfigurationError
from ehealth_hub.settings import Settings

EHEALTH_SIGNER: Final = ExpectedSigner("CBE", "0809394427")
"""eHealth's own CBE: the platform's services (Consent, Therapeutic Link, AddressBook,
eHealthBox) sign their answers with a certificate naming it."""


def _pem_bundle(path: Path) -> tuple[x509.Certificate, ...]:
    try:
        return tuple(x509.load_pem_x509_certificates(path.read_bytes()))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"certificate bundle {path} unreadable", system="trust") from exc


@dataclass(frozen=True, slots=True)
class Identities:
    """Whom the hub trusts and whose keys it signs with, when no trust files are configured: the
    sandbox PKI's (the composition root derives them; this layer never reaches the fixtures)."""

    truststore: tuple[x509.Certificate, ...]
    sts_certificates: tuple[x509.Certificate, ...]
    credentials: Callable[[str], Credential]
    hub_etk: Credential | None


@dataclass(frozen=True, slots=True)
class TrustLayer:
    truststore: tuple[x509.Certificate, ...]
    sts_certificates: tuple[x509.Certificate, ...]
    sts: StsClient
    etk_depot: EtkDepotClient
    credentials: Callable[[str], Credential]
    clock: Callable[[], datetime]
    skew: timedelta
    ttl: timedelta
    hub_etk: Credential | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        sts_http: httpx.AsyncClient,
        etk_http: httpx.AsyncClient,
        clock: Callable[[], datetime],
        sandbox: Identities | None = None,
    ) -> TrustLayer:
        """Build from ``settings.trust``; the httpx clients are owned (and closed) by the caller;
        ``sandbox``: the sandbox PKI's identities, used where no trust files are configured."""
        conf = settings.trust
        hub_etk: Credential | None = None
        credentials: Callable[[str], Credential]
        truststore: tuple[x509.Certificate, ...]
        sts_certs: tuple[x509.Certificate, ...]
        if conf.truststore_file is None or conf.sts_certificate_file is None:
            if sandbox is None:
                raise ConfigurationError(
                    "trust.truststore_file and trust.sts_certificate_file are required"
                    " (only the sandbox derives them)",
                    system="trust",
                )
            truststore, sts_certs, credentials, hub_etk = (
                sandbox.truststore,
                sandbox.sts_certificates,
                sandbox.credentials,
                sandbox.hub_etk,
            )
        else:
            truststore = _pem_bundle(conf.truststore_file)
            sts_certs = _pem_bundle(conf.sts_certificate_file)
            registry = KeystoreRegistry(
                conf.keystore_registry or settings.data_dir / "keystores.json",
                environ=os.environ,
                clock=clock,
                warning_days=conf.expiry_warning_days,
            )
            credentials = registry.credential
        ttl = timedelta(seconds=conf.message_ttl_seconds)
        skew = timedelta(seconds=conf.clock_skew_seconds)
        sts_soap = create_client(
            wsdl_path("sts_v1.wsdl"),
            http=sts_http,
            plugins=[WsseSignPlugin("x509", clock=clock, ttl=ttl)],
            address=conf.sts_url,
            system="sts",
        )
        sts = StsClient(
            sts_soap,
            truststore=truststore,
            sts_certificates=sts_certs,
            clock=clock,
            renew_at=conf.token_renew_at,
            max_skew=skew,
        )
        etk_soap = create_client(
            wsdl_path("etkdepot_v1.wsdl"),
            http=etk_http,
            address=conf.etkdepot_url,
            system="etkdepot",
        )
        depot = EtkDepotClient(
            etk_soap,
            truststore=truststore,
            clock=clock,
            ttl=timedelta(seconds=conf.etk_cache_seconds),
        )
        return cls(truststore, tuple(sts_certs), sts, depot, credentials, clock, skew, ttl, hub_etk)

    def credential(self, nihii: str) -> Credential:
        return self.credentials(nihii)

    async def token(self, nihii: str, quality: str) -> SamlToken:
        """The cached holder-of-key token of ``nihii`` acting as ``quality``."""
        return await self.sts.token(self.credential(nihii), quality)

    def saml_plugin(self) -> WsseSignPlugin:
        """Signs business calls with the token bound by ``wsse.use_token``."""
        return WsseSignPlugin("saml", clock=self.clock, ttl=self.ttl)

    def verify_plugin(self, signer: ExpectedSigner, *, system: str) -> WsseVerifyPlugin:
        """Verifies the signed answers of ``system``: signature, chain to the truststore, the
        ``signer`` expected, a fresh Timestamp (within the clock skew); see WsseVerifyPlugin."""
        return WsseVerifyPlugin(
            self.truststore,
            clock=self.clock,
            max_skew=self.skew,
            sts=self.sts_certificates,
            signer=signer,
            system=system,
        )
