"""XAdES-BES over a MyCareNet Detail: signed by the care provider's key, verified by MyCareNet.

Standards: ETSI XAdES 1.3.2/1.4.1 (``http://uri.etsi.org/01903/v1.3.2#``) on W3C XML-DSig 1.1, as
``signxml.xades`` (signxml 4) produces and checks it. MyCareNet commons protocol v4 (``Xades`` of
``SendRequestType``: "MyCareNet uses the Xades-BES; of the extensions only Xades-T") and
GenericAsync v1 (``post/Xades-t``: "the xades-t only signs the decoded content" of the Detail).

Shape: a detached ``ds:Signature`` whose data Reference points at the Detail by its ``Id``
(``#<Id>``) with the ``xmldsig#base64`` transform, so the digest covers the Detail's decoded
octets (the sealed ETEE message) whatever namespace prefixes the SOAP stack writes; the signed
properties carry ``SigningTime`` and ``SigningCertificate`` (SHA-256 of the signer's certificate,
its issuer and serial number); KeyInfo carries the signer's certificate. ``SigningCertificate``,
not signxml's default ``SigningCertificateV2``: V2 came with ETSI EN 319 132-1 (2016) and is not in
the XAdES 1.3.2 schema the MyCareNet contracts reference (``XAdES.xsd``). Canonical XML 1.0 for
SignedInfo and the property references (the XML-DSig default for a reference without transforms,
so any verifier, xmlsec1 included, digests them the same way). The serialised signature travels
base64 in ``Xades`` / ``Xades-t``.

Signing uses signxml's ``XAdESSigner``; verifying uses the hub's one verifier
(:mod:`.dsig_verify`) with MyCareNet's policy (Canonical XML 1.0 SignedInfo, a base64 data
Reference, property References without Transforms, ds:Object), then the XAdES layer here: the data
Reference covers exactly the received element, a ``SignedProperties`` Reference covers this
signature's own properties, and their ``SigningCertificate`` names the certificate that verified.

Not done, stated: the ``-T`` level (a SignatureTimeStamp from a TSA in the unsigned properties):
the sandbox has no time-stamping authority, so the hub sends XAdES-BES in both elements.

Public API::

    sign_detail(content, detail_id, signer, *, now) -> bytes          # the ds:Signature, XML
    verify_detail(xades, detail, *, truststore, now, care_provider, max_age) -> VerifiedXades
    signed_properties(signature, signed, certificate) -> Element   # the bare check, no policy
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from lxml import etree

from ehealth_hub.core.errors import SignatureError
from ehealth_hub.core.xml import parse_xml
from ehealth_hub.trust.credentials import Credential, subject_value, verify_chain
from ehealth_hub.trust.dsig_verify import (
    BASE64_TRANSFORM,
    C14N_10,
    DIGEST_METHODS,
    VerifiedReference,
    XmlSignatureVerifier,
    rsa_key,
)
from ehealth_hub.trust.signxml_api import (
    SignatureConstructionMethod,
    SignXMLException,
    XAdESDataObjectFormat,
    XAdESSigner,
    XMLSigner,
)

DS: Final = "http://www.w3.org/2000/09/xmldsig#"
XADES: Final = "http://uri.etsi.org/01903/v1.3.2#"
SHA256: Final = "http://www.w3.org/2001/04/xmlenc#sha256"
DETAIL_NS: Final = "urn:be:fgov:ehealth:mycarenet:commons:protocol:v4"
_PROPS: Final = f"{{{XADES}}}SignedProperties"
_SIGNED_SIGNATURE: Final = f"{{{XADES}}}SignedSignatureProperties"
MAX_AGE: Final = timedelta(minutes=5)
"""How old a SigningTime may be when MyCareNet receives it (and how far ahead: clock skew)."""
SIGNED_PROPERTIES: Final = "http://uri.etsi.org/01903#SignedProperties"
"""The ``Type`` of the Reference to the SignedProperties (XAdES 1.3.2 section 6.2.1)."""
XADES_SIGNATURE: Final = XmlSignatureVerifier(
    C14N_10, frozenset({(BASE64_TRANSFORM,), ()}), objects=True, system="xades"
)
"""MyCareNet's policy: c14n 1.0 SignedInfo, a base64 data Reference, bare property References."""


@dataclass(frozen=True, slots=True)
class VerifiedXades:
    """What a valid XAdES says."""

    certificate: x509.Certificate
    signing_time: datetime
    nihii: str | None
    """The NIHII in the signer's certificate subject (``NIHII-<QUALITY>=<nihii>``)."""


