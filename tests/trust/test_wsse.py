"""WS-Security signing and verification, and the attack corpus every verifier must refuse."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from ehealth_hub.core.errors import HostileXmlError, SecurityError, SignatureError, TokenError
from ehealth_hub.core.xml import SOAP11_NS, WSSE_NS, WSU_NS
from ehealth_hub.fixtures.drbg import derive_rsa_key
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.trust import saml
from ehealth_hub.trust.credentials import Credential
from ehealth_hub.trust.wsse import sign_envelope, verify_envelope

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BODY = b"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
<soapenv:Body><m:GetEtkRequest xmlns:m="urn:x"><m:Value>transfer 10 EUR</m:Value></m:GetEtkRequest>
</soapenv:Body></soapenv:Envelope>"""
NS = {"s": SOAP11_NS, "wsse": WSSE_NS, "wsu": WSU_NS, "ds": "http://www.w3.org/2000/09/xmldsig#"}
WSU_ID = f"{{{WSU_NS}}}Id"


def _envelope() -> etree._Element:
    return etree.fromstring(BODY)


def signed_x509(pki: SandboxPki, who: str = "sarah") -> bytes:
    return etree.tostring(sign_envelope(_envelope(), pki.practitioner(who), now=NOW))


def assertion_for(
    pki: SandboxPki,
    holder: Credential,
    *,
    signer: Credential | None = None,
    life: timedelta = timedelta(hours=1),
) -> etree._Element:
    unsigned = saml.build_assertion(
        assertion_id="_a1",
        issuer="urn:be:fgov:ehealth:sts:1_0",
        holder=holder.certificate,
        attributes=[(saml.CERTIFIED_NS, "urn:be:fgov:person:ssin:doctor:boolean", "true")],
        now=NOW,
        lifetime=life,
    )
    return saml.sign_assertion(unsigned, signer or pki.sts)


def signed_saml(pki: SandboxPki, assertion: etree._Element, key_holder: Credential) -> bytes:
    envelope = sign_envelope(_envelope(), key_holder, assertion=etree.tostring(assertion), now=NOW)
    return etree.tostring(envelope)


def verify(
    pki: SandboxPki,
    data: bytes,
    *,
    now: datetime = NOW,
    expected: tuple[str, ...] = ("Body", "Timestamp"),
) -> object:
    return verify_envelope(
        data, trusted=pki.truststore, sts=[pki.sts.certificate], expected=expected, now=now
    )


def test_verifies_an_x509_signed_envelope_with_body_timestamp_and_token(
    sandbox_pki: SandboxPki,
) -> None:
    result = verify_envelope(
        signed_x509(sandbox_pki),
        trusted=sandbox_pki.truststore,
        sts=[sandbox_pki.sts.certificate],
        now=NOW,
    )
    assert result.signed == {"Body", "Timestamp", "BinarySecurityToken"}
    assert result.signer == sandbox_pki.practitioner("sarah").certificate


def test_verifies_a_saml_holder_of_key_envelope(sandbox_pki: SandboxPki) -> None:
    sarah = sandbox_pki.practitioner("sarah")
    result = verify_envelope(
        signed_saml(sandbox_pki, assertion_for(sandbox_pki, sarah), sarah),
        trusted=sandbox_pki.truststore,
        sts=[sandbox_pki.sts.certificate],
        now=NOW,
    )
    assert result.assertion is not None
    assert result.assertion.assertion_id == "_a1"
    assert result.signed == {"Body", "Timestamp"}


def _tamper_body(root: etree._Element) -> None:
    root.find(".//{urn:x}Value").text = "transfer 10000 EUR"


def _wrap_body(root: etree._Element) -> None:
    """Classic wrapping: the signed Body moves into a header wrapper, a forged one replaces it."""
    body = root.find("s:Body", NS)
    wrapper = etree.SubElement(root.find("s:Header", NS), "{urn:evil}Wrapper")
    wrapper.append(copy.deepcopy(body))
    body.attrib.pop(WSU_ID)
    _tamper_body(root)


