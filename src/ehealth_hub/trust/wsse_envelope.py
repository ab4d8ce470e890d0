"""Shared vocabulary of the WS-Security modules (OASIS WSS 1.0 SOAP Message Security, X.509 Token
Profile 1.0, SAML Token Profile 1.0 over SOAP 1.1): token ValueTypes, namespace map, and the
SOAP 1.1 envelope shape check that both signing (:mod:`.wsse_sign`) and verification
(:mod:`.wsse_verify`) start from.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final

from lxml import etree

from ehealth_hub.core.errors import SignatureError
from ehealth_hub.core.xml import DSIG_NS, SOAP11_NS, WSSE_NS, WSU_NS

_X509_PROFILE: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile"
X509_TOKEN: Final = _X509_PROFILE + "-1.0#X509v3"
BASE64: Final = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
SAML_ASSERTION_ID: Final = (
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID"
)
NSMAP: Final = {"soapenv": SOAP11_NS, "wsse": WSSE_NS, "wsu": WSU_NS, "ds": DSIG_NS}
WSU_ID: Final = f"{{{WSU_NS}}}Id"
Clock = Callable[[], datetime]


def qname(ns: str, name: str) -> str:
    """Clark notation ``{ns}name`` as lxml expects it."""
    return f"{{{ns}}}{name}"


def envelope_parts(envelope: etree._Element) -> tuple[etree._Element, etree._Element]:
    """(Header, Body) of a SOAP 1.1 envelope; each exactly once, as direct children.

    A missing Header is created (in place) because signing must have somewhere to put Security.
    """
    if envelope.tag != qname(SOAP11_NS, "Envelope"):
        raise SignatureError("not a SOAP 1.1 envelope", system="wsse", code="malformed")
    headers = envelope.findall(qname(SOAP11_NS, "Header"))
    bodies = envelope.findall(qname(SOAP11_NS, "Body"))
    if len(bodies) != 1 or len(headers) > 1:
        raise SignatureError(
            "envelope needs one Body and at most one Header", system="wsse", code="malformed"
        )
    if not headers:
        header = etree.Element(qname(SOAP11_NS, "Header"))
        envelope.insert(0, header)
        return header, bodies[0]
    return headers[0], bodies[0]
