"""Signature wrapping (XSW) and truncation corpus: envelopes carrying a genuine signature by a
trusted key, rearranged so that what a reader takes for signed is not what was signed. Each is
refused by ``verify_envelope`` (and SAML assertions by ``verify_assertion``).

Several cases re-sign SignedInfo with the legitimate key after the change ("a genuine signature
over Timestamp and token"), so that only the structural checks stand between the envelope and
acceptance.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from ehealth_hub.core.errors import SecurityError, SignatureError, TokenError
from ehealth_hub.core.xml import DSIG_NS, SOAP11_NS, WSSE_NS, WSU_NS
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.trust import saml
from ehealth_hub.trust.saml_cache import VerifiedSignatures
from ehealth_hub.trust.wsse import sign_envelope, verify_envelope
from ehealth_hub.trust.wsse_dsig import exclusive_c14n

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NS = {"s": SOAP11_NS, "wsse": WSSE_NS, "wsu": WSU_NS, "ds": DSIG_NS}
WSU_ID = f"{{{WSU_NS}}}Id"
SIGNATURE = "s:Header/wsse:Security/ds:Signature"
ENVELOPE = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    b'<soapenv:Body><m:Answer xmlns:m="urn:x"><m:Decision>refused</m:Decision>'
    b"<m:Patient>11530231003</m:Patient></m:Answer></soapenv:Body></soapenv:Envelope>"
)
Attack = Callable[[etree._Element, SandboxPki], None]


def _signed(pki: SandboxPki, body: bytes = ENVELOPE) -> etree._Element:
    return sign_envelope(etree.fromstring(body), pki.practitioner("sarah"), now=NOW)


def _resign(root: etree._Element, pki: SandboxPki) -> None:
    """Sign the (first) SignedInfo again as it now stands, with the legitimate key."""
    signature = root.find(SIGNATURE, NS)
    data = exclusive_c14n(signature.find("ds:SignedInfo", NS))
    value = pki.practitioner("sarah").private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    signature.find("ds:SignatureValue", NS).text = base64.b64encode(value).decode()


def _body_reference(root: etree._Element) -> etree._Element:
    body_id = root.find("s:Body", NS).get(WSU_ID)
    return root.find(f"{SIGNATURE}/ds:SignedInfo/ds:Reference[@URI='#{body_id}']", NS)


def _forge_body(root: etree._Element) -> None:
    root.find(".//{urn:x}Decision").text = "permitted"


def _second_signed_info(root: etree._Element, pki: SandboxPki) -> None:
    """The issue's case: SignedInfo genuinely signs Timestamp and token only; an appended,
    unverified second SignedInfo names the (changed) Body."""
    first = root.find(f"{SIGNATURE}/ds:SignedInfo", NS)
    extra = etree.SubElement(root.find(SIGNATURE, NS), f"{{{DSIG_NS}}}SignedInfo")
    extra.append(_body_reference(root))  # moves it out of the verified SignedInfo
    assert len(first.findall("ds:Reference", NS)) == 2
    _resign(root, pki)
    _forge_body(root)


def _second_signed_info_before_value(root: etree._Element, pki: SandboxPki) -> None:
    _second_signed_info(root, pki)
    signature = root.find(SIGNATURE, NS)
    signature.insert(1, signature[-1])


def _body_under_object(root: etree._Element, pki: SandboxPki) -> None:
    """XSW: the signed Body moves under ds:Object (keeping its Id); a forged Body replaces it."""
    body = root.find("s:Body", NS)
    holder = etree.SubElement(root.find(SIGNATURE, NS), f"{{{DSIG_NS}}}Object")
    holder.append(copy.deepcopy(body))
    body.attrib.pop(WSU_ID)
    _forge_body(root)


def _empty_object(root: etree._Element, pki: SandboxPki) -> None:
    etree.SubElement(root.find(SIGNATURE, NS), f"{{{DSIG_NS}}}Object")


def _body_wrapped_in_security(root: etree._Element, pki: SandboxPki) -> None:
    """XSW1/2: the signed Body (with its Id) moves into the Security header."""
    body = root.find("s:Body", NS)
    root.find("s:Header/wsse:Security", NS).append(copy.deepcopy(body))
    body.attrib.pop(WSU_ID)
    _forge_body(root)


def _body_id_duplicated(root: etree._Element, pki: SandboxPki) -> None:
    """XSW3/4: the signed Body copied into the header, the forged Body keeps the same Id."""
    body = root.find("s:Body", NS)
    etree.SubElement(root.find("s:Header", NS), "{urn:evil}W").append(copy.deepcopy(body))
    _forge_body(root)


def _timestamp_moved_out(root: etree._Element, pki: SandboxPki) -> None:
    """XSW5-8 style on the Timestamp: the signed one moves outside Security, a fresh one without
    Id takes its place."""
    security = root.find("s:Header/wsse:Security", NS)
    stamp = security.find("wsu:Timestamp", NS)
    etree.SubElement(root.find("s:Header", NS), "{urn:evil}W").append(copy.deepcopy(stamp))
    stamp.attrib.pop(WSU_ID)


def _duplicated_timestamp_id(root: etree._Element, pki: SandboxPki) -> None:
    stamp = root.find("s:Header/wsse:Security/wsu:Timestamp", NS)
    root.find(".//{urn:x}Decision").set(WSU_ID, stamp.get(WSU_ID))


def _body_reference_dropped(root: etree._Element, pki: SandboxPki) -> None:
    """Truncation: the Body reference removed and SignedInfo re-signed: the Body is unsigned."""
    reference = _body_reference(root)
    reference.getparent().remove(reference)
    _resign(root, pki)
    _forge_body(root)


def _reference_to_a_header_element(root: etree._Element, pki: SandboxPki) -> None:
    """A Reference outside the expected set (an extra header element), genuinely re-signed."""
    extra = etree.SubElement(root.find("s:Header", NS), "{urn:evil}Note", {WSU_ID: "note"})
    extra.text = "signed note"
    reference = copy.deepcopy(_body_reference(root))
    reference.set("URI", "#note")
    root.find(f"{SIGNATURE}/ds:SignedInfo", NS).append(reference)
    _resign(root, pki)


def _signature_value_truncated(root: etree._Element, pki: SandboxPki) -> None:
    value = root.find(f"{SIGNATURE}/ds:SignatureValue", NS)
    value.text = value.text[: len(value.text) // 2]


ATTACKS: dict[str, Attack] = {
    "second SignedInfo naming the body": _second_signed_info,
    "second SignedInfo before SignatureValue": _second_signed_info_before_value,
    "body moved under ds:Object": _body_under_object,
    "ds:Object in the signature": _empty_object,
    "body wrapped in the Security header": _body_wrapped_in_security,
    "body id duplicated in a header wrapper": _body_id_duplicated,
    "timestamp moved out of Security": _timestamp_moved_out,
    "timestamp id duplicated in the body": _duplicated_timestamp_id,
    "body reference dropped": _body_reference_dropped,
    "reference to an element outside the expected set": _reference_to_a_header_element,
    "signature value truncated": _signature_value_truncated,
}


def _verify(pki: SandboxPki, envelope: etree._Element | bytes) -> object:
    return verify_envelope(envelope, trusted=pki.truststore, sts=[pki.sts.certificate], now=NOW)


def test_the_untouched_envelope_verifies(sandbox_pki: SandboxPki) -> None:
    assert _verify(sandbox_pki, etree.tostring(_signed(sandbox_pki)))


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_a_wrapped_or_truncated_envelope_is_refused(sandbox_pki: SandboxPki, attack: str) -> None:
    root = _signed(sandbox_pki)
    ATTACKS[attack](root, sandbox_pki)
    with pytest.raises(SignatureError):
        _verify(sandbox_pki, etree.tostring(root))


def _with_hidden_node(node: etree._Element) -> bytes:
    envelope = etree.fromstring(ENVELOPE)
    patient = envelope.find(".//{urn:x}Patient")
    patient.text = "1153"
    node.tail = "0231003"
    patient.append(node)
    return etree.tostring(envelope)


@pytest.mark.parametrize(
    "node",
    [etree.Comment("c"), etree.ProcessingInstruction("x", "y")],
    ids=["comment", "processing instruction"],
)
def test_a_comment_or_pi_splitting_signed_text_is_refused(
    sandbox_pki: SandboxPki, node: etree._Element
) -> None:
    """Signed as 11530231003, read by lxml as 1153: the legitimate signer's own envelope."""
    envelope = _signed(sandbox_pki, _with_hidden_node(node))
    with pytest.raises(SignatureError, match="comment or processing instruction"):
        _verify(sandbox_pki, envelope)  # the tree: a PI survives only outside parse_xml


