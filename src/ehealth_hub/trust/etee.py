"""eHealth end-to-end encryption (ETEE): the ETK depot client and sealing/unsealing as CMS.

Standards: CMS (RFC 5652) SignedData and EnvelopedData (RSA key transport, AES-256-CBC content),
as eHealth's ETEE "sealed message": an outer SignedData by the sender's authentication key whose
content is an EnvelopedData addressed to every recipient's ETK and to the sender's own, whose
content is an inner SignedData by the same sender over the payload. ETK depot: eHealth
``etkdepot 1.0`` (``urn:be:fgov:ehealth:etkdepot:1_0:protocol``, ``GetEtkRequest``/
``SearchCriteria/Identifier`` Type + Value + optional ApplicationID).

Sealing and the decryption use ``cryptography``'s PKCS#7 builders; verification of the two
signatures parses the CMS structures with ``asn1crypto`` (``cryptography`` has no CMS verify) and
checks: the message digest attribute, the RSA signature over the signed attributes, the signer's
chain to the truststore at ``now``, and that both layers are signed by the same certificate.

Simplification, stated: a real ETK is a CMS structure signed by its owner that wraps the encryption
certificate; the sandbox depot serves the encryption certificate itself (DER), checked here against
the truststore and the identifier it was asked for.

Public API (stable)::

    EtkId(type, value, application=None)
    EtkDepotClient(soap: SoapClient, *, truststore, clock, ttl=timedelta(hours=24))
    await depot.get_etk(etk_id) -> x509.Certificate            # cached per EtkId
    seal(payload: bytes, sender: Credential, recipients: Sequence[x509.Certificate], *,
         sender_etk: x509.Certificate) -> bytes                  # DER
    unseal(sealed: bytes, recipient: Credential, *, truststore, now) -> Unsealed(payload, sender)
        # EncryptionError: not for this recipient, tampered, signatures disagree, untrusted signer
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from ehealth_hub.core.errors import BusinessRejection, EncryptionError, SecurityError
from ehealth_hub.transport.soap import SoapClient
from ehealth_hub.trust.credentials import Credential, subject_value, verify_chain

_DIGESTS: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


@dataclass(frozen=True, slots=True, order=True)
class EtkId:
    """How the ETK depot identifies an ETK owner (eHealth ``IdentifierType``)."""

    type: str
    """``SSIN``, ``NIHII``, ``CBE`` or ``EHP``."""
    value: str
    application: str | None = None
    """The ApplicationID of organisations with several ETKs (``MYCARENET``)."""

    @property
    def filename(self) -> str:
        return "-".join(p for p in (self.type, self.value, self.application) if p)


@dataclass(frozen=True, slots=True)
class Unsealed:
    payload: bytes
    sender: x509.Certificate


def _sign(data: bytes, sender: Credential) -> bytes:
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data)
    builder = builder.add_signer(sender.certificate, sender.private_key, hashes.SHA256())
    for certificate in sender.chain[:-1]:  # intermediates travel; the root is the reader's anchor
        builder = builder.add_certificate(certificate)
    options = [pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.NoCapabilities]
    return builder.sign(Encoding.DER, options)


def seal(
    payload: bytes,
    sender: Credential,
    recipients: Sequence[x509.Certificate],
    *,
    sender_etk: x509.Certificate,
) -> bytes:
    """Seal ``payload`` for ``recipients`` (their ETK certificates) and the sender's own ETK."""
    if not recipients:
        raise EncryptionError(
            "a sealed message needs at least one recipient", system="etee", operation="seal"
        )
    envelope = pkcs7.PKCS7EnvelopeBuilder().set_data(_sign(payload, sender))
    envelope = envelope.set_content_encryption_algorithm(algorithms.AES256)
    for certificate in {
        c.fingerprint(hashes.SHA256()): c for c in (*recipients, sender_etk)
    }.values():
        envelope = envelope.add_recipient(certificate)
    return _sign(envelope.encrypt(Encoding.DER, [pkcs7.PKCS7Options.Binary]), sender)


def _verified_content(
    der: bytes, truststore: Sequence[x509.Certificate], now: datetime, layer: str
) -> tuple[bytes, x509.Certificate]:
    try:
        info = cms.ContentInfo.load(der, strict=True)
        signed = info["content"]
        if info["content_type"].native != "signed_data" or len(signed["signer_infos"]) != 1:
            raise ValueError("not a SignedData with one signer")
        content = signed["encap_content_info"]["content"].native
        signer_info = signed["signer_infos"][0]
        certs = [
            x509.load_der_x509_certificate(c.chosen.dump()) for c in signed["certificates"] or []
        ]
    except ValueError as exc:
        raise EncryptionError(
            f"{layer} layer is not CMS SignedData: {exc}", system="etee", operation="unseal"
        ) from exc
    if not isinstance(content, bytes):
        raise EncryptionError(
            f"{layer} layer carries no content", system="etee", operation="unseal"
        )
    signer = _signer_certificate(signer_info, certs, layer)
    try:
        verify_chain(signer, certs, trusted=truststore, now=now)
    except SecurityError as exc:
        raise EncryptionError(
            f"{layer} signer not trusted: {exc.detail}", system="etee", operation="unseal"
        ) from exc
    _check_signer_info(signer_info, signer, content, layer)
    return content, signer


