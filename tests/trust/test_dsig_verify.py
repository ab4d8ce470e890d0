"""The one XML signature verifier under the STS and XAdES policies (the WS-Security policy has
its own file): what each use receives is accepted, as xmlsec1 accepts it, and what a reader would
misread is refused."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from ehealth_hub.core.errors import SignatureError, TokenError
from ehealth_hub.core.xml import DSIG_NS, SAML11_NS
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.trust import saml, xades
from ehealth_hub.trust.credentials import Credential
from ehealth_hub.trust.dsig_verify import ENVELOPED
from ehealth_hub.trust.saml_cache import VerifiedSignatures
from ehealth_hub.trust.signxml_api import XMLSigner
from ehealth_hub.trust.wsse import sign_envelope, verify_envelope
from ehealth_hub.trust.wsse_dsig import EXC_C14N, RSA_SHA256, SHA256, exclusive_c14n

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
XMLSEC1 = shutil.which("xmlsec1")
ENVELOPE = b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>'


def _assertion(pki: SandboxPki) -> etree._Element:
    unsigned = saml.build_assertion(
        assertion_id="_a1",
        issuer="urn:be:fgov:ehealth:sts:1_0",
        holder=pki.practitioner("sarah").certificate,
        attributes=[(saml.CERTIFIED_NS, "urn:be:fgov:person:ssin:doctor:boolean", "true")],
        now=NOW,
        lifetime=timedelta(hours=1),
    )
    return saml.sign_assertion(unsigned, pki.sts)


def _verify_assertion(pki: SandboxPki, assertion: etree._Element) -> saml.VerifiedAssertion:
    return saml.verify_assertion(
        assertion, trusted=pki.truststore, sts=[pki.sts.certificate], now=NOW
    )


@pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 not installed (apt-get install xmlsec1)")
def test_the_sts_policy_agrees_with_xmlsec1_on_an_enveloped_assertion_signature(
    sandbox_pki: SandboxPki, tmp_path: Path
) -> None:
    assertion = _assertion(sandbox_pki)
    assert _verify_assertion(sandbox_pki, assertion).assertion_id == "_a1"
    certificate = tmp_path / "sts.pem"
    certificate.write_bytes(sandbox_pki.sts.certificate.public_bytes(serialization.Encoding.PEM))
    document = tmp_path / "assertion.xml"
    command = [str(XMLSEC1), "--verify", "--pubkey-cert-pem", str(certificate)]
    command += ["--id-attr:AssertionID", f"{SAML11_NS}:Assertion", str(document)]
    document.write_bytes(etree.tostring(assertion))
    checked = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)  # noqa: S603  # fixed binary, test-owned arguments
    assert checked.returncode == 0, checked.stderr
    value = assertion.find(f".//{{{SAML11_NS}}}AttributeValue")
    assert value is not None
    value.text = "false"
    document.write_bytes(etree.tostring(assertion))
    refused = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)  # noqa: S603  # fixed binary, test-owned arguments
    assert refused.returncode != 0
    with pytest.raises(TokenError, match="digest mismatch") as forged:
        _verify_assertion(sandbox_pki, assertion)
    assert forged.value.code == "forged"


def test_a_repeated_assertion_is_checked_once_by_the_verifiers_own_memory(
    sandbox_pki: SandboxPki,
) -> None:
    assertion = etree.tostring(_assertion(sandbox_pki))
    envelope = sign_envelope(
        etree.fromstring(ENVELOPE), sandbox_pki.practitioner("sarah"), assertion=assertion, now=NOW
    )
    memory = VerifiedSignatures()
    for _ in range(3):
        verify_envelope(
            etree.tostring(envelope),
            trusted=sandbox_pki.truststore,
            sts=[sandbox_pki.sts.certificate],
            now=NOW,
            signatures=memory,
        )
    assert (memory.misses, memory.hits, len(memory)) == (1, 2, 1)


class _Signer(xades._DetailSigner):
    """sign_detail's signer, with the SigningTime text or the SigningCertificate chosen."""

    def __init__(self, content: bytes, *, time: str | None, named: Credential | None) -> None:
        super().__init__(content, NOW)
        self.time, self.named = time, named

    def add_signing_time(
        self, signed_signature_properties: etree._Element, sig_root: Any, signing_settings: Any
    ) -> None:
        if self.time is None:
            super().add_signing_time(signed_signature_properties, sig_root, signing_settings)
            return
        node = etree.SubElement(signed_signature_properties, f"{{{xades.XADES}}}SigningTime")
        node.text, comment = self.time, etree.Comment("c")
        comment.tail = "0"  # signed: "...+00:000" (no time); read by lxml: the fresh prefix
        node.append(comment)

    def add_signing_certificate(
        self, signed_signature_properties: etree._Element, sig_root: Any, signing_settings: Any
    ) -> None:
        named = self.named
        chosen = SimpleNamespace(cert_chain=[named.certificate]) if named else signing_settings
        super().add_signing_certificate(signed_signature_properties, sig_root, chosen)


