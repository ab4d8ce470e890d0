"""The one XML signature verifier for untrusted input: WS-Security, STS assertions and XAdES.

Specs: W3C XML Signature Syntax and Processing 1.0 (Second Edition, 2008), section 3.2 Core
Validation (3.2.1 Reference Validation: dereference each URI, apply its Transforms, digest and
compare with DigestValue; 3.2.2 Signature Validation: canonicalise SignedInfo with its
CanonicalizationMethod and check SignatureValue with the key), section 6.6.4 (enveloped
signature) and 6.6.2 (base64) Transforms, section 4.3.3.3 (a ``#Id`` reference without Transforms
is canonicalised with Canonical XML 1.0 without comments); W3C Exclusive XML Canonicalization 1.0
(2002) without comments, with an optional ``ec:InclusiveNamespaces PrefixList`` (its section 3);
W3C Canonical XML 1.0 (2001) without comments; SHA-256 / SHA-512 as XML Encryption 1.0 section
5.7.2 / 5.7.4 name them; RSA-SHA256 / RSA-SHA512 (``xmldsig-more#rsa-sha*``, RFC 6931 section
2.3.2 / 2.3.4) = RSASSA-PKCS1-v1_5 (RFC 8017 section 8.2.2).

One class, :class:`XmlSignatureVerifier`, one instance per use, each naming exactly what that use
receives (and nothing more): WS-Security envelopes (:mod:`.wsse_verify`: one exclusive c14n
Transform per Reference), the STS's enveloped assertion signature (:mod:`.saml`: enveloped-
signature then exclusive c14n), MyCareNet's XAdES (:mod:`.xades`: Canonical XML 1.0 SignedInfo, a
base64 data Reference and property References without Transforms, ds:Object allowed). Everything
else is refused: SHA-1, HMAC, DSA/ECDSA (no eHealth or MyCareNet signer sends them), XPath/XSLT
Transforms, the ``WithComments`` variants, References other than ``#Id``.

Why hand-built rather than signxml's ``XMLVerifier``: signxml re-serialises and re-parses the
signature, then the whole document once per Reference, and finds each ``#Id`` by XPath; that cost
more per envelope than the RSA verification itself, and it silently skips a Transform it does not
know. Here the caller dereferences each Id through a map of unique Ids it already built (a
duplicated Id is how signature wrapping makes the digested element and the one read differ), and
every digest is one canonicalisation of that element. SignedInfo is checked first, so References
are only read once they are known to be the signer's; the Signature must be exactly SignedInfo,
SignatureValue, an optional KeyInfo (and, for XAdES, Objects), so no second SignedInfo can pass
for "the" references; text split by a comment or PI inside the Signature or a signed element is
refused (signed as the joined text, read truncated). Every failure is one
:class:`~ehealth_hub.core.errors.SignatureError`, code ``invalid``. The tests cross-check it with
signxml and ``xmlsec1 --verify`` (``tests/trust/test_wsse_dsig_verify.py``, ``test_interop.py``,
``tests/mycarenet/test_xades.py``).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, NamedTuple, NoReturn

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from ehealth_hub.core.errors import SignatureError
from ehealth_hub.core.xml import DSIG_NS, text_splitting_node
from ehealth_hub.trust.wsse_dsig import EXC_C14N, RSA_SHA256, SHA256

C14N_10: Final = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ENVELOPED: Final = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
BASE64_TRANSFORM: Final = "http://www.w3.org/2000/09/xmldsig#base64"
SHA512: Final = "http://www.w3.org/2001/04/xmlenc#sha512"
RSA_SHA512: Final = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
SIGNATURE_METHODS: Final[Mapping[str, hashes.HashAlgorithm]] = {
    RSA_SHA256: hashes.SHA256(),
    RSA_SHA512: hashes.SHA512(),
}
"""Allowed SignatureMethod URIs and their hash (RSASSA-PKCS1-v1_5 only)."""
DIGEST_METHODS: Final[Mapping[str, str]] = {SHA256: "sha256", SHA512: "sha512"}
"""Allowed DigestMethod URIs and their :mod:`hashlib` name."""
_NAMES: Final = {
    EXC_C14N: "exclusive c14n",
    C14N_10: "c14n 1.0",
    ENVELOPED: "enveloped-signature",
    BASE64_TRANSFORM: "base64",
}
_INCLUSIVE_NAMESPACES: Final = f"{{{EXC_C14N}}}InclusiveNamespaces"
_TRANSFORM: Final = f"{{{DSIG_NS}}}Transform"
_REFERENCE_SHAPE: Final = [
    f"{{{DSIG_NS}}}{n}" for n in ("Transforms", "DigestMethod", "DigestValue")
]
_COUNTS: Final = {1: "one", 2: "two"}

Resolver = Callable[[str], etree._Element | None]
"""Maps an Id (a Reference URI without its ``#``) to the one element carrying it, else None."""


def _ds(name: str) -> str:
    return f"{{{DSIG_NS}}}{name}"


def _elements(parent: etree._Element) -> list[etree._Element]:
    # Comments are outside c14n without comments, hence outside what was signed; a PI is signed
    # but means nothing to XML-DSig: both are skipped, as signxml's re-parse of the c14n does.
    return list(parent.iterchildren(etree.Element))


def _base64(element: etree._Element) -> bytes:
    # base64Binary allows whitespace (xmlsec1 wraps at 64 columns); anything else is refused.
    return base64.b64decode("".join((element.text or "").split()), validate=True)


def _c14n(element: etree._Element, algorithm: str, prefixes: list[str] | None) -> bytes:
    """Canonical XML (exclusive or 1.0, without comments) of ``element`` in its document."""
    exclusive = algorithm == EXC_C14N
    return etree.tostring(
        element,
        method="c14n",
        exclusive=exclusive,
        with_comments=False,
        inclusive_ns_prefixes=prefixes if exclusive else None,
    )


def _without(target: etree._Element, signature: etree._Element) -> etree._Element:
    """A copy of ``target`` without ``signature`` (the enveloped-signature Transform); its tail,
    text of the parent, stays."""
    path, node = [], signature
    while node is not target:
        parent = node.getparent()
        if parent is None:
            raise ValueError("an enveloped-signature Transform over an element outside it")
        path.append(parent.index(node))
        node = parent
    clone = found = copy.deepcopy(target)
    for index in reversed(path):
        found = found[index]
    parent, tail, previous = found.getparent(), found.tail, found.getprevious()
    if parent is None:  # the Signature itself: nothing would be left to digest
        raise ValueError("an enveloped-signature Transform over the Signature itself")
    if tail and previous is not None:
        previous.tail = (previous.tail or "") + tail
    elif tail:
        parent.text = (parent.text or "") + tail
    parent.remove(found)
    return clone


class VerifiedReference(NamedTuple):
    """One Reference of a signature that verified (a tuple: built once per Reference)."""

    uri: str
    target: etree._Element
    """The element the Reference's Id resolved to (what the digest covers)."""
    transforms: tuple[str, ...]
    type: str | None
    """The Reference's ``Type`` attribute (XAdES marks its SignedProperties with it)."""


@dataclass(frozen=True, slots=True)
class XmlSignatureVerifier:
    """Core validation of a ``ds:Signature`` under one policy; see the module docstring."""

    canonicalization: str
    """The one CanonicalizationMethod accepted for SignedInfo."""
    transforms: frozenset[tuple[str, ...]]
    """The Transform chains a Reference may have (``()``: no Transforms element)."""
    objects: bool = False
    """Whether ``ds:Object`` elements may follow KeyInfo (XAdES's qualifying properties)."""
    system: str = "wsse"
    """The ``system`` of the SignatureError raised."""

    def verify(
        self, signature: etree._Element, resolve: Resolver, key: rsa.RSAPublicKey
    ) -> tuple[VerifiedReference, ...]:
        """Core validation of ``signature`` (a ``ds:Signature`` in its document) against ``key``.

        ``resolve`` dereferences each Reference's Id; it must answer from a map of unique Ids.
        Returns the References, all verified; refuses with :class:`SignatureError` (code
        ``invalid``), nothing else escapes.
        """
        try:
            return self._core_validation(signature, resolve, key)
        except InvalidSignature as exc:
            self._refuse(
                f"SignatureValue does not match SignedInfo ({exc or 'RSA verification failed'})"
            )
        except (ValueError, TypeError, etree.LxmlError) as exc:  # bad base64, c14n refusing
            self._refuse(f"malformed signature ({exc})")

    def _refuse(self, reason: str) -> NoReturn:
        raise SignatureError(
            f"signature does not verify: {reason}", system=self.system, code="invalid"
        )

    def _expect(self, element: etree._Element, name: str) -> etree._Element:
        if element.tag != _ds(name):
            self._refuse(f"expected ds:{name}, found {element.tag!r}")
        return element

    def _unsplit(self, element: etree._Element, uri: str | None = None) -> None:
        if text_splitting_node(element) is not None:
            what = "the Signature" if uri is None else f"the element {uri!r}"
            self._refuse(f"comment or processing instruction inside signed text of {what}")

    def _core_validation(
        self, signature: etree._Element, resolve: Resolver, key: rsa.RSAPublicKey
    ) -> tuple[VerifiedReference, ...]:
        children = _elements(self._expect(signature, "Signature"))
        if len(children) < 2:
            self._refuse("Signature needs SignedInfo and SignatureValue")
        signed_info = self._expect(children[0], "SignedInfo")
        value = _base64(self._expect(children[1], "SignatureValue"))
        self._check_shape([str(child.tag) for child in children])
        self._unsplit(signature)
        self._check_signed_info(signed_info, value, key)
        return tuple(
            self._check_reference(self._expect(reference, "Reference"), resolve, signature)
            for reference in _elements(signed_info)[2:]
        )

    def _check_shape(self, shape: list[str]) -> None:
        # Exactly SignedInfo, SignatureValue, an optional KeyInfo (and Objects where allowed): a
        # second SignedInfo would be content a reader of "the" References might take for signed.
        head = 3 if len(shape) > 2 and shape[2] == _ds("KeyInfo") else 2
        objects = shape[head:]
        if shape[:2] != [_ds("SignedInfo"), _ds("SignatureValue")] or (
            objects and (not self.objects or set(objects) != {_ds("Object")})
        ):
            allowed = "SignedInfo, SignatureValue[, KeyInfo]" + (", Object" if self.objects else "")
            self._refuse(f"Signature must be {allowed}, found {shape}")

    def _method(self, method: etree._Element, allowed: tuple[str, ...]) -> list[str] | None:
        """The PrefixList of an exclusive c14n ``method`` (None when absent), after checking
        that ``method`` is one of ``allowed`` and carries nothing else."""
        algorithm = method.get("Algorithm", "")
        if algorithm not in allowed:
            names = " or ".join(sorted(_NAMES.get(a, a) for a in allowed))
            self._refuse(f"c14n algorithm {algorithm!r} is not {names}")
        children = _elements(method)
        if not children:
            return None
        if algorithm == EXC_C14N and [c.tag for c in children] == [_INCLUSIVE_NAMESPACES]:
            return children[0].get("PrefixList", "").split()
        return self._refuse(f"unexpected content in a {_NAMES[algorithm]} method")

    def _check_signed_info(
        self, signed_info: etree._Element, value: bytes, key: rsa.RSAPublicKey
    ) -> None:
        """XML-DSig 3.2.2: the allowed methods, then RSASSA-PKCS1-v1_5 over the c14n SignedInfo."""
        children = _elements(signed_info)
        if len(children) < 3:
            self._refuse("SignedInfo needs CanonicalizationMethod, SignatureMethod and a Reference")
        c14n = self._expect(children[0], "CanonicalizationMethod")
        prefixes = self._method(c14n, (self.canonicalization,))
        method = self._expect(children[1], "SignatureMethod")
        algorithm = SIGNATURE_METHODS.get(method.get("Algorithm", ""))
        if algorithm is None or _elements(method):
            self._refuse(f"signature method {method.get('Algorithm')!r} is not allowed")
        data = _c14n(signed_info, self.canonicalization, prefixes)
        key.verify(value, data, padding.PKCS1v15(), algorithm)

    def _chain(
        self, uri: str, transforms: etree._Element | None
    ) -> tuple[tuple[str, ...], list[str] | None]:
        """The Transforms of a Reference checked against the policy: their algorithms, and the
        PrefixList of the last (an exclusive c14n's ``InclusiveNamespaces``, else None)."""
        if transforms is None:
            return (), None
        steps = _elements(transforms)
        algorithms = tuple([step.get("Algorithm", "") for step in steps])
        if algorithms not in self.transforms or [s.tag for s in steps] != [_TRANSFORM] * len(steps):
            self._refuse_chain(uri, steps, algorithms)
        prefixes = None
        for algorithm, step in zip(algorithms, steps, strict=True):
            prefixes = self._method(step, (algorithm,))
        return algorithms, prefixes

    def _refuse_chain(
        self, uri: str, steps: list[etree._Element], algorithms: tuple[str, ...]
    ) -> NoReturn:
        """Refuse a Transforms chain outside the policy, naming the first step that is."""
        counts = sorted({len(chain) for chain in self.transforms if chain})
        if len(steps) not in counts or any(s.tag != _TRANSFORM for s in steps):
            words = " or ".join(_COUNTS.get(n, str(n)) for n in counts)
            self._refuse(f"reference {uri!r} must have exactly {words} Transform")
        for index, algorithm in enumerate(algorithms):
            allowed = {c[index] for c in self.transforms if len(c) == len(steps)}
            if algorithm not in allowed:
                names = " or ".join(sorted(_NAMES[a] for a in allowed))
                self._refuse(f"transform algorithm {algorithm!r} is not {names}")
        self._refuse(f"reference {uri!r}: Transforms {list(algorithms)} not allowed")

    def _check_reference(
        self, reference: etree._Element, resolve: Resolver, signature: etree._Element
    ) -> VerifiedReference:
        """XML-DSig 3.2.1 for one Reference: ``#Id``, the allowed Transforms, digest match."""
        uri = reference.get("URI", "")
        target = resolve(uri[1:]) if uri.startswith("#") and len(uri) > 1 else None
        if target is None:
            self._refuse(f"reference {uri!r} names no element of this document")
        children = _elements(reference)
        tags = [child.tag for child in children]
        bare = tags == _REFERENCE_SHAPE[1:] and () in self.transforms
        if not bare and tags != _REFERENCE_SHAPE:
            self._refuse(f"reference {uri!r} is not Transforms, DigestMethod, DigestValue")
        transforms = None if bare else children.pop(0)
        method, value = children
        algorithms, prefixes = self._chain(uri, transforms)
        algorithm = DIGEST_METHODS.get(method.get("Algorithm", ""))
        if algorithm is None or _elements(method):
            self._refuse(f"digest algorithm {method.get('Algorithm')!r} is not allowed")
        self._unsplit(target, uri)
        octets = self._octets(target, algorithms, prefixes, signature)
        actual = hashlib.new(algorithm, octets).digest()
        if not hmac.compare_digest(actual, _base64(value)):
            self._refuse(f"digest mismatch for reference {uri!r}")
        return VerifiedReference(uri, target, algorithms, reference.get("Type"))

    def _octets(
        self,
        target: etree._Element,
        algorithms: tuple[str, ...],
        prefixes: list[str] | None,
        signature: etree._Element,
    ) -> bytes:
        """What the digest covers: ``target`` through the (already allowed) Transforms."""
        if not algorithms:  # XML-DSig 4.3.3.3: a same-document reference, Canonical XML 1.0
            return _c14n(target, C14N_10, None)
        first, last = algorithms[0], algorithms[-1]
        if first == BASE64_TRANSFORM:
            if len(target):  # a child would hide part of the text the base64 decodes
                self._refuse("base64 reference to an element that is not plain text")
            return _base64(target)
        if first == ENVELOPED:
            target = _without(target, signature)
        return _c14n(target, last, prefixes)


def rsa_key(certificate: x509.Certificate, *, system: str) -> rsa.RSAPublicKey:
    """The RSA public key of ``certificate``: the only kind the allowed SignatureMethods use."""
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError(
            "signature does not verify: the signer's key is not RSA", system=system, code="invalid"
        )
    return key
