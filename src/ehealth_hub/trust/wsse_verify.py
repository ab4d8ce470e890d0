"""Verification side of WS-Security for SOAP 1.1 (OASIS WSS 1.0 SOAP Message Security, X.509 Token
Profile 1.0, SAML Token Profile 1.0; XML-DSig with exclusive c14n).

:func:`verify_envelope` (re-exported by :mod:`ehealth_hub.trust.wsse`, whose docstring lists
what is refused) checks the envelope's structure before any cryptography: signature wrapping is
defeated by mapping every signed reference to a *role* (Body, Timestamp, BinarySecurityToken) by
element identity, not by Id text, and refusing duplicated Ids. The References read are those of
the one SignedInfo (first child of the one Signature) whose value is then checked: a second
SignedInfo or an Object is refused, so no unverified Reference can name the Body. A comment or
processing instruction followed by text inside the Signature or a signed part is refused: c14n
without comments drops it and joins the text, which lxml would read truncated (a Timestamp, a
value). The cryptographic check (:data:`WSSE_SIGNATURE`, the one verifier of :mod:`.dsig_verify`)
then dereferences each Reference through the same unique-Id map, so the element digested is the
element whose role was checked.
"""

from __future__ import annotations

import base64
import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from ehealth_hub.core.errors import SignatureError
from ehealth_hub.core.xml import (
    DSIG_NS,
    SAML11_NS,
    WSSE_NS,
    WSU_NS,
    parse_xml,
    text_splitting_node,
)
from ehealth_hub.trust.credentials import verify_chain
from ehealth_hub.trust.dsig_verify import XmlSignatureVerifier
from ehealth_hub.trust.saml import VerifiedAssertion, parse_instant, verify_assertion
from ehealth_hub.trust.saml_cache import VerifiedSignatures
from ehealth_hub.trust.wsse_dsig import EXC_C14N
from ehealth_hub.trust.wsse_envelope import (
    NSMAP,
    SAML_ASSERTION_ID,
    WSU_ID,
    X509_TOKEN,
    envelope_parts,
    qname,
)

_ID_NAMES: Final = frozenset({"Id", "ID", "id", "AssertionID"})
WSSE_SIGNATURE: Final = XmlSignatureVerifier(EXC_C14N, frozenset({(EXC_C14N,)}))
"""WS-Security's policy: exclusive c14n for SignedInfo and as the one Transform of a Reference."""
_KEY_REF: Final = "ds:KeyInfo/wsse:SecurityTokenReference/"


@dataclass(frozen=True, slots=True)
class VerifiedEnvelope:
    """What a verified envelope proves."""

    signer: x509.Certificate
    """The certificate whose key signed (the BinarySecurityToken, or the assertion's holder)."""
    signed: frozenset[str]
    """Which parts were signed: ``Body``, ``Timestamp``, ``BinarySecurityToken``."""
    assertion: VerifiedAssertion | None
    """The verified SAML assertion in HoK mode, else None."""


def _roles(
    envelope: etree._Element, security: etree._Element, body: etree._Element
) -> dict[int, str]:
    roles = {id(body): "Body"}
    for name in ("Timestamp", "BinarySecurityToken"):
        ns = WSU_NS if name == "Timestamp" else WSSE_NS
        found = security.findall(qname(ns, name))
        if len(found) > 1:
            raise SignatureError(f"more than one {name}", system="wsse", code="wrapping")
        roles.update({id(e): name for e in found})
    return roles


def _check_ids(envelope: etree._Element) -> dict[str, etree._Element]:
    by_id: dict[str, etree._Element] = {}
    counts: Counter[str] = Counter()
    for element in envelope.iter(etree.Element):
        for name, value in element.attrib.items():
            if str(name).rpartition("}")[2] in _ID_NAMES:
                counts[value] += 1
                by_id[value] = element
    duplicated = sorted(v for v, n in counts.items() if n > 1)
    if duplicated:
        raise SignatureError(f"duplicated Id {duplicated[0]!r}", system="wsse", code="duplicate-id")
    return by_id


def _signed_info(signature: etree._Element) -> etree._Element:
    """The one SignedInfo, first child of the Signature: the one whose value is checked."""
    infos = signature.findall(qname(DSIG_NS, "SignedInfo"))
    first = next(signature.iterchildren(etree.Element), None)
    if len(infos) != 1 or first is not infos[0]:
        raise SignatureError(
            "Signature needs exactly one SignedInfo, as its first child",
            system="wsse",
            code="wrapping",
        )
    return infos[0]


def _refuse_hidden_nodes(element: etree._Element, what: str) -> None:
    """Text after a comment or PI is signed but would be read as missing (see
    :func:`~ehealth_hub.core.xml.text_splitting_node`): refused."""
    if text_splitting_node(element) is not None:
        raise SignatureError(
            f"comment or processing instruction inside signed text of the {what}",
            system="wsse",
            code="wrapping",
        )


def _signed_parts(
    signature: etree._Element, by_id: dict[str, etree._Element], roles: dict[int, str]
) -> frozenset[str]:
    signed: list[str] = []
    _refuse_hidden_nodes(signature, "Signature")
    for reference in _signed_info(signature).iterfind("ds:Reference", namespaces=NSMAP):
        uri = reference.get("URI", "")
        target = by_id.get(uri[1:]) if uri.startswith("#") else None
        role = roles.get(id(target)) if target is not None else None
        if target is None or role is None or role in signed:
            raise SignatureError(
                f"signature references {uri!r}, which is not a signable part of this envelope",
                system="wsse",
                code="wrapping",
            )
        _refuse_hidden_nodes(target, role)
        signed.append(role)
    return frozenset(signed)


