"""Signing side of WS-Security for SOAP 1.1 as eHealth uses it (OASIS WSS 1.0 SOAP Message
Security, X.509 Token Profile 1.0, SAML Token Profile 1.0; XML-DSig with exclusive c14n,
RSA-SHA256). The two modes (X.509 for the STS, SAML holder-of-key for business calls) are
described in :mod:`ehealth_hub.trust.wsse`, which re-exports :func:`sign_envelope`.

The ds:Signature itself is built by :mod:`.wsse_dsig` over the elements created here (XML-DSig
1.0 + Exclusive C14N 1.0), not by signxml: signxml's generic reference resolution and parse round
trips cost more than the RSA operation itself. The tests check every envelope signed here with
signxml's verifier and xmlsec1, implementations independent of this one and of
:mod:`.dsig_verify`.
"""

from __future__ import annotations

import base64
import copy
import functools
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from ehealth_hub.core.errors import SignatureError
from ehealth_hub.core.xml import DSIG_NS, SOAP11_NS, WSSE_NS, WSU_NS, parse_xml
from ehealth_hub.trust.credentials import Credential
from ehealth_hub.trust.wsse_dsig import Unsigned, prepare_detached, rsa_sign
from ehealth_hub.trust.wsse_envelope import (
    BASE64,
    SAML_ASSERTION_ID,
    WSU_ID,
    X509_TOKEN,
    envelope_parts,
    qname,
)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# The same few certificates sign every call: caching their DER/base64 form saves work per call.
@functools.lru_cache(maxsize=256)
def _token_text(certificate: x509.Certificate) -> str:
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def _random_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(8)}"


def _security_header(header: etree._Element) -> etree._Element:
    security = etree.SubElement(
        header, qname(WSSE_NS, "Security"), nsmap={"wsse": WSSE_NS, "wsu": WSU_NS}
    )
    security.set(qname(SOAP11_NS, "mustUnderstand"), "1")
    return security


def _timestamp(
    security: etree._Element, now: datetime, ttl: timedelta, ident: str
) -> etree._Element:
    stamp = etree.SubElement(security, qname(WSU_NS, "Timestamp"), {WSU_ID: ident})
    etree.SubElement(stamp, qname(WSU_NS, "Created")).text = _iso(now)
    etree.SubElement(stamp, qname(WSU_NS, "Expires")).text = _iso(now + ttl)
    return stamp


def _key_info(child: etree._Element) -> etree._Element:
    key_info = etree.Element(qname(DSIG_NS, "KeyInfo"), nsmap={"ds": DSIG_NS})
    reference = etree.SubElement(
        key_info, qname(WSSE_NS, "SecurityTokenReference"), nsmap={"wsse": WSSE_NS}
    )
    reference.append(child)
    return key_info


def _x509_token(
    security: etree._Element, credential: Credential, ident: str
) -> tuple[etree._Element, etree._Element]:
    """Add the caller's BinarySecurityToken; return it and the KeyInfo pointer to it."""
    token = etree.SubElement(security, qname(WSSE_NS, "BinarySecurityToken"), {WSU_ID: ident})
    token.attrib.update({"ValueType": X509_TOKEN, "EncodingType": BASE64})
    token.text = _token_text(credential.certificate)
    pointer = etree.Element(qname(WSSE_NS, "Reference"), URI="#" + ident, ValueType=X509_TOKEN)
    return token, pointer


# A token's assertion is inserted in every call it signs: parsed once, copied each time (a copy
# costs less than half a parse).
@functools.lru_cache(maxsize=256)
def _parsed_assertion(assertion: bytes) -> etree._Element:
    return parse_xml(assertion)


SPLICE_TAG: Final = "ehealthHubSplicedAssertion"
"""Holds the assertion's place in a header until :func:`serialize_spliced` puts it there."""
_SPLICE_MARK: Final = f"<{SPLICE_TAG}/>".encode()


def _saml_token(
    security: etree._Element, assertion: bytes | etree._Element, *, splice: bool = False
) -> etree._Element:
    """Put the assertion first in the header as issued (or, with ``splice``, its placeholder);
    return the KeyInfo pointer naming it."""
    if isinstance(assertion, bytes):
        parsed = _parsed_assertion(assertion)
        saml = etree.Element(SPLICE_TAG) if splice else copy.deepcopy(parsed)
        ident = parsed.get("AssertionID")
    else:
        saml, ident = assertion, assertion.get("AssertionID")
    security.insert(0, saml)
    pointer = etree.Element(qname(WSSE_NS, "KeyIdentifier"), ValueType=SAML_ASSERTION_ID)
    pointer.text = ident
    return pointer


def serialize_spliced(envelope: etree._Element, assertion: bytes) -> bytes:
    """The envelope as UTF-8 bytes, with the assertion's bytes (as issued, without an XML
    declaration) where :func:`prepare_envelope` left its placeholder (``splice=True``).

    Why: copying the parsed assertion into every envelope cost ~80 us a call, more than the rest
    of the header; the message signature covers Body and Timestamp only, and the assertion's own
    signature is over its bytes as the STS issued them, which this keeps exactly.
    """
    data = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
    at = data.find(_SPLICE_MARK)  # the header precedes the Body: the first one is ours
    if at < 0:
        raise SignatureError("no assertion placeholder to splice", system="wsse", code="malformed")
    return b"".join((data[:at], _bare(assertion), data[at + len(_SPLICE_MARK) :]))


@functools.lru_cache(maxsize=256)
def _bare(assertion: bytes) -> bytes:
    """The assertion without a leading XML declaration (it may not appear inside a document)."""
    _parsed_assertion(assertion)  # well-formed and safe before it goes anywhere
    text = assertion.lstrip()
    if text.startswith(b"<?xml"):
        text = text[text.index(b"?>") + 2 :].lstrip()
    return text


def prepare_envelope(
    envelope: etree._Element,
    credential: Credential,
    *,
    assertion: bytes | etree._Element | None = None,
    ttl: timedelta = timedelta(minutes=5),
    now: datetime,
    ids: Callable[[str], str] = _random_id,
    splice: bool = False,
) -> Unsigned:
    """Add a ``wsse:Security`` header to ``envelope`` (in place), all but the signature value:
    sign ``.data`` with ``credential``'s key and ``.complete()`` it (see :func:`sign_envelope`).

    With ``assertion`` (SAML HoK mode) ``credential`` must be the assertion's holder; with
    ``splice`` (``assertion`` as bytes) the header holds a placeholder and the caller serialises
    the envelope with :func:`serialize_spliced`.
    """
    header, body = envelope_parts(envelope)
    if header.find(qname(WSSE_NS, "Security")) is not None:
        raise SignatureError(
            "envelope already has a Security header", system="wsse", code="malformed"
        )
    security = _security_header(header)
    stamp = _timestamp(security, now, ttl, ids("TS"))
    if body.get(WSU_ID) is None:
        body.set(WSU_ID, ids("id"))
    references = [(body.get(WSU_ID, ""), body), (stamp.get(WSU_ID, ""), stamp)]
    if assertion is None:
        token, pointer = _x509_token(security, credential, ids("X509"))
        references.append((token.get(WSU_ID, ""), token))
    else:
        pointer = _saml_token(security, assertion, splice=splice)
    return prepare_detached(security, references, _key_info(pointer))


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
    unsigned = prepare_envelope(
        envelope, credential, assertion=assertion, ttl=ttl, now=now, ids=ids
    )
    unsigned.complete(rsa_sign(credential.private_key, unsigned.data))
    return envelope
