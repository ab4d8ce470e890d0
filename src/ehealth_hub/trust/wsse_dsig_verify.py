"""Core validation of a detached XML signature over elements already in hand (WS-Security).

Specs: W3C XML Signature Syntax and Processing 1.0 (Second Edition, 2008), section 3.2 Core
Validation (3.2.1 Reference Validation: dereference each URI, apply its Transforms, digest and
compare with DigestValue; 3.2.2 Signature Validation: canonicalise SignedInfo with its
CanonicalizationMethod and check SignatureValue with the key); W3C Exclusive XML Canonicalization
1.0 (2002) without comments, with an optional ``ec:InclusiveNamespaces PrefixList`` (its section
3), as the only Reference Transform and the only CanonicalizationMethod; SHA-256 / SHA-512 as XML
Encryption 1.0 section 5.7.2 / 5.7.4 name them; RSA-SHA256 / RSA-SHA512 (``xmldsig-more#rsa-sha*``,
RFC 6931 section 2.3.2 / 2.3.4) = RSASSA-PKCS1-v1_5 (RFC 8017 section 8.2.2).

Why hand-built rather than signxml's ``XMLVerifier``: the counterpart of :mod:`.wsse_dsig` (see
its docstring). signxml re-serialises and re-parses the signature, then the whole document once per
Reference, and finds each ``#Id`` by XPath; that cost more per envelope than the RSA verification
itself. Here the caller resolves each Id through the unique-Id map it already built for the
anti-wrapping checks (:mod:`.wsse_verify`), and every digest is one exclusive c14n of the element
in its own document.

What is accepted is deliberately narrower than signxml's generic path: exactly the algorithms the
project allowed signxml (``_SIG_METHODS`` / ``_DIGESTS`` of :mod:`.saml`), one exclusive c14n
Transform per Reference and nothing else (no enveloped-signature, XPath, XSLT, base64, inclusive
c14n, no missing Transforms: signxml would silently skip an unknown Transform), and ``#Id``
References only. SignedInfo is checked first, so References are only read once they are known to
be the signer's. Every failure is the one :class:`~ehealth_hub.core.errors.SignatureError`, code
``invalid``. ``tests/trust/test_wsse_dsig_verify.py`` cross-checks this module with signxml's
``XMLSigner`` / ``XMLVerifier`` and with ``xmlsec1 --verify``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Final, NoReturn

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from ehealth_hub.core.errors import SignatureError
from ehealth_hub.core.xml import DSIG_NS
from ehealth_hub.trust.wsse_dsig import EXC_C14N, RSA_SHA256, SHA256

SHA512: Final = "http://www.w3.org/2001/04/xmlenc#sha512"
RSA_SHA512: Final = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
SIGNATURE_METHODS: Final[Mapping[str, hashes.HashAlgorithm]] = {
    RSA_SHA256: hashes.SHA256(),
    RSA_SHA512: hashes.SHA512(),
}
"""Allowed SignatureMethod URIs and their hash (RSASSA-PKCS1-v1_5 only)."""
DIGEST_METHODS: Final[Mapping[str, str]] = {SHA256: "sha256", SHA512: "sha512"}
"""Allowed DigestMethod URIs and their :mod:`hashlib` name."""
_INCLUSIVE_NAMESPACES: Final = f"{{{EXC_C14N}}}InclusiveNamespaces"

_SHAPE: Final = [f"{{{DSIG_NS}}}{n}" for n in ("SignedInfo", "SignatureValue", "KeyInfo")]

Resolver = Callable[[str], etree._Element | None]
"""Maps an Id (a Reference URI without its ``#``) to the one element carrying it, else None."""


def _refuse(reason: str) -> NoReturn:
    raise SignatureError(f"signature does not verify: {reason}", system="wsse", code="invalid")


def _ds(name: str) -> str:
    return f"{{{DSIG_NS}}}{name}"


def _elements(parent: etree._Element) -> list[etree._Element]:
    # Comments are outside c14n without comments, hence outside what was signed; a PI is signed
    # but means nothing to XML-DSig: both are skipped, as signxml's re-parse of the c14n does.
    return list(parent.iterchildren(etree.Element))


def _expect(element: etree._Element, name: str) -> etree._Element:
    if element.tag != _ds(name):
        _refuse(f"expected ds:{name}, found {element.tag!r}")
    return element


def _base64(element: etree._Element) -> bytes:
    # base64Binary allows whitespace (xmlsec1 wraps at 64 columns); anything else is refused.
    return base64.b64decode("".join((element.text or "").split()), validate=True)


def _exclusive(method: etree._Element) -> list[str] | None:
    """The PrefixList of an exclusive c14n ``method`` (None when absent); refuse anything else."""
    if method.get("Algorithm") != EXC_C14N:
        _refuse(f"c14n algorithm {method.get('Algorithm')!r} is not exclusive c14n")
    children = _elements(method)
    if not children:
        return None
    if len(children) == 1 and children[0].tag == _INCLUSIVE_NAMESPACES:
        return children[0].get("PrefixList", "").split()
    return _refuse("unexpected content in a c14n method")


def _c14n(element: etree._Element, prefixes: list[str] | None) -> bytes:
    """Exclusive c14n (without comments) of ``element`` where it sits in its document."""
    return etree.tostring(
        element, method="c14n", exclusive=True, with_comments=False, inclusive_ns_prefixes=prefixes
    )


def _check_reference(reference: etree._Element, resolve: Resolver) -> None:
    """XML-DSig 3.2.1 for one Reference: ``#Id``, one exclusive c14n Transform, digest match."""
    uri = reference.get("URI", "")
    target = resolve(uri[1:]) if uri.startswith("#") else None
    if target is None:
        _refuse(f"reference {uri!r} names no element of this document")
    children = _elements(reference)
    if [child.tag for child in children] != [
        _ds("Transforms"),
        _ds("DigestMethod"),
        _ds("DigestValue"),
    ]:
        _refuse(f"reference {uri!r} is not Transforms, DigestMethod, DigestValue")
    transforms, method, value = children
    steps = _elements(transforms)
    if len(steps) != 1 or steps[0].tag != _ds("Transform"):
        _refuse(f"reference {uri!r} must have exactly one Transform")
    algorithm = DIGEST_METHODS.get(method.get("Algorithm", ""))
    if algorithm is None or _elements(method):
        _refuse(f"digest algorithm {method.get('Algorithm')!r} is not allowed")
    actual = hashlib.new(algorithm, _c14n(target, _exclusive(steps[0]))).digest()
    if not hmac.compare_digest(actual, _base64(value)):
        _refuse(f"digest mismatch for reference {uri!r}")


def _check_signed_info(signed_info: etree._Element, value: bytes, key: rsa.RSAPublicKey) -> None:
    """XML-DSig 3.2.2: the allowed methods, then RSASSA-PKCS1-v1_5 over the c14n SignedInfo."""
    children = _elements(signed_info)
    if len(children) < 3:
        _refuse("SignedInfo needs CanonicalizationMethod, SignatureMethod and a Reference")
    prefixes = _exclusive(_expect(children[0], "CanonicalizationMethod"))
    method = _expect(children[1], "SignatureMethod")
    algorithm = SIGNATURE_METHODS.get(method.get("Algorithm", ""))
    if algorithm is None or _elements(method):
        _refuse(f"signature method {method.get('Algorithm')!r} is not allowed")
    key.verify(value, _c14n(signed_info, prefixes), padding.PKCS1v15(), algorithm)


def _core_validation(signature: etree._Element, resolve: Resolver, key: rsa.RSAPublicKey) -> None:
    children = _elements(_expect(signature, "Signature"))
    if len(children) < 2:
        _refuse("Signature needs SignedInfo and SignatureValue")
    signed_info = _expect(children[0], "SignedInfo")
    value = _base64(_expect(children[1], "SignatureValue"))
    # Exactly SignedInfo, SignatureValue and an optional KeyInfo: a second SignedInfo or an
    # Object would be content that a reader of "the" references might take for signed (XSW).
    shape = [child.tag for child in children]
    if shape not in (_SHAPE, _SHAPE[:2]):
        _refuse(f"Signature must be SignedInfo, SignatureValue[, KeyInfo], found {shape}")
    _check_signed_info(signed_info, value, key)
    for reference in _elements(signed_info)[2:]:
        _check_reference(_expect(reference, "Reference"), resolve)


def verify_detached(signature: etree._Element, resolve: Resolver, key: rsa.RSAPublicKey) -> None:
    """Core validation of ``signature`` (a ``ds:Signature`` in its document) against ``key``.

    The Signature must be exactly SignedInfo, SignatureValue and an optional KeyInfo (no second
    SignedInfo, no Object): the References validated are then the only ones there are.

    ``resolve`` dereferences each Reference's Id; it must answer from a map of unique Ids (a
    duplicated Id would let the digest and the caller's view of the signed element differ).
    Refuses with :class:`SignatureError` (code ``invalid``); nothing else escapes.
    """
    try:
        _core_validation(signature, resolve, key)
    except InvalidSignature as exc:
        _refuse(f"SignatureValue does not match SignedInfo ({exc or 'RSA verification failed'})")
    except (ValueError, TypeError, etree.LxmlError) as exc:  # bad base64, c14n refusing the tree
        _refuse(f"malformed signature ({exc})")