def _x509_signer(reference: etree._Element, security: etree._Element) -> x509.Certificate:
    """The certificate of the header's BinarySecurityToken that KeyInfo points to."""
    uri = reference.get("URI", "")
    token = next(
        (
            t
            for t in security.findall(qname(WSSE_NS, "BinarySecurityToken"))
            if "#" + t.get(WSU_ID, "") == uri
        ),
        None,
    )
    if token is None or token.get("ValueType") != X509_TOKEN:
        raise SignatureError(
            "KeyInfo names no X.509 token of this header", system="wsse", code="key-info"
        )
    try:
        return x509.load_der_x509_certificate(base64.b64decode(token.text or ""))
    except ValueError as exc:
        raise SignatureError("BinarySecurityToken is not a certificate", system="wsse") from exc


def _saml_signer(
    identifier: etree._Element,
    security: etree._Element,
    trusted: Sequence[x509.Certificate],
    sts: Sequence[x509.Certificate],
    now: datetime,
    skew: timedelta,
    signatures: VerifiedSignatures | None,
) -> VerifiedAssertion:
    """Verify the one header assertion that KeyInfo names; its holder is the signer."""
    assertions = [
        a
        for a in security.findall(qname(SAML11_NS, "Assertion"))
        if a.get("AssertionID") == identifier.text
    ]
    if len(assertions) != 1:
        raise SignatureError(
            "KeyInfo names no assertion of this header", system="wsse", code="key-info"
        )
    return verify_assertion(
        assertions[0], trusted=trusted, sts=sts, now=now, max_skew=skew, signatures=signatures
    )


def _signer(
    signature: etree._Element,
    security: etree._Element,
    trusted: Sequence[x509.Certificate],
    sts: Sequence[x509.Certificate],
    now: datetime,
    skew: timedelta,
    signatures: VerifiedSignatures | None,
) -> tuple[x509.Certificate, Sequence[x509.Certificate], VerifiedAssertion | None]:
    reference = signature.find(_KEY_REF + "wsse:Reference", namespaces=NSMAP)
    identifier = signature.find(_KEY_REF + "wsse:KeyIdentifier", namespaces=NSMAP)
    if reference is not None:
        return _x509_signer(reference, security), (), None
    if identifier is not None and identifier.get("ValueType") == SAML_ASSERTION_ID:
        verified = _saml_signer(identifier, security, trusted, sts, now, skew, signatures)
        return verified.holder, (), verified
    raise SignatureError("KeyInfo must be a SecurityTokenReference", system="wsse", code="key-info")


def _check_timestamp(security: etree._Element, now: datetime, skew: timedelta) -> None:
    stamp = security.find(qname(WSU_NS, "Timestamp"))
    created = parse_instant(stamp.findtext(qname(WSU_NS, "Created")) if stamp is not None else None)
    expires = parse_instant(stamp.findtext(qname(WSU_NS, "Expires")) if stamp is not None else None)
    if created - skew > now or expires + skew <= now:
        raise SignatureError("Timestamp is stale or in the future", system="wsse", code="stale")


def _only_signature(header: etree._Element) -> tuple[etree._Element, etree._Element]:
    """(Security, Signature): exactly one of each, else the envelope counts as unsigned."""
    securities = header.findall(qname(WSSE_NS, "Security"))
    if len(securities) != 1:
        raise SignatureError(
            "envelope needs exactly one Security header", system="wsse", code="unsigned"
        )
    signatures = securities[0].findall(qname(DSIG_NS, "Signature"))
    if len(signatures) != 1:
        raise SignatureError(
            "Security header needs exactly one Signature", system="wsse", code="unsigned"
        )
    return securities[0], signatures[0]


def verify_envelope(
    envelope: etree._Element | bytes,
    *,
    trusted: Sequence[x509.Certificate],
    sts: Sequence[x509.Certificate] = (),
    expected: Sequence[str] = ("Body", "Timestamp"),
    max_skew: timedelta = timedelta(minutes=5),
    now: datetime,
    signatures: VerifiedSignatures | None = None,
) -> VerifiedEnvelope:
    """Verify the one signature of ``envelope``'s Security header; see :mod:`.wsse`.

    ``signatures``: the verifier's memory of STS assertion signatures already checked (SAML mode;
    see :class:`~ehealth_hub.trust.saml_cache.VerifiedSignatures`); None checks every time."""
    root = parse_xml(envelope) if isinstance(envelope, bytes) else envelope
    header, body = envelope_parts(root)
    security, signature = _only_signature(header)
    by_id = _check_ids(root)
    signed = _signed_parts(signature, by_id, _roles(root, security, body))
    missing = set(expected) - signed
    if missing:
        raise SignatureError(
            f"unsigned parts: {sorted(missing)}", system="wsse", code="unsigned-part"
        )
    cert, chain, assertion = _signer(signature, security, trusted, sts, now, max_skew, signatures)
    verify_chain(cert, chain, trusted=trusted, now=now)
    _verify_xml_signature(signature, by_id, cert)
    if "Timestamp" in signed:
        _check_timestamp(security, now, max_skew)
    return VerifiedEnvelope(cert, signed, assertion)


# The same few signer certificates come back on every call: parsing the key once saves work.
@functools.lru_cache(maxsize=256)
def _public_key(cert: x509.Certificate) -> rsa.RSAPublicKey | None:
    key = cert.public_key()
    return key if isinstance(key, rsa.RSAPublicKey) else None


def _verify_xml_signature(
    signature: etree._Element, by_id: dict[str, etree._Element], cert: x509.Certificate
) -> None:
    key = _public_key(cert)
    if key is None:  # the allowed SignatureMethods are RSA only
        raise SignatureError(
            "signature does not verify: the signer's key is not RSA", system="wsse", code="invalid"
        )
    WSSE_SIGNATURE.verify(signature, by_id.get, key)