class _DetailSigner(XAdESSigner):
    """signxml's XAdES signer with a base64-transform data reference and a given SigningTime."""

    def __init__(self, content: bytes, now: datetime) -> None:
        super().__init__(
            method=SignatureConstructionMethod.detached,
            c14n_algorithm=C14N_10,
            data_object_format=XAdESDataObjectFormat(
                Description="MyCareNet Detail (sealed content)", MimeType="application/octet-stream"
            ),
        )
        self._content, self._now = content, now
        # first: the data Reference must be final before the XAdES object digests anything
        self.signature_annotators.insert(0, self._base64_reference)

    def _base64_reference(self, sig_root: etree._Element, **_: Any) -> None:
        reference = sig_root.find(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
        if reference is None:
            raise SignatureError("XAdES without a data reference", system="xades")
        transforms = reference.find(f"{{{DS}}}Transforms")
        if transforms is None:
            transforms = etree.SubElement(reference, f"{{{DS}}}Transforms")
            reference.insert(0, transforms)
        for child in list(transforms):
            transforms.remove(child)
        etree.SubElement(transforms, f"{{{DS}}}Transform", Algorithm=BASE64_TRANSFORM)
        digest = reference.find(f"{{{DS}}}DigestValue")
        if digest is None:
            raise SignatureError("XAdES reference without DigestValue", system="xades")
        digest.text = base64.b64encode(hashlib.sha256(self._content).digest()).decode()

    def add_signing_certificate(
        self, signed_signature_properties: etree._Element, sig_root: Any, signing_settings: Any
    ) -> None:
        """XAdES 1.3.2 ``SigningCertificate``: CertDigest (SHA-256) and IssuerSerial of the leaf."""
        leaf: x509.Certificate = signing_settings.cert_chain[0]
        cert = _sub(_sub(signed_signature_properties, XADES, "SigningCertificate"), XADES, "Cert")
        digest = _sub(cert, XADES, "CertDigest")
        _sub(digest, DS, "DigestMethod").set("Algorithm", SHA256)
        _sub(digest, DS, "DigestValue").text = base64.b64encode(
            leaf.fingerprint(hashes.SHA256())
        ).decode()
        issuer = _sub(cert, XADES, "IssuerSerial")
        _sub(issuer, DS, "X509IssuerName").text = leaf.issuer.rfc4514_string()
        _sub(issuer, DS, "X509SerialNumber").text = str(leaf.serial_number)

    def add_signing_time(
        self, signed_signature_properties: etree._Element, sig_root: Any, signing_settings: Any
    ) -> None:
        """SigningTime from the hub's clock (signxml would read the system clock)."""
        node = etree.SubElement(signed_signature_properties, f"{{{XADES}}}SigningTime")
        node.text = self._now.isoformat(timespec="seconds")


def _sub(parent: etree._Element, ns: str, name: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{ns}}}{name}")


def sign_detail(content: bytes, detail_id: str, signer: Credential, *, now: datetime) -> bytes:
    """The XAdES-BES over the Detail ``detail_id`` whose decoded content is ``content`` (or over
    any element whose base64 text is the signed content, as MyCareNet signs a TAck)."""
    detail = etree.Element(f"{{{DETAIL_NS}}}Detail", Id=detail_id)
    detail.text = base64.b64encode(content).decode()
    try:
        # XMLSigner.sign: XAdESSigner.sign only forwards to it, behind a decorator mypy misreads
        signature = XMLSigner.sign(
            _DetailSigner(content, now),
            detail,
            key=signer.private_key,
            cert=[signer.certificate],  # leaf only: SigningCertificate names the signer
            reference_uri=f"#{detail_id}",
            always_add_key_value=False,
        )
    except SignXMLException as exc:
        raise SignatureError(f"XAdES cannot be built: {exc}", system="xades") from exc
    return bytes(etree.tostring(signature))


def verify_detail(
    xades: bytes,
    detail: etree._Element,
    *,
    truststore: Sequence[x509.Certificate],
    now: datetime,
    care_provider: str,
    care_provider_ssin: str | None = None,
    max_age: timedelta = MAX_AGE,
) -> VerifiedXades:
    """Check ``xades`` over the received ``detail`` element; SignatureError (with a code) if not.

    Valid means: the signature and its three references verify, the data reference covers
    exactly this Detail's decoded content, the signer's certificate chains to ``truststore``,
    names ``care_provider`` as NIHII (or, for a certificate without NIHII, as eHealth issues
    them to persons, names ``care_provider_ssin`` as SSIN), and the SigningTime lies within
    ``max_age`` of ``now``.
    """
    signature = parse_xml(xades)
    if signature.tag != f"{{{DS}}}Signature":
        raise SignatureError("Xades is not a ds:Signature", system="xades", code="xades-invalid")
    certificate = _certificate(signature)
    verify_chain(certificate, (), trusted=truststore, now=now)
    nihii = subject_value(certificate, "NIHII")
    owned = (
        nihii == care_provider
        if nihii is not None
        else care_provider_ssin is not None
        and subject_value(certificate, "SSIN") == care_provider_ssin
    )
    if not owned:
        raise SignatureError(
            "XAdES signer is not the care provider of CommonInput",
            system="xades",
            code="xades-foreign-signer",
        )
    signed = signed_properties(signature, detail, certificate)
    return VerifiedXades(certificate, _fresh(signed, now, max_age), nihii)