def _wrap_body_keep_id(root: etree._Element) -> None:
    """Wrapping with the forged Body keeping the signed Id: duplicated Ids."""
    body = root.find("s:Body", NS)
    wrapper = etree.SubElement(root.find("s:Header", NS), "{urn:evil}Wrapper")
    wrapper.append(copy.deepcopy(body))
    _tamper_body(root)


def _sign_other_element(root: etree._Element) -> None:
    """Signature references an element that is neither Body nor Timestamp nor token."""
    security = root.find("s:Header/wsse:Security", NS)
    stamp = security.find("wsu:Timestamp", NS)
    decoy = etree.SubElement(root.find("s:Header", NS), "{urn:evil}Decoy")
    decoy.append(copy.deepcopy(stamp))
    security.remove(stamp)


def _second_body(root: etree._Element) -> None:
    root.append(copy.deepcopy(root.find("s:Body", NS)))


def _second_signature(root: etree._Element) -> None:
    security = root.find("s:Header/wsse:Security", NS)
    security.append(copy.deepcopy(security.find("ds:Signature", NS)))


def _drop_signature(root: etree._Element) -> None:
    security = root.find("s:Header/wsse:Security", NS)
    security.remove(security.find("ds:Signature", NS))


def _swap_token(root: etree._Element, pki: SandboxPki) -> None:
    import base64

    from cryptography.hazmat.primitives.serialization import Encoding

    token = root.find("s:Header/wsse:Security/wsse:BinarySecurityToken", NS)
    token.text = base64.b64encode(
        pki.practitioner("jan").certificate.public_bytes(Encoding.DER)
    ).decode()


ATTACKS: dict[str, Callable[[etree._Element], None]] = {
    "tampered body": _tamper_body,
    "wrapped body in header": _wrap_body,
    "wrapped body with duplicated id": _wrap_body_keep_id,
    "signature over a decoy element": _sign_other_element,
    "second body": _second_body,
    "second signature": _second_signature,
    "signature removed": _drop_signature,
}


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_refuses_the_attack_corpus(sandbox_pki: SandboxPki, attack: str) -> None:
    root = etree.fromstring(signed_x509(sandbox_pki))
    ATTACKS[attack](root)
    with pytest.raises(SignatureError):
        verify(sandbox_pki, etree.tostring(root))


def test_refuses_a_token_swapped_for_another_certificate(sandbox_pki: SandboxPki) -> None:
    root = etree.fromstring(signed_x509(sandbox_pki))
    _swap_token(root, sandbox_pki)
    with pytest.raises(SignatureError, match="does not verify"):
        verify(sandbox_pki, etree.tostring(root))


def test_refuses_an_envelope_missing_a_required_signed_part(sandbox_pki: SandboxPki) -> None:
    sarah = sandbox_pki.practitioner("sarah")
    data = signed_saml(sandbox_pki, assertion_for(sandbox_pki, sarah), sarah)
    with pytest.raises(SignatureError, match="unsigned parts"):
        verify(sandbox_pki, data, expected=("Body", "Timestamp", "BinarySecurityToken"))


@pytest.mark.parametrize("offset", [timedelta(minutes=11), -timedelta(minutes=6)])
def test_refuses_a_stale_or_future_timestamp(sandbox_pki: SandboxPki, offset: timedelta) -> None:
    with pytest.raises(SignatureError, match="stale"):
        verify(sandbox_pki, signed_x509(sandbox_pki), now=NOW + offset)


def test_accepts_a_timestamp_within_the_clock_skew(sandbox_pki: SandboxPki) -> None:
    verify(sandbox_pki, signed_x509(sandbox_pki), now=NOW - timedelta(minutes=4))


def test_refuses_a_signer_outside_the_truststore(sandbox_pki: SandboxPki) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = derive_rsa_key("intruder", "self-signed")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SSIN=80021512354")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    data = etree.tostring(sign_envelope(_envelope(), Credential(cert, key), now=NOW))
    with pytest.raises(SignatureError, match="trusted root"):
        verify(sandbox_pki, data)


