"""Interoperability with independent implementations: xmlsec1 (XML-DSig) and openssl cms (CMS).

Skipped, with the reason, only when the binaries are absent (Debian packages xmlsec1, openssl).
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from ehealth_hub.core.errors import SignatureError
from ehealth_hub.core.xml import SOAP11_NS, WSSE_NS, WSU_NS
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.trust import saml
from ehealth_hub.trust.etee import EtkId, seal
from ehealth_hub.trust.wsse import sign_envelope, verify_envelope

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
XMLSEC1 = shutil.which("xmlsec1")
OPENSSL = shutil.which("openssl")
needs_xmlsec1 = pytest.mark.skipif(
    XMLSEC1 is None, reason="xmlsec1 not installed (apt-get install xmlsec1)"
)
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl binary not installed")
ID_ATTRS = [
    "--id-attr:Id",
    f"{SOAP11_NS}:Body",
    "--id-attr:Id",
    f"{WSU_NS}:Timestamp",
    "--id-attr:Id",
    f"{WSSE_NS}:BinarySecurityToken",
]
SECURITY_SIGNATURE = (
    "/*[local-name()='Envelope']/*[local-name()='Header']/*[local-name()='Security']"
    "/*[local-name()='Signature']"
)
ENVELOPE = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    b'<m:Ping xmlns:m="urn:x">ping</m:Ping></soapenv:Body></soapenv:Envelope>'
)
# Namespaces declared above the Body, comments, a PI, CDATA, escapes: what c14n must get right.
TRICKY_ENVELOPE = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:a="urn:a">'
    b"<!-- outside --><soapenv:Header><a:h>kept</a:h></soapenv:Header>"
    b'<soapenv:Body xmlns:b="urn:b" b:flag="1"><m:Ping xmlns:m="urn:x" xml:lang="fr" z="2" a="1">'
    b"&amp;&lt;&gt;&#13;\xc3\xa9<!-- inside --><?pi data?><a:y/><![CDATA[<raw>]]></m:Ping>"
    b"</soapenv:Body></soapenv:Envelope>"
)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=30)  # noqa: S603  # fixed binaries, test-owned arguments


@needs_xmlsec1
@pytest.mark.parametrize("envelope", [ENVELOPE, TRICKY_ENVELOPE], ids=["plain", "tricky"])
def test_xmlsec1_verifies_our_x509_signature(
    sandbox_pki: SandboxPki, tmp_path: Path, envelope: bytes
) -> None:
    signed = tmp_path / "signed.xml"
    signed.write_bytes(
        etree.tostring(
            sign_envelope(etree.fromstring(envelope), sandbox_pki.practitioner("sarah"), now=NOW)
        )
    )
    cert = sandbox_pki.directory / "auth/11530231003.crt.pem"
    result = _run(str(XMLSEC1), "--verify", "--pubkey-cert-pem", str(cert), *ID_ATTRS, str(signed))
    assert result.returncode == 0, result.stderr
    assert "References (ok/all): 3/3" in result.stderr


@needs_xmlsec1
@pytest.mark.parametrize("envelope", [ENVELOPE, TRICKY_ENVELOPE], ids=["plain", "tricky"])
def test_xmlsec1_verifies_our_saml_holder_of_key_signature(
    sandbox_pki: SandboxPki, tmp_path: Path, envelope: bytes
) -> None:
    sarah = sandbox_pki.practitioner("sarah")
    assertion = saml.sign_assertion(
        saml.build_assertion(
            assertion_id="_x1",
            issuer="sts",
            holder=sarah.certificate,
            attributes=[],
            now=NOW,
            lifetime=timedelta(hours=1),
        ),
        sandbox_pki.sts,
    )
    signed = tmp_path / "saml.xml"
    signed.write_bytes(
        etree.tostring(
            sign_envelope(
                etree.fromstring(envelope), sarah, assertion=etree.tostring(assertion), now=NOW
            )
        )
    )
    cert = sandbox_pki.directory / "auth/11530231003.crt.pem"
    result = _run(
        str(XMLSEC1),
        "--verify",
        "--pubkey-cert-pem",
        str(cert),
        "--node-xpath",
        SECURITY_SIGNATURE,
        *ID_ATTRS,
        str(signed),
    )
    assert result.returncode == 0, result.stderr
    assert "References (ok/all): 2/2" in result.stderr
    sts_cert = sandbox_pki.directory / "sts/sts.crt.pem"
    assertion_file = tmp_path / "assertion.xml"
    assertion_file.write_bytes(etree.tostring(assertion))
    result = _run(
        str(XMLSEC1),
        "--verify",
        "--pubkey-cert-pem",
        str(sts_cert),
        "--id-attr:AssertionID",
        f"{saml.SAML11_NS}:Assertion",
        str(assertion_file),
    )
    assert result.returncode == 0, result.stderr


X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
B64 = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"


def _template(sandbox_pki: SandboxPki) -> bytes:
    """A WS-Security template for xmlsec1 to fill in: Body, Timestamp and token referenced."""
    der = sandbox_pki.practitioner("jan").certificate.public_bytes(Encoding.DER)
    refs = "".join(
        f'<ds:Reference URI="#{i}"><ds:Transforms><ds:Transform Algorithm="{EXC}"/>'
        f'</ds:Transforms><ds:DigestMethod Algorithm="{SHA256}"/><ds:DigestValue/></ds:Reference>'
        for i in ("body-1", "ts-1", "x509-1")
    )
    token = base64.b64encode(der).decode()
    namespaces = f'xmlns:soapenv="{SOAP11_NS}" xmlns:wsse="{WSSE_NS}" xmlns:wsu="{WSU_NS}"'
    return f"""<soapenv:Envelope {namespaces}>
