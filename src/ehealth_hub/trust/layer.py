"""The trust layer assembled from settings, for the composition root (``bootstrap.py``).

One object holding what every eHealth/MyCareNet connector needs: the truststore, the pinned STS
certificates, the practitioners' signing credentials (sandbox PKI or the production keystore
registry), the STS client (token cache) and the ETK depot client (ETK cache). Sandbox defaults come
from the sandbox PKI in ``settings.trust.pki_dir`` (``data_dir/sandbox/pki`` when unset).

Public API (stable)::

    TrustLayer.from_settings(settings, *, sts_http, etk_http, clock, sandbox=None) -> TrustLayer
    trust.truststore ; trust.sts_certificates ; trust.sts (StsClient) ; trust.etk_depot
    trust.credential(nihii) -> Credential             # the practitioner's authentication identity
    await trust.token(nihii, quality) -> SamlToken     # cached HoK token for business calls
    trust.saml_signer()                                # signs business calls (SAML HoK)
    trust.verifier(signer, *, system)                  # verifies their signed answers
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

from ehealth_hub.core.errors import ConfigurationError
from ehealth_hub.settings import Settings
from ehealth_hub.transport.wsdl import create_client, wsdl_path
from ehealth_hub.trust.credentials import Credential
from ehealth_hub.trust.etee import EtkDepotClient
from ehealth_hub.trust.keystores import KeystoreRegistry
from ehealth_hub.trust.saml import SamlToken
from ehealth_hub.trust.sts import StsClient
from ehealth_hub.trust.wsse import ExpectedSigner, SamlSigner, WsseAnswerPolicy, X509Signer

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
    """Whom the hub trusts and who signs for it."""

    truststore: tuple[x509.Certificate, ...]
    """Roots and intermediates answers and tokens must chain to."""
    sts_certificates: tuple[x509.Certificate, ...]
    """The pinned STS signing certificates."""
    credentials: Callable[[str], Credential]
    """NIHII -> the practitioner's signing credential."""
    hub_etk: Credential | None = None
    """The hub's own ETK (the sandbox has one)."""


SandboxIdentities = Callable[[Path], Identities]
"""The sandbox PKI's identities, from its directory (``fixtures.pki.sandbox_identities``)."""


def _identities(
    settings: Settings, clock: Callable[[], datetime], sandbox: SandboxIdentities | None
) -> Identities:
    conf = settings.trust
    if conf.truststore_file is not None and conf.sts_certificate_file is not None:
        registry = KeystoreRegistry(
            conf.keystore_registry or settings.data_dir / "keystores.json",
            environ=os.environ,
            clock=clock,
            warning_days=conf.expiry_warning_days,
        )
        truststore = _pem_bundle(conf.truststore_file)
        return Identities(truststore, _pem_bundle(conf.sts_certificate_file), registry.credential)
    if sandbox is None:
        raise ConfigurationError(
            "trust.truststore_file and trust.sts_certificate_file are required outside the sandbox",
            system="trust",
        )
    return sandbox(conf.pki_dir or settings.data_dir / "sandbox" / "pki")


def _sts(
    settings: Settings,
    http: httpx.AsyncClient,
    ids: Identities,
    clock: Callable[[], datetime],
    ttl: timedelta,
) -> StsClient:
    soap = create_client(
        wsdl_path("sts_v1.wsdl"),
        http=http,
        sign=X509Signer(clock, ttl),
        address=settings.trust.sts_url,
        system="sts",
    )
    return StsClient(
        soap,
        truststore=ids.truststore,
        sts_certificates=ids.sts_certificates,
        clock=clock,
        renew_at=settings.trust.token_renew_at,
        max_skew=timedelta(seconds=settings.trust.clock_skew_seconds),
    )


def _etk_depot(
    settings: Settings, http: httpx.AsyncClient, ids: Identities, clock: Callable[[], datetime]
) -> EtkDepotClient:
    soap = create_client(
        wsdl_path("etkdepot_v1.wsdl"),
        http=http,
        address=settings.trust.etkdepot_url,
        system="etkdepot",
    )
    ttl = timedelta(seconds=settings.trust.etk_cache_seconds)
    return EtkDepotClient(soap, truststore=ids.truststore, clock=clock, ttl=ttl)


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
        sandbox: SandboxIdentities | None = None,
    ) -> TrustLayer:
        """Build from ``settings.trust``; the httpx clients are owned (and closed) by the caller.

        Without a configured truststore and STS certificate the identities come from
        ``sandbox`` (the sandbox PKI in ``trust.pki_dir``, ``data_dir/sandbox/pki`` when unset)."""
        conf = settings.trust
        ids = _identities(settings, clock, sandbox)
        ttl = timedelta(seconds=conf.message_ttl_seconds)
        skew = timedelta(seconds=conf.clock_skew_seconds)
        sts = _sts(settings, sts_http, ids, clock, ttl)
        depot = _etk_depot(settings, etk_http, ids, clock)
        return cls(
            ids.truststore,
            ids.sts_certificates,
            sts,
            depot,
            ids.credentials,
            clock,
            skew,
            ttl,
            ids.hub_etk,
        )

    def credential(self, nihii: str) -> Credential:
        return self.credentials(nihii)

    async def token(self, nihii: str, quality: str) -> SamlToken:
        """The cached holder-of-key token of ``nihii`` acting as ``quality``."""
        return await self.sts.token(self.credential(nihii), quality)

    def saml_signer(self) -> SamlSigner:
        """Signs business calls with the token bound by ``wsse.use_token``."""
        return SamlSigner(self.clock, self.ttl)

    def verifier(self, signer: ExpectedSigner, *, system: str) -> WsseAnswerPolicy:
        """Verifies the signed answers of ``system``: signature, chain to the truststore, the
        ``signer`` expected, a fresh Timestamp (within the clock skew); see WsseAnswerPolicy."""
        return WsseAnswerPolicy(
            self.truststore,
            clock=self.clock,
            max_skew=self.skew,
            sts=self.sts_certificates,
            signer=signer,
            system=system,
        )