def test_a_comment_splitting_the_signed_timestamp_is_refused(sandbox_pki: SandboxPki) -> None:
    root = _signed(sandbox_pki)
    expires = root.find("s:Header/wsse:Security/wsu:Timestamp/wsu:Expires", NS)
    head, tail = expires.text[:4], expires.text[4:]
    expires.text = head
    comment = etree.Comment("x")
    comment.tail = tail
    expires.append(comment)
    with pytest.raises(SecurityError, match="comment or processing instruction"):
        _verify(sandbox_pki, etree.tostring(root))


def _assertion_with_comment(pki: SandboxPki, where: str) -> etree._Element:
    unsigned = saml.build_assertion(
        assertion_id="_c1",
        issuer="urn:be:fgov:ehealth:sts:1_0",
        holder=pki.practitioner("sarah").certificate,
        attributes=[(saml.CERTIFIED_NS, "urn:be:fgov:person:ssin", "11530231003")],
        now=NOW,
        lifetime=timedelta(hours=1),
    )
    target = unsigned.find(f".//{{{saml.SAML11_NS}}}{where}")
    target.text = target.text[:4]
    comment = etree.Comment("c")
    comment.tail = "0231003"
    target.append(comment)
    return saml.sign_assertion(unsigned, pki.sts)


@pytest.mark.parametrize("where", ["AttributeValue", "NameIdentifier"])
def test_a_signed_assertion_with_a_comment_inside_a_value_is_refused(
    sandbox_pki: SandboxPki, where: str
) -> None:
    """``1153<!--c-->0231003`` verifies as signed but would be read as ``1153``."""
    assertion = _assertion_with_comment(sandbox_pki, where)
    with pytest.raises(TokenError, match="comment or processing instruction"):
        saml.verify_assertion(
            assertion,
            trusted=sandbox_pki.truststore,
            sts=[sandbox_pki.sts.certificate],
            now=NOW,
            signatures=VerifiedSignatures(),
        )
