"""SAML 1.1 holder-of-key assertions as the eHealth STS issues them (OASIS SAML 1.1, STS v1).

The STS (``sts_v1.wsdl``, namespace ``urn:be:fgov:ehealth:sts:protocol:v1``) answers a
``samlp:Request``/``samlp:AttributeQuery`` with a ``samlp:Response`` holding one
``saml:Assertion`` (MajorVersion 1, MinorVersion 1) that carries: ``Conditions`` (NotBefore,
NotOnOrAfter), an ``AuthenticationStatement`` and an ``AttributeStatement`` whose ``Subject`` is
confirmed ``urn:oasis:names:tc:SAML:1.0:cm:holder-of-key`` by the caller's certificate
(``ds:KeyInfo/ds:X509Data``), and an enveloped XML signature over ``#AssertionID`` by the STS.

Public API (stable)::

    SamlToken                      # an issued assertion + the holder credential, immutable
    build_assertion(...) -> etree._Element          # used by the STS simulator
    sign_assertion(assertion, sts: Credential) -> etree._Element
    verify_assertion(assertion, *, trusted, sts, now, max_skew, holder=None,
                     signatures=None) -> VerifiedAssertion
        # trusted: CA anchors; sts: the STS signing certificates accepted (pinned)
        # TokenError: forged (bad signature, signer not a pinned STS), expired, wrong holder key

Signing uses signxml's ``XMLSigner`` (what the STS simulator issues); verifying uses the hub's one
verifier (:mod:`.dsig_verify`) with the STS's policy: an enveloped signature over
``#AssertionID``, exclusive c14n, RSA-SHA256/512.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from ehealth_hub.core.errors import SignatureError, TokenError
from ehealth_hub.core.xml import DSIG_NS, SAML11_NS, text_splitting_node
from ehealth_hub.trust.credentials import Credential, verify_chain
from ehealth_hub.trust.dsig_verify import ENVELOPED, XmlSignatureVerifier, rsa_key
from ehealth_hub.trust.saml_cache import VerifiedSignatures, VerifiedSigner, signature_key
from ehealth_hub.trust.signxml_api import XMLSigner

HOLDER_OF_KEY: Final = "urn:oasis:names:tc:SAML:1.0:cm:holder-of-key"
X509_SUBJECT: Final = "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName"
IDENTIFICATION_NS: Final = "urn:be:fgov:identification-namespace"
CERTIFIED_NS: Final = "urn:be:fgov:certified-namespace:ehealth"
EXC_C14N: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"
SAML_ID_ATTRIBUTE: Final = "AssertionID"
STS_SIGNATURE: Final = XmlSignatureVerifier(
    EXC_C14N, frozenset({(ENVELOPED, EXC_C14N)}), system="sts"
)
"""The STS's policy: enveloped-signature then exclusive c14n, exclusive c14n SignedInfo."""


def _q(name: str) -> str:
    return f"{{{SAML11_NS}}}{name}"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_instant(text: str | None) -> datetime:
    """An xs:dateTime in UTC as eHealth writes them; raises TokenError when absent or malformed."""
    try:
        return datetime.fromisoformat((text or "").replace("Z", "+00:00"))
    except ValueError as exc:
        raise TokenError(f"malformed SAML instant {text!r}", system="sts") from exc


@dataclass(frozen=True, slots=True)
class SamlToken:
    """An issued holder-of-key assertion and the credential that holds its key."""

    assertion: bytes
    """The ``saml:Assertion`` exactly as the STS signed it (serialised; never re-canonicalised)."""
    assertion_id: str
    not_before: datetime
    not_on_or_after: datetime
    holder: Credential = field(repr=False)
    """The practitioner's authentication credential (its key signs the business calls)."""

    def remaining_fraction(self, now: datetime) -> float:
        """Share of the token's lifetime still ahead at ``now`` (reuse while > 0.5)."""
        life = (self.not_on_or_after - self.not_before).total_seconds()
        return max(0.0, (self.not_on_or_after - now).total_seconds()) / life if life > 0 else 0.0


@dataclass(frozen=True, slots=True)
class VerifiedAssertion:
    """What a verified assertion says."""

    assertion_id: str
    holder: x509.Certificate
    not_before: datetime
    not_on_or_after: datetime
    attributes: Mapping[str, tuple[str, ...]]
    """AttributeName -> values (both statements' namespaces merged)."""