def test_refuses_an_expired_signing_certificate(sandbox_pki: SandboxPki) -> None:
    sarah = sandbox_pki.practitioner("sarah")
    expired = sandbox_pki.issue(
        sarah, not_before=NOW - timedelta(days=30), not_after=NOW - timedelta(days=1)
    )
    data = etree.tostring(sign_envelope(_envelope(), expired, now=NOW))
    with pytest.raises(SignatureError, match="not valid"):
        verify(sandbox_pki, data)


def test_refuses_a_forged_assertion(sandbox_pki: SandboxPki) -> None:
    sarah = sandbox_pki.practitioner("sarah")
    forged = assertion_for(sandbox_pki, sarah, signer=sandbox_pki.practitioner("jan"))
    with pytest.raises(TokenError, match=r"trusted STS") as caught:
        saml.verify_assertion(
            forged, trusted=sandbox_pki.truststore, sts=[sandbox_pki.sts.certificate], now=NOW
        )
    assert caught.value.code == "forged"


def test_refuses_an_assertion_altered_after_signing(sandbox_pki: SandboxPki) -> None:
    sarah = sandbox_pki.practitioner("sarah")
    assertion = assertion_for(sandbox_pki, sarah)
    assertion.find(f".//{{{saml.SAML11_NS}}}AttributeValue").text = "false"
    with pytest.raises(TokenError, match="signature invalid"):
        saml.verify_assertion(
            assertion, trusted=sandbox_pki.truststore, sts=[sandbox_pki.sts.certificate], now=NOW
        )


def test_refuses_an_expired_assertion_in_an_envelope(sandbox_pki: SandboxPki) -> None:
    sarah = sandbox_pki.practitioner("sarah")
    data = signed_saml(
        sandbox_pki, assertion_for(sandbox_pki, sarah, life=timedelta(minutes=1)), sarah
    )
    later = NOW + timedelta(minutes=7)
    with pytest.raises(TokenError, match="expired"):
        saml.verify_assertion(
            etree.fromstring(data).find(f".//{{{saml.SAML11_NS}}}Assertion"),
            trusted=sandbox_pki.truststore,
            sts=[sandbox_pki.sts.certificate],
            now=later,
        )


def test_refuses_an_assertion_used_with_another_holder_key(sandbox_pki: SandboxPki) -> None:
    sarah, jan = sandbox_pki.practitioner("sarah"), sandbox_pki.practitioner("jan")
    data = signed_saml(sandbox_pki, assertion_for(sandbox_pki, sarah), jan)
    with pytest.raises(SignatureError, match="does not verify"):
        verify(sandbox_pki, data)
    with pytest.raises(TokenError, match="another holder"):
        saml.verify_assertion(
            assertion_for(sandbox_pki, sarah),
            trusted=sandbox_pki.truststore,
            sts=[sandbox_pki.sts.certificate],
            now=NOW,
            holder=jan.certificate,
        )


HOSTILE = {
    "entity expansion": b'<?xml version="1.0"?>'
    b'<!DOCTYPE s [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&b;</soapenv:Body></soapenv:Envelope>',
    "external dtd": b'<?xml version="1.0"?><!DOCTYPE s SYSTEM "http://evil.example/x.dtd">'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>',
    "external entity": b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&x;</soapenv:Body></soapenv:Envelope>',
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_refuses_hostile_xml_before_any_signature_work(sandbox_pki: SandboxPki, name: str) -> None:
    with pytest.raises(HostileXmlError):
        verify(sandbox_pki, HOSTILE[name])


def test_every_refusal_is_a_security_error(sandbox_pki: SandboxPki) -> None:
    with pytest.raises(SecurityError):
        verify(sandbox_pki, BODY)


@settings(max_examples=25, deadline=None)
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=200))
def test_any_body_text_survives_sign_and_verify_and_any_change_is_caught(
    sandbox_pki: SandboxPki, text: str
) -> None:
    envelope = _envelope()
    envelope.find(".//{urn:x}Value").text = text
    data = etree.tostring(sign_envelope(envelope, sandbox_pki.practitioner("marie"), now=NOW))
    verify(sandbox_pki, data)
    tampered = etree.fromstring(data)
    tampered.find(".//{urn:x}Value").text = text + "!"
    with pytest.raises(SignatureError):
        verify(sandbox_pki, etree.tostring(tampered))