<soapenv:Header><wsse:Security soapenv:mustUnderstand="1">
<wsu:Timestamp wsu:Id="ts-1"><wsu:Created>2026-03-02T09:00:00.000Z</wsu:Created>
<wsu:Expires>2026-03-02T09:05:00.000Z</wsu:Expires></wsu:Timestamp>
<wsse:BinarySecurityToken wsu:Id="x509-1" ValueType="{X509V3}" EncodingType="{B64}">{token}
</wsse:BinarySecurityToken>
<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>
<ds:CanonicalizationMethod Algorithm="{EXC}"/>
<ds:SignatureMethod Algorithm="{RSA_SHA256}"/>{refs}</ds:SignedInfo>
<ds:SignatureValue/><ds:KeyInfo><wsse:SecurityTokenReference>
<wsse:Reference URI="#x509-1" ValueType="{X509V3}"/></wsse:SecurityTokenReference></ds:KeyInfo>
</ds:Signature></wsse:Security></soapenv:Header>
<soapenv:Body wsu:Id="body-1"><m:Ping xmlns:m="urn:x">signed by xmlsec1</m:Ping></soapenv:Body>
</soapenv:Envelope>""".encode()


@needs_xmlsec1
def test_our_verifier_accepts_an_envelope_signed_by_xmlsec1_and_refuses_it_tampered(
    sandbox_pki: SandboxPki, tmp_path: Path
) -> None:
    template = tmp_path / "template.xml"
    template.write_bytes(_template(sandbox_pki))
    key = sandbox_pki.directory / "auth/23456776003.key.pem"
    result = _run(
        str(XMLSEC1),
        "--sign",
        "--privkey-pem",
        str(key),
        *ID_ATTRS,
        "--output",
        str(tmp_path / "out.xml"),
        str(template),
    )
    assert result.returncode == 0, result.stderr
    signed = (tmp_path / "out.xml").read_bytes()
    verified = verify_envelope(
        signed,
        trusted=sandbox_pki.truststore,
        expected=("Body", "Timestamp", "BinarySecurityToken"),
        now=NOW,
    )
    assert verified.signer == sandbox_pki.practitioner("jan").certificate
    with pytest.raises(SignatureError):
        verify_envelope(
            signed.replace(b"signed by xmlsec1", b"altered"),
            trusted=sandbox_pki.truststore,
            now=NOW,
        )


@needs_openssl
def test_openssl_cms_opens_our_sealed_message(sandbox_pki: SandboxPki, tmp_path: Path) -> None:
    jan = EtkId("SSIN", "65050511172")
    sealed = seal(
        b"note for the GP",
        sandbox_pki.practitioner("sarah"),
        [sandbox_pki.etk(jan).certificate],
        sender_etk=sandbox_pki.etk(EtkId("SSIN", "80021512354")).certificate,
    )
    (tmp_path / "sealed.der").write_bytes(sealed)
    root = str(sandbox_pki.directory / "ca/root.crt.pem")
    verify = [
        str(OPENSSL),
        "cms",
        "-verify",
        "-purpose",
        "any",
        "-binary",
        "-inform",
        "DER",
        "-CAfile",
        root,
    ]
    outer = _run(*verify, "-in", str(tmp_path / "sealed.der"), "-out", str(tmp_path / "env.der"))
    assert outer.returncode == 0, outer.stderr
    etk = sandbox_pki.directory / "etk/SSIN-65050511172"
    decrypt = _run(
        str(OPENSSL),
        "cms",
        "-decrypt",
        "-binary",
        "-inform",
        "DER",
        "-in",
        str(tmp_path / "env.der"),
        "-recip",
        f"{etk}.crt.pem",
        "-inkey",
        f"{etk}.key.pem",
        "-out",
        str(tmp_path / "inner.der"),
    )
    assert decrypt.returncode == 0, decrypt.stderr
    inner = _run(*verify, "-in", str(tmp_path / "inner.der"), "-out", str(tmp_path / "payload"))
    assert inner.returncode == 0, inner.stderr
    assert (tmp_path / "payload").read_bytes() == b"note for the GP"
