"""The hand-built WS-Security signature, checked against signxml, an independent implementation.

signxml's ``XMLVerifier`` must accept every envelope :func:`sign_envelope` produces, in both modes,
and signxml's own ``XMLSigner`` must produce the very same bytes for the same unsigned envelope
(RSASSA-PKCS1-v1_5 is deterministic, so any difference in canonicalisation, digests, SignedInfo
layout or algorithm URIs shows). ``xmlsec1 --verify`` is exercised in ``test_interop.py``.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from signxml import (  # type: ignore[attr-defined]  # re-exported names without stubs
    SignatureConfiguration,
    SignatureReference,
    XMLSigner,
    XMLVerifier,
    methods,
)
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidDigest

from ehealth_hub.core.errors import SignatureError
from ehealth_hub.core.xml import DSIG_NS, SOAP11_NS, WSSE_NS, WSU_NS
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.trust import saml
from ehealth_hub.trust.credentials import Credential
from ehealth_hub.trust.wsse import sign_envelope
from ehealth_hub.trust.wsse_dsig import EXC_C14N, sign_detached

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NS = {"s": SOAP11_NS, "wsse": WSSE_NS, "wsu": WSU_NS, "ds": DSIG_NS}
WSU_ID = f"{{{WSU_NS}}}Id"
TRICKY = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:a="urn:a">'
    b"<!-- outside --><soapenv:Header><a:h>kept</a:h></soapenv:Header>"
    b'<soapenv:Body xmlns:b="urn:b" b:flag="1"><m:Ping xmlns:m="urn:x" xml:lang="fr" z="2" a="1">'
    b"&amp;&lt;&gt;&#13;\xc3\xa9<!-- inside --><?pi data?><a:y/><![CDATA[<raw>]]></m:Ping>"
    b"</soapenv:Body></soapenv:Envelope>"
)
PLAIN = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    b'<m:Ping xmlns:m="urn:x">ping</m:Ping></soapenv:Body></soapenv:Envelope>'
)


def _assertion(pki: SandboxPki, holder: Credential) -> bytes:
    unsigned = saml.build_assertion(
        assertion_id="_d1",
        issuer="urn:be:fgov:ehealth:sts:1_0",
        holder=holder.certificate,
        attributes=[(saml.CERTIFIED_NS, "urn:be:fgov:person:ssin:doctor:boolean", "true")],
        now=NOW,
        lifetime=timedelta(hours=1),
    )
    return etree.tostring(saml.sign_assertion(unsigned, pki.sts))


def _sign(pki: SandboxPki, envelope: bytes, mode: str) -> etree._Element:
    sarah = pki.practitioner("sarah")
    assertion = _assertion(pki, sarah) if mode == "saml" else None
    return sign_envelope(etree.fromstring(envelope), sarah, assertion=assertion, now=NOW)


def _signxml_resign(signed: etree._Element, key: Credential) -> bytes:
    """Drop our Signature and let signxml sign the same references with the same KeyInfo."""
    envelope = copy.deepcopy(signed)
    security = envelope.find("s:Header/wsse:Security", NS)
    ours = security.find("ds:Signature", NS)
    uris = [ref.get("URI") for ref in ours.iterfind("ds:SignedInfo/ds:Reference", NS)]
    key_info = copy.deepcopy(ours.find("ds:KeyInfo", NS))
    security.remove(ours)
    signer = XMLSigner(
        method=methods.detached,
        signature_algorithm="rsa-sha256",
        digest_algorithm="sha256",
        c14n_algorithm=EXC_C14N,
    )
    signature = signer.sign(
        envelope,
        key=key.private_key,
        reference_uri=[SignatureReference(URI=uri) for uri in uris],
        key_info=key_info,
    )
    security.append(signature)
    return etree.tostring(envelope)


@pytest.mark.parametrize("envelope", [PLAIN, TRICKY], ids=["plain", "tricky"])
@pytest.mark.parametrize(("mode", "parts"), [("x509", 3), ("saml", 2)])
def test_signxml_verifier_accepts_every_reference_we_sign(
    sandbox_pki: SandboxPki, envelope: bytes, mode: str, parts: int
) -> None:
    signed = etree.fromstring(etree.tostring(_sign(sandbox_pki, envelope, mode)))
    config = SignatureConfiguration(
        location=f"./{{{SOAP11_NS}}}Header/{{{WSSE_NS}}}Security/",
        expect_references=parts,
        signature_methods=frozenset({SignatureMethod.RSA_SHA256}),
        digest_algorithms=frozenset({DigestAlgorithm.SHA256}),
    )
    cert = sandbox_pki.practitioner("sarah").certificate
    results = XMLVerifier().verify(signed, x509_cert=cert, expect_config=config)
    expected = (
        {"Body", "Timestamp", "BinarySecurityToken"} if mode == "x509" else {"Body", "Timestamp"}
    )
    assert {etree.QName(result.signed_xml).localname for result in results} == expected
    body = signed.find("s:Body", NS)
    body.find("{urn:x}Ping").set("tampered", "1")
    with pytest.raises(InvalidDigest):
        XMLVerifier().verify(signed, x509_cert=cert, expect_config=config)


@pytest.mark.parametrize("envelope", [PLAIN, TRICKY], ids=["plain", "tricky"])
@pytest.mark.parametrize("mode", ["x509", "saml"])
def test_signature_is_byte_identical_to_signxml_signer_output(
    sandbox_pki: SandboxPki, envelope: bytes, mode: str
) -> None:
    signed = _sign(sandbox_pki, envelope, mode)
    assert etree.tostring(signed) == _signxml_resign(signed, sandbox_pki.practitioner("sarah"))


NAMES = st.sampled_from(["a", "b", "item", "x-y", "v1"])
PREFIXES = st.sampled_from([None, "p", "q", "soapenv"])
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn")), max_size=40)


@st.composite
def bodies(draw: st.DrawFn) -> etree._Element:
    envelope = etree.fromstring(PLAIN)
    parent = envelope.find("s:Body", NS)
    for index in range(draw(st.integers(0, 6))):
        prefix = draw(PREFIXES)
        namespace = SOAP11_NS if prefix == "soapenv" else f"urn:ns{index % 3}"
        child = etree.SubElement(parent, f"{{{namespace}}}{draw(NAMES)}", nsmap={prefix: namespace})
        child.text = draw(TEXT)
        if draw(st.booleans()):
            child.set(f"{{urn:attr}}{draw(NAMES)}", draw(TEXT))
        if draw(st.booleans()):
            child.append(etree.Comment(draw(TEXT).replace("-", "")))
        parent = child if draw(st.booleans()) else parent
    return envelope


@settings(max_examples=30, deadline=None)
@given(envelope=bodies(), mode=st.sampled_from(["x509", "saml"]))
def test_any_body_is_signed_exactly_as_signxml_signs_it(
    sandbox_pki: SandboxPki, envelope: etree._Element, mode: str
) -> None:
    sarah = sandbox_pki.practitioner("sarah")
    assertion = _assertion(sandbox_pki, sarah) if mode == "saml" else None
    signed = sign_envelope(envelope, sarah, assertion=assertion, now=NOW)
    assert etree.tostring(signed) == _signxml_resign(signed, sarah)


def test_refuses_to_sign_an_element_that_encloses_the_signature(sandbox_pki: SandboxPki) -> None:
    envelope = etree.fromstring(PLAIN)
    header = etree.SubElement(envelope, f"{{{SOAP11_NS}}}Header", {WSU_ID: "h-1"})
    sarah = sandbox_pki.practitioner("sarah")
    key_info = etree.Element(f"{{{DSIG_NS}}}KeyInfo")
    with pytest.raises(SignatureError, match="enclose its own signature"):
        sign_detached(header, [("h-1", header)], sarah.private_key, key_info)
    assert header.find("ds:Signature", NS) is None