def _xades(
    pki: SandboxPki, *, time: str | None = None, named: Credential | None = None
) -> tuple[bytes, etree._Element]:
    detail = etree.Element(f"{{{xades.DETAIL_NS}}}Detail", Id="Detail-1")
    detail.text = base64.b64encode(b"sealed").decode()
    sarah = pki.practitioner("sarah")
    signature = XMLSigner.sign(
        _Signer(b"sealed", time=time, named=named),
        detail,
        key=sarah.private_key,
        cert=[sarah.certificate],
        reference_uri="#Detail-1",
        always_add_key_value=False,
    )
    return etree.tostring(signature), detail


def test_the_xades_policy_accepts_what_sign_detail_signs(sandbox_pki: SandboxPki) -> None:
    signature, detail = _xades(sandbox_pki)
    certificate = sandbox_pki.practitioner("sarah").certificate
    properties = xades.signed_properties(etree.fromstring(signature), detail, certificate)
    assert etree.QName(properties).localname == "SignedProperties"


def test_a_xades_naming_another_signing_certificate_is_refused(sandbox_pki: SandboxPki) -> None:
    signature, detail = _xades(sandbox_pki, named=sandbox_pki.practitioner("jan"))
    certificate = sandbox_pki.practitioner("sarah").certificate
    with pytest.raises(SignatureError, match="SigningCertificate names another") as refused:
        xades.signed_properties(etree.fromstring(signature), detail, certificate)
    assert refused.value.code == "xades-invalid"


def test_a_xades_signing_time_split_by_a_comment_is_refused(sandbox_pki: SandboxPki) -> None:
    """Signed as ``...+00:000`` (no time at all), read by lxml as the fresh ``...+00:00``."""
    signature, detail = _xades(sandbox_pki, time=NOW.isoformat(timespec="seconds"))
    certificate = sandbox_pki.practitioner("sarah").certificate
    with pytest.raises(SignatureError, match="comment or processing instruction") as refused:
        xades.signed_properties(etree.fromstring(signature), detail, certificate)
    assert refused.value.code == "xades-invalid"


def _enveloped(tail: str, key: rsa.RSAPrivateKey) -> etree._Element:
    """``<r Id="x"><v>1</v>before<ds:Signature/>{tail}</r>``, signed by hand: the digest is of
    the canonical form written out here, not of anything the verifier computes."""
    signed_form = f'<r Id="x"><v>1</v>before{tail}</r>'.encode()
    digest = base64.b64encode(hashlib.sha256(signed_form).digest()).decode()
    root = etree.fromstring(
        f'<r Id="x"><v>1</v>before<ds:Signature xmlns:ds="{DSIG_NS}"><ds:SignedInfo>'
        f'<ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/>'
        f'<ds:SignatureMethod Algorithm="{RSA_SHA256}"/><ds:Reference URI="#x"><ds:Transforms>'
        f'<ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="{EXC_C14N}"/>'
        f'</ds:Transforms><ds:DigestMethod Algorithm="{SHA256}"/>'
        f"<ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>"
        f"<ds:SignatureValue/></ds:Signature>{tail}</r>"
    )
    signature = root[1]
    data = exclusive_c14n(signature[0])
    value = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    signature[1].text = base64.b64encode(value).decode()
    return root


def test_the_enveloped_transform_removes_the_signature_and_keeps_the_text_after_it() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = _enveloped("after", key)
    verified = saml.STS_SIGNATURE.verify(root[1], {"x": root}.get, key.public_key())
    assert [r.target for r in verified] == [root]
    root[1].tail = "other"  # the text after the Signature is signed content of its parent
    with pytest.raises(SignatureError, match="digest mismatch"):
        saml.STS_SIGNATURE.verify(root[1], {"x": root}.get, key.public_key())
