"""The one signature verifier under the WS-Security policy, checked against signxml and xmlsec1
(independent code).

Accepted: what our signer, signxml's ``XMLSigner`` and ``xmlsec1 --sign`` produce (the last also
with an InclusiveNamespaces PrefixList, which changes the digests). Refused as ``SignatureError``
code ``invalid``: tampering (which signxml, the previous verifier, refuses too), and every
algorithm, Transform or shape outside the policy even when the legitimate key re-signed SignedInfo
afterwards, so that only the policy check stands between the envelope and acceptance.
"""

from __future__ import annotations

import base64
import copy
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from lxml import etree
from signxml import (  # type: ignore[attr-defined]  # re-exported names without stubs
    DigestAlgorithm,
    SignatureConfiguration,
    SignatureMethod,
    SignatureReference,
    XMLSigner,
    XMLVerifier,
    methods,
)
from signxml.exceptions import InvalidInput, InvalidSignature

from ehealth_hub.core.errors import SignatureError
from ehealth_hub.core.xml import DSIG_NS, SOAP11_NS, WSSE_NS, WSU_NS
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.trust import saml
from ehealth_hub.trust.dsig_verify import DIGEST_METHODS, SIGNATURE_METHODS
from ehealth_hub.trust.wsse import sign_envelope, verify_envelope
from ehealth_hub.trust.wsse_dsig import EXC_C14N, RSA_SHA256, SHA256, exclusive_c14n
from ehealth_hub.trust.wsse_verify import WSSE_SIGNATURE, _verify_xml_signature

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NS = {"s": SOAP11_NS, "wsse": WSSE_NS, "wsu": WSU_NS, "ds": DSIG_NS}
XMLSEC1 = shutil.which("xmlsec1")
# Namespaces above the Body, a comment: what the exclusive c14n of the Body must get right.
ENVELOPE = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:a="urn:a">'
    b'<soapenv:Header><a:h>kept</a:h></soapenv:Header><soapenv:Body xmlns:b="urn:b" b:flag="1">'
    b'<m:Ping xmlns:m="urn:x">transfer 10 EUR<!-- c --><a:y/></m:Ping></soapenv:Body>'
    b"</soapenv:Envelope>"
)
SIGNATURE = "s:Header/wsse:Security/ds:Signature"
SIGNATURE_VALUE = SIGNATURE + "/ds:SignatureValue"
REFERENCE = SIGNATURE + "/ds:SignedInfo/ds:Reference"
REF = "ds:SignedInfo/ds:Reference"  # from the Signature: the first, the Body's
TRANSFORM = REF + "/ds:Transforms/ds:Transform"
ENVELOPED = DSIG_NS + "enveloped-signature"
HMAC_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
ASSERTION = {"assertion_id": "_v1", "issuer": "sts", "attributes": [], "now": NOW}
ASSERTION["lifetime"] = timedelta(hours=1)
Change = Callable[[etree._Element], None]
# What the project allowed signxml's XMLVerifier when it verified (saml.py, before dsig_verify).
SIGNXML_SIG_METHODS = frozenset({SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA512})
SIGNXML_DIGESTS = frozenset({DigestAlgorithm.SHA256, DigestAlgorithm.SHA512})


def _signed(pki: SandboxPki, mode: str = "x509", key: str = "sarah") -> etree._Element:
    assertion = None
    if mode == "saml":
        holder = pki.practitioner("sarah").certificate
        unsigned = saml.build_assertion(holder=holder, **ASSERTION)
        assertion = etree.tostring(saml.sign_assertion(unsigned, pki.sts))
    envelope = etree.fromstring(ENVELOPE)
    return sign_envelope(envelope, pki.practitioner(key), assertion=assertion, now=NOW)


def _verify(pki: SandboxPki, envelope: etree._Element | bytes) -> frozenset[str]:
    data = envelope if isinstance(envelope, bytes) else etree.tostring(envelope)
    return verify_envelope(data, trusted=pki.truststore, sts=[pki.sts.certificate], now=NOW).signed


def _refused(pki: SandboxPki, envelope: etree._Element, match: str | None = None) -> None:
    with pytest.raises(SignatureError, match=match) as refused:
        _verify(pki, envelope)
    assert refused.value.code == "invalid"


def _ids(envelope: etree._Element) -> dict[str, etree._Element]:
    return {e.get(f"{{{WSU_NS}}}Id", ""): e for e in envelope.iter() if e.get(f"{{{WSU_NS}}}Id")}