def _subject(holder: x509.Certificate) -> etree._Element:
    subject = etree.Element(_q("Subject"), nsmap={"saml": SAML11_NS})
    name_id = etree.SubElement(subject, _q("NameIdentifier"), Format=X509_SUBJECT)
    name_id.set("NameQualifier", holder.issuer.rfc4514_string())
    name_id.text = holder.subject.rfc4514_string()
    confirmation = etree.SubElement(subject, _q("SubjectConfirmation"))
    etree.SubElement(confirmation, _q("ConfirmationMethod")).text = HOLDER_OF_KEY
    key_info = etree.SubElement(confirmation, f"{{{DSIG_NS}}}KeyInfo", nsmap={"ds": DSIG_NS})
    data = etree.SubElement(key_info, f"{{{DSIG_NS}}}X509Data")
    der = holder.public_bytes(serialization.Encoding.DER)
    etree.SubElement(data, f"{{{DSIG_NS}}}X509Certificate").text = base64.b64encode(der).decode()
    return subject


def build_assertion(
    *,
    assertion_id: str,
    issuer: str,
    holder: x509.Certificate,
    attributes: Sequence[tuple[str, str, str]],
    now: datetime,
    lifetime: timedelta,
) -> etree._Element:
    """An unsigned assertion; ``attributes`` are (AttributeNamespace, AttributeName, value)."""
    assertion = etree.Element(_q("Assertion"), nsmap={"saml": SAML11_NS})
    for name, value in (
        ("AssertionID", assertion_id),
        ("IssueInstant", _iso(now)),
        ("Issuer", issuer),
        ("MajorVersion", "1"),
        ("MinorVersion", "1"),
    ):
        assertion.set(name, value)
    etree.SubElement(
        assertion, _q("Conditions"), NotBefore=_iso(now), NotOnOrAfter=_iso(now + lifetime)
    )
    authn = etree.SubElement(assertion, _q("AuthenticationStatement"))
    authn.set("AuthenticationInstant", _iso(now))
    authn.set("AuthenticationMethod", "urn:oasis:names:tc:SAML:1.0:am:X509-PKI")
    authn.append(_subject(holder))
    statement = etree.SubElement(assertion, _q("AttributeStatement"))
    statement.append(_subject(holder))
    for namespace, name, value in attributes:
        attribute = etree.SubElement(
            statement, _q("Attribute"), AttributeName=name, AttributeNamespace=namespace
        )
        etree.SubElement(attribute, _q("AttributeValue")).text = value
    return assertion


def sign_assertion(assertion: etree._Element, sts: Credential) -> etree._Element:
    """Enveloped RSA-SHA256 signature over ``#AssertionID`` (the last child, per the XSD)."""
    signer = XMLSigner(
        signature_algorithm="rsa-sha256", digest_algorithm="sha256", c14n_algorithm=EXC_C14N
    )
    signed: etree._Element = signer.sign(
        assertion,
        key=sts.private_key,
        cert=[sts.certificate, *sts.chain[:-1]],  # leaf + intermediates, root is the verifier's
        reference_uri="#" + assertion.get(SAML_ID_ATTRIBUTE, ""),
        id_attribute=SAML_ID_ATTRIBUTE,
    )
    return signed


def holder_certificate(assertion: etree._Element) -> x509.Certificate:
    """The certificate confirming the (first) subject; TokenError when not holder-of-key."""
    path = f"{_q('AttributeStatement')}/{_q('Subject')}/{_q('SubjectConfirmation')}"
    confirmation = assertion.find(path)
    if confirmation is None or confirmation.findtext(_q("ConfirmationMethod")) != HOLDER_OF_KEY:
        raise TokenError("assertion is not holder-of-key", system="sts", code="not-holder-of-key")
    text = confirmation.findtext(
        f"{{{DSIG_NS}}}KeyInfo/{{{DSIG_NS}}}X509Data/{{{DSIG_NS}}}X509Certificate"
    )
    try:
        return x509.load_der_x509_certificate(base64.b64decode(text or "", validate=False))
    except ValueError as exc:
        raise TokenError("holder-of-key certificate unreadable", system="sts") from exc


def _check_chain(
    signer: VerifiedSigner, trusted: Sequence[x509.Certificate], now: datetime
) -> None:
    try:
        verify_chain(signer.certificate, signer.chain, trusted=trusted, now=now)
    except SignatureError as exc:
        raise TokenError(
            f"assertion signer not trusted: {exc.detail}", system="sts", code="forged"
        ) from exc