def _signer_certificate(
    signer_info: Any, certs: list[x509.Certificate], layer: str
) -> x509.Certificate:
    sid = signer_info["sid"]
    if sid.name != "issuer_and_serial_number":
        raise EncryptionError(
            f"{layer} signer identified by key id", system="etee", operation="unseal"
        )
    serial = sid.chosen["serial_number"].native
    issuer = sid.chosen["issuer"].dump()
    for certificate in certs:
        if certificate.serial_number == serial and certificate.issuer.public_bytes() == issuer:
            return certificate
    raise EncryptionError(f"{layer} signer certificate missing", system="etee", operation="unseal")


def _check_signer_info(
    signer_info: Any, signer: x509.Certificate, content: bytes, layer: str
) -> None:
    algorithm = _DIGESTS.get(signer_info["digest_algorithm"]["algorithm"].native)
    attributes = signer_info["signed_attrs"]
    if algorithm is None or not attributes:
        raise EncryptionError(
            f"{layer} signature lacks signed attributes or a known digest",
            system="etee",
            operation="unseal",
        )
    digests = [a["values"][0].native for a in attributes if a["type"].native == "message_digest"]
    digest = hashes.Hash(algorithm)
    digest.update(content)
    if digests != [digest.finalize()]:
        raise EncryptionError(
            f"{layer} content was altered (message digest mismatch)",
            system="etee",
            operation="unseal",
        )
    key = signer.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise EncryptionError(f"{layer} signer key is not RSA", system="etee", operation="unseal")
    try:
        key.verify(
            signer_info["signature"].native,
            attributes.untag().dump(),
            padding.PKCS1v15(),
            algorithm,
        )
    except InvalidSignature as exc:
        raise EncryptionError(
            f"{layer} signature invalid", system="etee", operation="unseal"
        ) from exc


def unseal(
    sealed: bytes, recipient: Credential, *, truststore: Sequence[x509.Certificate], now: datetime
) -> Unsealed:
    """Open a sealed message with ``recipient`` (an ETK decryption identity); see the module doc."""
    enveloped, outer = _verified_content(sealed, truststore, now, "outer")
    try:
        inner_der = pkcs7.pkcs7_decrypt_der(
            enveloped, recipient.certificate, recipient.private_key, []
        )
    except ValueError as exc:
        raise EncryptionError(
            "message is not addressed to this ETK or cannot be decrypted",
            system="etee",
            operation="unseal",
            code="unknown-recipient",
        ) from exc
    payload, inner = _verified_content(inner_der, truststore, now, "inner")
    if inner != outer:
        raise EncryptionError(
            "inner and outer signatures are by different senders", system="etee", operation="unseal"
        )
    return Unsealed(payload, inner)


class EtkDepotClient:
    """GetEtk with a per-identifier cache; see the module docstring."""

    def __init__(
        self,
        soap: SoapClient,
        *,
        truststore: Sequence[x509.Certificate],
        clock: Callable[[], datetime],
        ttl: timedelta = timedelta(hours=24),
    ) -> None:
        self._soap, self._truststore, self._clock, self._ttl = soap, tuple(truststore), clock, ttl
        self._cache: dict[EtkId, tuple[datetime, x509.Certificate]] = {}

    async def get_etk(self, etk_id: EtkId) -> x509.Certificate:
        """The ETK certificate of ``etk_id``; BusinessRejection when the depot has none."""
        hit = self._cache.get(etk_id)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        identifier: dict[str, str] = {"Type": etk_id.type, "Value": etk_id.value}
        if etk_id.application:
            identifier["ApplicationID"] = etk_id.application
        answer = await self._soap.call("GetEtk", SearchCriteria={"Identifier": [identifier]})
        certificate = self._check(etk_id, answer)
        self._cache[etk_id] = (self._clock() + self._ttl, certificate)
        return certificate

    def _check(self, etk_id: EtkId, answer: Any) -> x509.Certificate:
        status = getattr(getattr(answer, "Status", None), "Code", None)
        if status != "200" or not getattr(answer, "ETK", None):
            errors = [f"{e.Code}: {e.Message}" for e in (getattr(answer, "Error", None) or [])]
            if getattr(answer, "MatchingEtk", None):
                errors.append("several ETKs match: name the ApplicationID")
            raise BusinessRejection(
                f"no single ETK for {etk_id.type} {etk_id.value[:4]}…: "
                f"{'; '.join(errors) or 'status ' + str(status)}",
                system="etkdepot",
                operation="GetEtk",
                code="ambiguous" if getattr(answer, "MatchingEtk", None) else str(status),
            )
        raw = answer.ETK if isinstance(answer.ETK, bytes) else base64.b64decode(answer.ETK)
        try:
            certificate = x509.load_der_x509_certificate(raw)
        except ValueError as exc:
            raise EncryptionError(
                "ETK is not a certificate", system="etkdepot", operation="GetEtk"
            ) from exc
        try:
            verify_chain(certificate, (), trusted=self._truststore, now=self._clock())
        except SecurityError as exc:
            raise EncryptionError(
                f"ETK not trusted: {exc.detail}", system="etkdepot", operation="GetEtk"
            ) from exc
        cn = ",".join(a.value for a in certificate.subject if isinstance(a.value, str))
        if subject_value(certificate, etk_id.type) != etk_id.value or (
            etk_id.application and f", {etk_id.application}" not in cn
        ):
            raise EncryptionError(
                "ETK belongs to another identity", system="etkdepot", operation="GetEtk"
            )
        return certificate