def _signxml_accepts(envelope: etree._Element, cert: x509.Certificate) -> bool:
    """signxml under the exact configuration the project verified with before this module."""
    config = SignatureConfiguration(
        location=f"./{{{SOAP11_NS}}}Header/{{{WSSE_NS}}}Security/",
        expect_references=True,
        signature_methods=SIGNXML_SIG_METHODS,
        digest_algorithms=SIGNXML_DIGESTS,
    )
    try:
        XMLVerifier().verify(copy.deepcopy(envelope), x509_cert=cert, expect_config=config)
    except (InvalidSignature, InvalidInput):
        return False
    return True


def _resign(
    envelope: etree._Element, pki: SandboxPki, algorithm: hashes.HashAlgorithm | None = None
) -> etree._Element:
    """Sign SignedInfo again, as it now stands, with sarah's (the legitimate) key."""
    text = exclusive_c14n(envelope.find(SIGNATURE + "/ds:SignedInfo", NS))
    key = pki.practitioner("sarah").private_key
    value = key.sign(text, padding.PKCS1v15(), algorithm or hashes.SHA256())
    for element in envelope.findall(SIGNATURE_VALUE, NS):
        element.text = base64.b64encode(value).decode()
    return envelope


@pytest.mark.parametrize(("mode", "parts"), [("x509", 3), ("saml", 2)])
def test_accepts_what_our_signer_signs_as_signxml_does(
    sandbox_pki: SandboxPki, mode: str, parts: int
) -> None:
    envelope = _signed(sandbox_pki, mode)
    assert len(_verify(sandbox_pki, envelope)) == parts
    assert _signxml_accepts(envelope, sandbox_pki.practitioner("sarah").certificate)


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
@pytest.mark.parametrize("mode", ["x509", "saml"])
def test_accepts_what_signxml_signs(sandbox_pki: SandboxPki, mode: str, algorithm: str) -> None:
    envelope = _signed(sandbox_pki, mode)  # then signxml signs the same references instead
    security = envelope.find("s:Header/wsse:Security", NS)
    ours = security.find("ds:Signature", NS)
    references = [SignatureReference(URI=r.get("URI")) for r in ours.iterfind(REF, NS)]
    key_info = copy.deepcopy(ours.find("ds:KeyInfo", NS))
    security.remove(ours)
    signer = XMLSigner(
        method=methods.detached,
        signature_algorithm="rsa-" + algorithm,
        digest_algorithm=algorithm,
        c14n_algorithm=EXC_C14N,
    )
    key = sandbox_pki.practitioner("sarah").private_key
    security.append(signer.sign(envelope, key=key, reference_uri=references, key_info=key_info))
    assert {"Body", "Timestamp"} <= _verify(sandbox_pki, etree.tostring(envelope))


def test_allows_exactly_the_algorithms_signxml_was_allowed() -> None:
    assert set(SIGNATURE_METHODS) == {method.value for method in SIGNXML_SIG_METHODS}
    assert set(DIGEST_METHODS) == {digest.value for digest in SIGNXML_DIGESTS}


def _set(path: str, attribute: str | None, value: str) -> Change:
    """Set ``attribute`` (the text when None) of the element at ``path``."""

    def change(root: etree._Element) -> None:
        element = root.find(path, NS)
        if attribute is None:
            element.text = value
        else:
            element.set(attribute, value)

    return change


def _swap_reference_uris(envelope: etree._Element) -> None:
    body, stamp = envelope.findall(REFERENCE, NS)[:2]
    uri = body.get("URI", "")
    body.set("URI", stamp.get("URI", ""))
    stamp.set("URI", uri)


@pytest.mark.parametrize(
    "tamper",
    [
        _set("s:Body/{urn:x}Ping", None, "transfer 10000 EUR"),
        _set("s:Header/wsse:Security/wsu:Timestamp/wsu:Created", None, "2026-03-02T09:00:01Z"),
        _set(SIGNATURE_VALUE, None, base64.b64encode(bytes(255) + b"\1").decode()),
        _set(SIGNATURE_VALUE, None, "@@@@"),
        _set(REFERENCE + "/ds:DigestValue", None, base64.b64encode(bytes(32)).decode()),
        _swap_reference_uris,
    ],
    ids=["body", "timestamp", "signature-value", "not-base64", "digest-value", "swapped-uris"],
)
@pytest.mark.parametrize("mode", ["x509", "saml"])
def test_refuses_a_tampered_envelope_as_signxml_does(
    sandbox_pki: SandboxPki, mode: str, tamper: Change
) -> None:
    envelope = _signed(sandbox_pki, mode)
    tamper(envelope)
    _refused(sandbox_pki, envelope)
    assert not _signxml_accepts(envelope, sandbox_pki.practitioner("sarah").certificate)


