"""WS-Security for SOAP 1.1 as eHealth uses it (OASIS WSS 1.0 SOAP Message Security, X.509 Token
Profile 1.0, SAML Token Profile 1.0; XML-DSig with exclusive c14n, RSA-SHA256 by default).

Two modes, both via :func:`sign_envelope`:

* **X.509** (calls to the STS): ``wsse:Security`` holds a ``wsu:Timestamp`` (Created/Expires = now
  + ttl), a ``wsse:BinarySecurityToken`` with the caller's certificate, and a ``ds:Signature`` whose
  references are the Body, the Timestamp and the BinarySecurityToken; KeyInfo is a
  ``wsse:SecurityTokenReference/wsse:Reference`` to the token.
* **SAML holder-of-key** (business calls): the STS assertion is placed in the header as issued,
  the signature covers Body and Timestamp with the holder key, and KeyInfo is a
  ``SecurityTokenReference/KeyIdentifier`` (ValueType ``...#SAMLAssertionID``) naming the assertion.

:func:`verify_envelope` refuses, with :class:`~ehealth_hub.errors.SignatureError` (or
``TokenError`` for the assertion): a missing or second signature, a reference to anything other
than the envelope's own Body, the Security header's Timestamp or its BinarySecurityToken (signature
wrapping), duplicated Ids, a required part left unsigned, an untrusted or expired certificate, a
stale Timestamp (``max_skew`` each side), a digest or signature mismatch.

Public API (stable)::

    sign_envelope(envelope, credential, *, assertion=None, ttl=timedelta(minutes=5), now, ids=None)
        -> etree._Element                        # signs in place and returns the envelope
    verify_envelope(envelope, *, trusted, sts=(), expected=("Body", "Timestamp"),
                    max_skew=timedelta(minutes=5), now) -> VerifiedEnvelope
    WsseSignPlugin(mode: "x509" | "saml", credential=None, *, clock, ttl)   # zeep plugin
    use_credential(credential) -> context manager         # binds the X.509 signer for this task
    WsseVerifyPlugin(trusted, *, clock, expected, max_skew, sts=())   # verifies signed responses
    use_token(token: SamlToken) -> context manager        # binds the HoK token for this task
"""

from __future__ import annotations

import base64
import contextlib
import functools
import secrets
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from signxml import (  # type: ignore[attr-defined]  # re-exported names without stubs
    SignatureConfiguration,
    SignatureReference,
    XMLSigner,
    XMLVerifier,
    methods,
)
from signxml.exceptions import InvalidInput, InvalidSignature
from zeep import Plugin

from ehealth_hub.connectors.credentials import Credential, verify_chain
from ehealth_hub.connectors.saml import (
    _DIGESTS,
    _SIG_METHODS,
    EXC_C14N,
    SamlToken,
    VerifiedAssertion,
    parse_instant,
    verify_assertion,
)
from ehealth_hub.errors import SignatureError
from ehealth_hub.mappings.xml import DSIG_NS, SAML11_NS, SOAP11_NS, WSSE_NS, WSU_NS, parse_xml

_X509_PROFILE: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile"
X509_TOKEN: Final = _X509_PROFILE + "-1.0#X509v3"
BASE64: Final = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
SAML_ASSERTION_ID: Final = (
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID"
)
_ID_NAMES: Final = frozenset({"Id", "ID", "id", "AssertionID"})
_NSMAP: Final = {"soapenv": SOAP11_NS, "wsse": WSSE_NS, "wsu": WSU_NS, "ds": DSIG_NS}
_WSU_ID: Final = f"{{{WSU_NS}}}Id"
Clock = Callable[[], datetime]


def _tag(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@functools.lru_cache(maxsize=256)
def _token_text(certificate: x509.Certificate) -> str:
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def _random_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(8)}"


