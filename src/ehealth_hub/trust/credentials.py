"""X.509 credentials and chain checks shared by WS-Security, the STS client and ETEE.

A :class:`Credential` is what every signing and sealing function takes: a certificate, its RSA
private key and the issuing chain (intermediates then root, leaf excluded). The sandbox PKI
(``ehealth_hub.fixtures.pki``) and the production keystore registry
(``ehealth_hub.trust.keystores``) both produce them from PKCS#12 keystores, the format
eHealth issues its certificates in.

Public API (stable)::

    Credential(certificate, private_key, chain=())
    Credential.from_pkcs12(data: bytes, passphrase: bytes | str | None) -> Credential
    Credential.subject_value(prefix: str) -> str | None   # "SSIN", "NIHII", "CBE" in the subject
    Credential.thumbprint -> str                          # SHA-256 of the DER certificate (hex)
    verify_chain(certificate, chain, *, trusted, now) -> None   # raises SignatureError
    certificate_from_pem_or_der(data: bytes) -> x509.Certificate

Chain validation follows RFC 5280 path building in its simple form (each certificate directly
issued by the next, validity at ``now``, issuers flagged CA, path ends at a trusted anchor). It is
deliberately not the CA/Browser-forum web policy: eHealth certificates do not carry the extensions
that policy requires.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from ehealth_hub.core.errors import ConfigurationError, SignatureError

_SUBJECT_VALUE = re.compile(r"(?:^|[\s,])(?P<key>[A-Z\-]+)=(?P<value>[0-9]+)")


# Asked on every business call (the STS token cache key): the few identities of a process are
# hashed once (certificates hash and compare by their DER).
@functools.lru_cache(maxsize=1024)
def _thumbprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


@dataclass(frozen=True, slots=True)
class Credential:
    """An X.509 identity able to sign: certificate, RSA key and issuing chain."""

    certificate: x509.Certificate
    """The end-entity certificate (eHealth authentication or ETK encryption certificate)."""
    private_key: rsa.RSAPrivateKey
    """The RSA private key matching ``certificate``; never logged, never serialised in clear."""
    chain: tuple[x509.Certificate, ...] = field(default=())
    """Issuers of ``certificate``, nearest first, up to and including the root when known."""

    def __post_init__(self) -> None:
        if self.certificate.public_key().public_numbers() != (  # type: ignore[union-attr]  # RSA enforced by the annotation; a non-RSA key fails the comparison
            self.private_key.public_key().public_numbers()
        ):
            raise ConfigurationError(
                "private key does not match the certificate", system="pki", operation="credential"
            )

    @classmethod
    def from_pkcs12(cls, data: bytes, passphrase: bytes | str | None) -> Credential:
        """Open an eHealth-style PKCS#12 keystore; raises ConfigurationError when it cannot."""
        secret = passphrase.encode() if isinstance(passphrase, str) else passphrase
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(data, secret)
        except ValueError as exc:
            raise ConfigurationError(
                "PKCS#12 keystore cannot be opened (wrong passphrase or corrupt file)",
                system="pki",
                operation="keystore",
            ) from exc
        if cert is None or not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigurationError(
                "PKCS#12 keystore must hold one certificate and its RSA key",
                system="pki",
                operation="keystore",
            )
        return cls(cert, key, tuple(extra))

    @property
    def thumbprint(self) -> str:
        """SHA-256 of the DER certificate, hex: the cache and registry key of this identity."""
        return _thumbprint(self.certificate)

    def subject_value(self, prefix: str) -> str | None:
        """The digits after ``PREFIX=`` in the subject (eHealth writes ``SSIN=...``)."""
        return subject_value(self.certificate, prefix)

    def to_pkcs12(self, passphrase: bytes, name: bytes = b"authentication") -> bytes:
        """The keystore form, encrypted with ``passphrase`` (AES-256, PBKDF2)."""
        return pkcs12.serialize_key_and_certificates(
            name,
            self.private_key,
            self.certificate,
            list(self.chain) or None,
            serialization.BestAvailableEncryption(passphrase),
        )


def subject_value(certificate: x509.Certificate, prefix: str) -> str | None:
    """The digits after ``PREFIX=`` in any subject attribute value, or None."""
    for attribute in certificate.subject:
        text = attribute.value if isinstance(attribute.value, str) else ""
        for match in _SUBJECT_VALUE.finditer(text):
            if match["key"] == prefix or match["key"].startswith(prefix + "-"):
                return match["value"]
    return None


def certificate_from_pem_or_der(data: bytes) -> x509.Certificate:
    """Load one certificate, PEM or DER; raises SignatureError when it is not one."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise SignatureError("not an X.509 certificate", system="pki", operation="load") from exc


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _check_validity(certificate: x509.Certificate, now: datetime) -> None:
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise SignatureError(
            f"certificate {certificate.subject.rfc4514_string()!r} is not valid at "
            f"{now:%Y-%m-%dT%H:%M:%SZ}",
            system="pki",
            operation="chain",
            code="certificate-expired",
        )


def verify_chain(
    certificate: x509.Certificate,
    chain: Sequence[x509.Certificate],
    *,
    trusted: Iterable[x509.Certificate],
    now: datetime,
) -> None:
    """Accept ``certificate`` only when a path through ``chain`` ends at a ``trusted`` anchor.

    Raises SignatureError (code ``untrusted-certificate`` or ``certificate-expired``) otherwise.
    """
    anchors = list(trusted)
    if certificate in anchors:
        _check_validity(certificate, now)
        return
    pool = [c for c in chain if c != certificate] + anchors
    current = certificate
    for _ in range(8):  # eHealth paths are three deep; eight bounds a hostile chain
        _check_validity(current, now)
        issuer = next((c for c in pool if _issued_by(current, c)), None)
        if issuer is None:
            break
        if issuer in anchors:
            _check_validity(issuer, now)
            return
        current = issuer
    raise SignatureError(
        f"certificate {certificate.subject.rfc4514_string()!r} does not chain to a trusted root",
        system="pki",
        operation="chain",
        code="untrusted-certificate",
    )


@functools.lru_cache(maxsize=1024)  # pure: a signature over immutable certificates
def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    if certificate.issuer != issuer.subject or not _is_ca(issuer):
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