def test_refuses_rsa_sha1_even_when_the_signers_key_made_it(sandbox_pki: SandboxPki) -> None:
    envelope = _signed(sandbox_pki)
    _set(REFERENCE + "/../ds:SignatureMethod", "Algorithm", DSIG_NS + "rsa-sha1")(envelope)
    _refused(sandbox_pki, _resign(envelope, sandbox_pki, hashes.SHA1()), "not allowed")  # noqa: S303  # the algorithm under test


def _add(path: str, tag: str, algorithm: str = "") -> Change:
    def change(signature: etree._Element) -> None:
        added = etree.SubElement(signature.find(path, NS), f"{{{DSIG_NS}}}{tag}")
        if algorithm:
            added.set("Algorithm", algorithm)

    return change


def _drop(path: str, keep: int = 0) -> Change:
    def change(signature: etree._Element) -> None:
        for element in signature.findall(path, NS)[keep:]:
            element.getparent().remove(element)

    return change


def _digest_value_first(signature: etree._Element) -> None:
    reference = signature.find(REF, NS)
    reference.insert(1, reference.find("ds:DigestValue", NS))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_set(TRANSFORM, "Algorithm", ENVELOPED), "not exclusive c14n"),
        (_set(TRANSFORM, "Algorithm", "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"), "not ex"),
        (_set(TRANSFORM, "Algorithm", EXC_C14N + "WithComments"), "not exclusive c14n"),
        (_add(REF + "/ds:Transforms", "Transform", ENVELOPED), "exactly one Transform"),
        (_add(REF + "/ds:Transforms", "Transform", DSIG_NS + "base64"), "exactly one Transform"),
        (_add(TRANSFORM, "XPath"), "unexpected content"),
        (_drop(REF + "/ds:Transforms"), "is not Transforms, DigestMethod"),
        (_digest_value_first, "is not Transforms, DigestMethod"),
        (_set(REF + "/ds:DigestMethod", "Algorithm", DSIG_NS + "sha1"), "not allowed"),
        (_set(REF + "/../ds:CanonicalizationMethod", "Algorithm", DSIG_NS + "c14n"), "not exc"),
        (_add(REF + "/../ds:SignatureMethod", "HMACOutputLength"), "not allowed"),
        (_set(REF + "/../ds:SignatureMethod", "Algorithm", HMAC_SHA256), "not allowed"),
        (_drop(REF), "needs CanonicalizationMethod, SignatureMethod and a Reference"),
        (_set(REF, "URI", ""), "names no element"),
        (_set(REF, "URI", "#nowhere"), "names no element"),
        (_drop("*", keep=1), "needs SignedInfo and SignatureValue"),
        (_drop("ds:SignatureValue"), "expected ds:SignatureValue"),
    ],
)
def test_refuses_what_the_policy_excludes_even_when_the_signers_key_signed_it(
    sandbox_pki: SandboxPki, change: Change, reason: str
) -> None:
    envelope, sarah = _signed(sandbox_pki), sandbox_pki.practitioner("sarah")
    signature = envelope.find(SIGNATURE, NS)
    change(signature)
    _resign(envelope, sandbox_pki)
    with pytest.raises(SignatureError, match=reason) as refused:
        WSSE_SIGNATURE.verify(signature, _ids(envelope).get, sarah.private_key.public_key())
    assert refused.value.code == "invalid"


def test_refuses_a_reference_to_an_id_not_in_the_document(sandbox_pki: SandboxPki) -> None:
    envelope = _signed(sandbox_pki)  # WSSE_SIGNATURE refuses it too: see the policy test
    _set(REFERENCE, "URI", "#nowhere")(envelope)
    with pytest.raises(SignatureError, match="not a signable part"):
        _verify(sandbox_pki, _resign(envelope, sandbox_pki))  # the anti-wrapping check is first


def test_refuses_a_signature_made_with_another_key(sandbox_pki: SandboxPki) -> None:
    # SAML mode: KeyInfo names sarah's assertion, so sarah's key must have signed; jan did.
    _refused(sandbox_pki, _signed(sandbox_pki, "saml", key="jan"), "does not match SignedInfo")


def test_still_refuses_duplicated_ids(sandbox_pki: SandboxPki) -> None:
    envelope = _signed(sandbox_pki)
    envelope.find("s:Header", NS).append(copy.deepcopy(envelope.find("s:Body", NS)))
    with pytest.raises(SignatureError) as refused:
        _verify(sandbox_pki, envelope)
    assert refused.value.code == "duplicate-id"