def _parts(envelope: etree._Element) -> tuple[etree._Element, etree._Element]:
    """(Header, Body) of a SOAP 1.1 envelope; each exactly once, as direct children."""
    if envelope.tag != _tag(SOAP11_NS, "Envelope"):
        raise SignatureError("not a SOAP 1.1 envelope", system="wsse", code="malformed")
    headers = envelope.findall(_tag(SOAP11_NS, "Header"))
    bodies = envelope.findall(_tag(SOAP11_NS, "Body"))
    if len(bodies) != 1 or len(headers) > 1:
        raise SignatureError(
            "envelope needs one Body and at most one Header", system="wsse", code="malformed"
        )
    if not headers:
        header = etree.Element(_tag(SOAP11_NS, "Header"))
        envelope.insert(0, header)
        return header, bodies[0]
    return headers[0], bodies[0]


def _security_header(header: etree._Element) -> etree._Element:
    security = etree.SubElement(
        header, _tag(WSSE_NS, "Security"), nsmap={"wsse": WSSE_NS, "wsu": WSU_NS}
    )
    security.set(_tag(SOAP11_NS, "mustUnderstand"), "1")
    return security


def _timestamp(
    security: etree._Element, now: datetime, ttl: timedelta, ident: str
) -> etree._Element:
    stamp = etree.SubElement(security, _tag(WSU_NS, "Timestamp"), {_WSU_ID: ident})
    etree.SubElement(stamp, _tag(WSU_NS, "Created")).text = _iso(now)
    etree.SubElement(stamp, _tag(WSU_NS, "Expires")).text = _iso(now + ttl)
    return stamp


def _key_info(child: etree._Element) -> etree._Element:
    key_info = etree.Element(_tag(DSIG_NS, "KeyInfo"), nsmap={"ds": DSIG_NS})
    reference = etree.SubElement(
        key_info, _tag(WSSE_NS, "SecurityTokenReference"), nsmap={"wsse": WSSE_NS}
    )
    reference.append(child)
    return key_info


def sign_envelope(
    envelope: etree._Element,
    credential: Credential,
    *,
    assertion: bytes | etree._Element | None = None,
    ttl: timedelta = timedelta(minutes=5),
    now: datetime,
    ids: Callable[[str], str] = _random_id,
) -> etree._Element:
    """Add a signed ``wsse:Security`` header to ``envelope`` (in place) and return it.

    With ``assertion`` (SAML HoK mode) ``credential`` must be the assertion's holder.
    """
    header, body = _parts(envelope)
    if header.find(_tag(WSSE_NS, "Security")) is not None:
        raise SignatureError(
            "envelope already has a Security header", system="wsse", code="malformed"
        )
    security = _security_header(header)
    stamp = _timestamp(security, now, ttl, ids("TS"))
    if body.get(_WSU_ID) is None:
        body.set(_WSU_ID, ids("id"))
    references = [body.get(_WSU_ID, ""), stamp.get(_WSU_ID, "")]
    if assertion is None:
        token = etree.SubElement(
            security, _tag(WSSE_NS, "BinarySecurityToken"), {_WSU_ID: ids("X509")}
        )
        token.attrib.update({"ValueType": X509_TOKEN, "EncodingType": BASE64})
        token.text = _token_text(credential.certificate)
        references.append(token.get(_WSU_ID, ""))
        pointer = etree.Element(
            _tag(WSSE_NS, "Reference"), URI="#" + references[-1], ValueType=X509_TOKEN
        )
    else:
        saml = parse_xml(assertion) if isinstance(assertion, bytes) else assertion
        security.insert(0, saml)
        pointer = etree.Element(_tag(WSSE_NS, "KeyIdentifier"), ValueType=SAML_ASSERTION_ID)
        pointer.text = saml.get("AssertionID")
    signer = XMLSigner(
        method=methods.detached,
        signature_algorithm="rsa-sha256",
        digest_algorithm="sha256",
        c14n_algorithm=EXC_C14N,
    )
    signature: etree._Element = signer.sign(
        envelope,
        key=credential.private_key,
        reference_uri=[SignatureReference(URI="#" + r) for r in references],
        key_info=_key_info(pointer),
    )
    security.append(signature)
    return envelope


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
        found = security.findall(_tag(ns, name))
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