def _signature_of(assertion: etree._Element) -> tuple[etree._Element, VerifiedSigner]:
    """The assertion's one enveloped Signature and the certificates its KeyInfo carries."""
    signatures = assertion.findall(f"{{{DSIG_NS}}}Signature")
    if not signatures:
        raise TokenError("assertion is not signed", system="sts", code="unsigned-assertion")
    if len(signatures) > 1:
        raise TokenError("assertion carries two signatures", system="sts", code="forged")
    texts = signatures[0].xpath(".//ds:X509Certificate/text()", namespaces={"ds": DSIG_NS})
    try:
        certs = [x509.load_der_x509_certificate(base64.b64decode(str(t))) for t in texts]
    except ValueError as exc:
        raise TokenError("assertion signer certificate unreadable", system="sts") from exc
    if not certs:
        raise TokenError("assertion not signed by a trusted STS", system="sts", code="forged")
    return signatures[0], VerifiedSigner(certs[0], tuple(certs[1:]))


def _verify_signature(
    assertion: etree._Element,
    trusted: Sequence[x509.Certificate],
    sts: Sequence[x509.Certificate],
    now: datetime,
) -> VerifiedSigner:
    signature, signer = _signature_of(assertion)
    if signer.certificate not in sts:
        raise TokenError("assertion not signed by a trusted STS", system="sts", code="forged")
    _check_chain(signer, trusted, now)
    ident = assertion.get(SAML_ID_ATTRIBUTE, "")
    try:  # the one Id resolvable is the assertion's own: every Reference must cover it
        key = rsa_key(signer.certificate, system="sts")
        STS_SIGNATURE.verify(signature, {ident: assertion}.get, key)
    except SignatureError as exc:
        raise TokenError(
            f"assertion signature invalid: {exc.detail}", system="sts", code="forged"
        ) from exc
    return signer


def _check_signature(
    assertion: etree._Element,
    trusted: Sequence[x509.Certificate],
    sts: Sequence[x509.Certificate],
    now: datetime,
    signatures: VerifiedSignatures | None,
) -> None:
    if signatures is None:
        _verify_signature(assertion, trusted, sts, now)
        return
    key = signature_key(assertion, trusted, sts)
    signer = signatures.lookup(key)
    if signer is not None:  # these bytes verified under these anchors (see VerifiedSignatures)
        _check_chain(signer, trusted, now)  # certificate validity depends on now (~7 µs)
        return
    signatures.remember(key, _verify_signature(assertion, trusted, sts, now))


def verify_assertion(
    assertion: etree._Element,
    *,
    trusted: Sequence[x509.Certificate],
    sts: Sequence[x509.Certificate],
    now: datetime,
    max_skew: timedelta = timedelta(minutes=5),
    holder: x509.Certificate | None = None,
    signatures: VerifiedSignatures | None = None,
) -> VerifiedAssertion:
    """Check the STS signature, the validity window and (when given) the holder key.

    A comment or PI followed by text anywhere in the assertion is refused (TokenError code
    ``malformed``): the signature covers the joined text, lxml would read it truncated.

    ``signatures`` (the composition root's, when given) remembers signatures that verified, so
    reusing one token skips the XML signature check; None verifies every time.
    """
    if assertion.tag != _q("Assertion") or assertion.get("MajorVersion") != "1":
        raise TokenError("not a SAML 1.1 assertion", system="sts", code="malformed")
    if text_splitting_node(assertion) is not None:  # signed as joined text, read truncated
        raise TokenError(
            "comment or processing instruction inside signed assertion text",
            system="sts",
            code="malformed",
        )
    _check_signature(assertion, trusted, sts, now, signatures)
    conditions = assertion.find(_q("Conditions"))
    if conditions is None:
        raise TokenError("assertion has no Conditions", system="sts", code="malformed")
    not_before = parse_instant(conditions.get("NotBefore"))
    not_after = parse_instant(conditions.get("NotOnOrAfter"))
    if not not_before - max_skew <= now < not_after + max_skew:
        raise TokenError("assertion expired or not yet valid", system="sts", code="expired")
    confirmed = holder_certificate(assertion)
    if holder is not None and confirmed != holder:
        raise TokenError(
            "assertion is bound to another holder key", system="sts", code="wrong-holder"
        )
    attributes: dict[str, tuple[str, ...]] = {}
    for attribute in assertion.iter(_q("Attribute")):
        values = tuple(v.text or "" for v in attribute.iter(_q("AttributeValue")))
        attributes[attribute.get("AttributeName", "")] = values
    return VerifiedAssertion(
        assertion.get(SAML_ID_ATTRIBUTE, ""), confirmed, not_before, not_after, attributes
    )