def test_refuses_a_signer_whose_key_is_not_rsa(sandbox_pki: SandboxPki) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "ec")])
    builder = x509.CertificateBuilder(name, name, key.public_key(), 1, NOW, NOW + timedelta(1))
    envelope = _signed(sandbox_pki)
    signature = envelope.find(SIGNATURE, NS)
    with pytest.raises(SignatureError, match="not RSA") as refused:
        _verify_xml_signature(signature, _ids(envelope), builder.sign(key, hashes.SHA256()))
    assert refused.value.code == "invalid"


def _template(pki: SandboxPki, prefixes: str) -> bytes:
    """A WS-Security envelope for xmlsec1 to sign (jan's key): Body, Timestamp and token."""
    der = pki.practitioner("jan").certificate.public_bytes(serialization.Encoding.DER)
    ec_ns = f'<ec:InclusiveNamespaces xmlns:ec="{EXC_C14N}" PrefixList="{prefixes}"/>'
    inclusive = ec_ns if prefixes else ""
    refs = "".join(
        f'<ds:Reference URI="#{i}"><ds:Transforms><ds:Transform Algorithm="{EXC_C14N}">'
        f'{inclusive}</ds:Transform></ds:Transforms><ds:DigestMethod Algorithm="{SHA256}"/>'
        "<ds:DigestValue/></ds:Reference>"
        for i in ("body-1", "ts-1", "x509-1")
    )
    return f"""<soapenv:Envelope xmlns:soapenv="{SOAP11_NS}" xmlns:wsse="{WSSE_NS}" \
xmlns:wsu="{WSU_NS}"><soapenv:Header><wsse:Security soapenv:mustUnderstand="1">
<wsu:Timestamp wsu:Id="ts-1"><wsu:Created>2026-03-02T09:00:00.000Z</wsu:Created>
<wsu:Expires>2026-03-02T09:05:00.000Z</wsu:Expires></wsu:Timestamp>
<wsse:BinarySecurityToken wsu:Id="x509-1" ValueType="{X509V3}">{base64.b64encode(der).decode()}\
</wsse:BinarySecurityToken><ds:Signature xmlns:ds="{DSIG_NS}"><ds:SignedInfo>
<ds:CanonicalizationMethod Algorithm="{EXC_C14N}">{inclusive}</ds:CanonicalizationMethod>
<ds:SignatureMethod Algorithm="{RSA_SHA256}"/>{refs}</ds:SignedInfo><ds:SignatureValue/>
<ds:KeyInfo><wsse:SecurityTokenReference><wsse:Reference URI="#x509-1" ValueType="{X509V3}"/>
</wsse:SecurityTokenReference></ds:KeyInfo></ds:Signature></wsse:Security></soapenv:Header>
<soapenv:Body wsu:Id="body-1"><m:Ping xmlns:m="urn:x">signed by xmlsec1</m:Ping></soapenv:Body>
</soapenv:Envelope>""".encode()


def _xmlsec1(action: str, *args: str) -> subprocess.CompletedProcess[str]:
    nodes = (f"{SOAP11_NS}:Body", f"{WSU_NS}:Timestamp", f"{WSSE_NS}:BinarySecurityToken")
    command = [str(XMLSEC1), action, *(a for n in nodes for a in ("--id-attr:Id", n)), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)  # noqa: S603  # fixed binary, test-owned arguments


@pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 not installed (apt-get install xmlsec1)")
@pytest.mark.parametrize("prefixes", ["", "wsse soapenv"], ids=["plain", "prefix-list"])
def test_accepts_what_xmlsec1_signs_and_verifies(
    sandbox_pki: SandboxPki, tmp_path: Path, prefixes: str
) -> None:
    (tmp_path / "template.xml").write_bytes(_template(sandbox_pki, prefixes))
    key, cert = (str(sandbox_pki.directory / f"auth/23456776003.{e}.pem") for e in ("key", "crt"))
    out = str(tmp_path / "signed.xml")
    signing = _xmlsec1("--sign", "--privkey-pem", key, "--output", out, f"{tmp_path}/template.xml")
    assert signing.returncode == 0, signing.stderr
    checked = _xmlsec1("--verify", "--pubkey-cert-pem", cert, out)
    assert checked.returncode == 0, checked.stderr
    signed = Path(out).read_bytes()
    assert _verify(sandbox_pki, signed) == {"Body", "Timestamp", "BinarySecurityToken"}
    tampered = etree.fromstring(signed.replace(b"signed by xmlsec1", b"altered"))
    _refused(sandbox_pki, tampered, "digest mismatch")