def _signed_parts(
    signature: etree._Element, by_id: dict[str, etree._Element], roles: dict[int, str]
) -> frozenset[str]:
    signed: list[str] = []
    for reference in signature.iterfind("ds:SignedInfo/ds:Reference", namespaces=_NSMAP):
        uri = reference.get("URI", "")
        target = by_id.get(uri[1:]) if uri.startswith("#") else None
        role = roles.get(id(target)) if target is not None else None
        if role is None or role in signed:
            raise SignatureError(
                f"signature references {uri!r}, which is not a signable part of this envelope",
                system="wsse",
                code="wrapping",
            )
        signed.append(role)
    return frozenset(signed)


def _signer(
    signature: etree._Element,
    security: etree._Element,
    trusted: Sequence[x509.Certificate],
    sts: Sequence[x509.Certificate],
    now: datetime,
    skew: timedelta,
) -> tuple[x509.Certificate, Sequence[x509.Certificate], VerifiedAssertion | None]:
    reference = signature.find(
        "ds:KeyInfo/wsse:SecurityTokenReference/wsse:Reference", namespaces=_NSMAP
    )
    identifier = signature.find(
        "ds:KeyInfo/wsse:SecurityTokenReference/wsse:KeyIdentifier", namespaces=_NSMAP
    )
    if reference is not None:
        uri = reference.get("URI", "")
        token = next(
            (
                t
                for t in security.findall(_tag(WSSE_NS, "BinarySecurityToken"))
                if "#" + t.get(_WSU_ID, "") == uri
            ),
            None,
        )
        if token is None or token.get("ValueType") != X509_TOKEN:
            raise SignatureError(
                "KeyInfo names no X.509 token of this header", system="wsse", code="key-info"
            )
        try:
            return x509.load_der_x509_certificate(base64.b64decode(token.text or "")), (), None
        except ValueError as exc:
            raise SignatureError("BinarySecurityToken is not a certificate", system="wsse") from exc
    if identifier is not None and identifier.get("ValueType") == SAML_ASSERTION_ID:
        assertions = [
            a
            for a in security.findall(_tag(SAML11_NS, "Assertion"))
            if a.get("AssertionID") == identifier.text
        ]
        if len(assertions) != 1:
            raise SignatureError(
                "KeyInfo names no assertion of this header", system="wsse", code="key-info"
            )
        verified = verify_assertion(assertions[0], trusted=trusted, sts=sts, now=now, max_skew=skew)
        return verified.holder, (), verified
    raise SignatureError("KeyInfo must be a SecurityTokenReference", system="wsse", code="key-info")


def _check_timestamp(security: etree._Element, now: datetime, skew: timedelta) -> None:
    stamp = security.find(_tag(WSU_NS, "Timestamp"))
    created = parse_instant(stamp.findtext(_tag(WSU_NS, "Created")) if stamp is not None else None)
    expires = parse_instant(stamp.findtext(_tag(WSU_NS, "Expires")) if stamp is not None else None)
    if created - skew > now or expires + skew <= now:
        raise SignatureError("Timestamp is stale or in the future", system="wsse", code="stale")


def verify_envelope(
    envelope: etree._Element | bytes,
    *,
    trusted: Sequence[x509.Certificate],
    sts: Sequence[x509.Certificate] = (),
    expected: Sequence[str] = ("Body", "Timestamp"),
    max_skew: timedelta = timedelta(minutes=5),
    now: datetime,
) -> VerifiedEnvelope:
    """Verify the one signature of ``envelope``'s Security header; see the module docstring."""
    root = parse_xml(envelope) if isinstance(envelope, bytes) else envelope
    header, body = _parts(root)
    securities = header.findall(_tag(WSSE_NS, "Security"))
    if len(securities) != 1:
        raise SignatureError(
            "envelope needs exactly one Security header", system="wsse", code="unsigned"
        )
    security = securities[0]
    signatures = security.findall(_tag(DSIG_NS, "Signature"))
    if len(signatures) != 1:
        raise SignatureError(
            "Security header needs exactly one Signature", system="wsse", code="unsigned"
        )
    signed = _signed_parts(signatures[0], _check_ids(root), _roles(root, security, body))
    missing = set(expected) - signed
    if missing:
        raise SignatureError(
            f"unsigned parts: {sorted(missing)}", system="wsse", code="unsigned-part"
        )
    cert, chain, assertion = _signer(signatures[0], security, trusted, sts, now, max_skew)
    verify_chain(cert, chain, trusted=trusted, now=now)
    _verify_xml_signature(root, cert)
    if "Timestamp" in signed:
        _check_timestamp(security, now, max_skew)
    return VerifiedEnvelope(cert, signed, assertion)