def signed_properties(
    signature: etree._Element, signed: etree._Element, certificate: x509.Certificate
) -> etree._Element:
    """The SignedProperties of ``signature`` once it verifies with ``certificate`` and covers
    the decoded content of ``signed`` (a Detail, a TAck); SignatureError if not."""
    try:
        references = XADES_SIGNATURE.verify(
            signature, _resolver(signature, signed), rsa_key(certificate, system="xades")
        )
        properties = _covered(signature, signed, references)
        _check_signing_certificate(properties, certificate)
    except SignatureError as exc:
        raise SignatureError(
            f"XAdES does not verify: {exc.detail}", system="xades", code="xades-invalid"
        ) from exc
    return properties


def _resolver(
    signature: etree._Element, signed: etree._Element
) -> Callable[[str], etree._Element | None]:
    """Ids inside the signature, plus the received element's: each must be unique (a second
    element carrying the signed Id is how a wrapped XAdES points elsewhere)."""
    by_id: dict[str, etree._Element] = {}
    for element in (*signature.iter(etree.Element), signed):
        ident = element.get("Id")
        if ident is not None and by_id.setdefault(ident, element) is not element:
            raise SignatureError(f"duplicated Id {ident!r}", system="xades")
    return by_id.get


def _covered(
    signature: etree._Element, signed: etree._Element, references: Sequence[VerifiedReference]
) -> etree._Element:
    """The SignedProperties; every Reference covers ``signed`` (base64, exactly once), this
    signature's SignedProperties (exactly once) or its KeyInfo."""
    properties = signature.findall(f"{{{DS}}}Object/{{{XADES}}}QualifyingProperties/{_PROPS}")
    key_info = signature.find(f"{{{DS}}}KeyInfo")
    data = [r for r in references if r.target is signed and r.transforms == (BASE64_TRANSFORM,)]
    marked = [r for r in references if r.type == SIGNED_PROPERTIES and r.target in properties]
    if len(data) != 1:
        raise SignatureError(
            f"it does not cover the {etree.QName(signed).localname}", system="xades"
        )
    if len(marked) != 1:
        raise SignatureError("it does not sign its SignedProperties", system="xades")
    if any(r.target not in (signed, marked[0].target, key_info) for r in references):
        raise SignatureError(
            "it signs an element that is neither data nor its properties", system="xades"
        )
    return marked[0].target


def _check_signing_certificate(properties: etree._Element, certificate: x509.Certificate) -> None:
    """XAdES 1.3.2 SigningCertificate: the digest and serial of the certificate that verified."""
    cert = properties.find(f"{_SIGNED_SIGNATURE}/{{{XADES}}}SigningCertificate/{{{XADES}}}Cert")
    method = cert.find(f"{{{XADES}}}CertDigest/{{{DS}}}DigestMethod") if cert is not None else None
    algorithm = DIGEST_METHODS.get(method.get("Algorithm", "")) if method is not None else None
    if cert is None or algorithm is None:
        raise SignatureError("SigningCertificate missing or with a refused digest", system="xades")
    der = certificate.public_bytes(serialization.Encoding.DER)
    text = "".join((cert.findtext(f"{{{XADES}}}CertDigest/{{{DS}}}DigestValue") or "").split())
    try:
        value = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise SignatureError("SigningCertificate digest is not base64", system="xades") from exc
    serial = cert.findtext(f"{{{XADES}}}IssuerSerial/{{{DS}}}X509SerialNumber")
    same_digest = hmac.compare_digest(hashlib.new(algorithm, der).digest(), value)
    if not same_digest or serial != str(certificate.serial_number):
        raise SignatureError("SigningCertificate names another certificate", system="xades")


def _certificate(signature: etree._Element) -> x509.Certificate:
    node = signature.find(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    if node is None or not node.text:
        raise SignatureError("XAdES without a certificate", system="xades", code="xades-invalid")
    try:
        return x509.load_der_x509_certificate(base64.b64decode(node.text))
    except ValueError as exc:
        raise SignatureError(
            "XAdES certificate unreadable", system="xades", code="xades-invalid"
        ) from exc


def _fresh(signed_properties: etree._Element, now: datetime, max_age: timedelta) -> datetime:
    node = signed_properties.find(f"{_SIGNED_SIGNATURE}/{{{XADES}}}SigningTime")
    try:
        when = datetime.fromisoformat((node.text or "") if node is not None else "")
    except ValueError as exc:
        raise SignatureError(
            "XAdES without a readable SigningTime", system="xades", code="xades-invalid"
        ) from exc
    if when.tzinfo is None or not now - max_age <= when <= now + max_age:
        raise SignatureError("XAdES SigningTime is not fresh", system="xades", code="xades-stale")
    return when