def _verify_xml_signature(root: etree._Element, cert: x509.Certificate) -> None:
    config = SignatureConfiguration(
        location=f"./{{{SOAP11_NS}}}Header/{{{WSSE_NS}}}Security/",
        expect_references=True,
        signature_methods=_SIG_METHODS,
        digest_algorithms=_DIGESTS,
    )
    try:
        XMLVerifier().verify(root, x509_cert=cert, expect_config=config)
    except (InvalidSignature, InvalidInput) as exc:
        raise SignatureError(
            f"signature does not verify: {exc}", system="wsse", code="invalid"
        ) from exc


# -- zeep plugins --------------------------------------------------------------------------------
_TOKEN: ContextVar[SamlToken | None] = ContextVar("ehealth_hub_saml_token", default=None)
_CREDENTIAL: ContextVar[Credential | None] = ContextVar("ehealth_hub_x509", default=None)


@contextlib.contextmanager
def use_token(token: SamlToken) -> Iterator[SamlToken]:
    """Bind ``token`` to the current task: SAML-mode plugins sign with it until the block ends."""
    reset = _TOKEN.set(token)
    try:
        yield token
    finally:
        _TOKEN.reset(reset)


@contextlib.contextmanager
def use_credential(credential: Credential) -> Iterator[Credential]:
    """Bind ``credential`` to the current task for X.509-mode plugins built without one."""
    reset = _CREDENTIAL.set(credential)
    try:
        yield credential
    finally:
        _CREDENTIAL.reset(reset)


class WsseSignPlugin(Plugin):
    """Signs every outgoing envelope.

    ``mode="x509"``: with ``credential``, or the one bound by :func:`use_credential`;
    ``mode="saml"``: with the token bound by :func:`use_token`. Nothing bound: SignatureError,
    nothing is sent.
    """

    def __init__(
        self,
        mode: Literal["x509", "saml"],
        credential: Credential | None = None,
        *,
        clock: Clock,
        ttl: timedelta = timedelta(minutes=5),
    ) -> None:
        self.mode, self.credential, self.clock, self.ttl = mode, credential, clock, ttl

    def egress(
        self,
        envelope: etree._Element,
        http_headers: dict[str, str],
        operation: Any,
        binding_options: Any,
    ) -> tuple[etree._Element, dict[str, str]]:
        if self.mode == "x509":
            credential = self.credential or _CREDENTIAL.get()
            if credential is None:
                raise SignatureError(
                    "no credential bound for this call", system="wsse", code="no-credential"
                )
            return sign_envelope(envelope, credential, ttl=self.ttl, now=self.clock()), http_headers
        token = _TOKEN.get()
        if token is None:
            raise SignatureError(
                "no SAML token bound for this call (use wsse.use_token)",
                system="wsse",
                code="no-token",
            )
        signed = sign_envelope(
            envelope, token.holder, assertion=token.assertion, ttl=self.ttl, now=self.clock()
        )
        return signed, http_headers


class WsseVerifyPlugin(Plugin):
    """Verifies every incoming envelope (services that sign their responses)."""

    def __init__(
        self,
        trusted: Sequence[x509.Certificate],
        *,
        clock: Clock,
        expected: Sequence[str] = ("Body", "Timestamp"),
        max_skew: timedelta = timedelta(minutes=5),
        sts: Sequence[x509.Certificate] = (),
    ) -> None:
        self.sts = tuple(sts)
        self.trusted = tuple(trusted)
        self.clock = clock
        self.expected = tuple(expected)
        self.max_skew = max_skew

    def ingress(
        self, envelope: etree._Element, http_headers: Any, operation: Any
    ) -> tuple[etree._Element, Any]:
        verify_envelope(
            envelope,
            trusted=self.trusted,
            sts=self.sts,
            expected=self.expected,
            max_skew=self.max_skew,
            now=self.clock(),
        )
        return envelope, http_headers
