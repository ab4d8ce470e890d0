"""XAdES-BES of the care provider on eAttest and eFact (GenericAsync post): signed by the hub with
the practitioner's key, verified by the MyCareNet simulator (valid, chained, the care provider's,
fresh), refused with the simulator's SOAP fault when missing or invalid; interop with xmlsec1."""

from __future__ import annotations

import base64
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from ehealth_hub.connectors.mycarenet.attest import FHIR_JSON
from ehealth_hub.core.errors import BusinessRejection, SignatureError
from ehealth_hub.core.mycarenet_types import CareProvider, InsurabilityFacts
from ehealth_hub.core.xml import SOAP11_NS
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.fixtures.sim_mycarenet_base import XADES_INVALID, XADES_MISSING
from ehealth_hub.mappings import mycarenet_attest as attest_map
from ehealth_hub.trust import xades
from ehealth_hub.trust.credentials import Credential
from tests.mycarenet.claims_data import app_claim
from tests.mycarenet.conftest import MyCareNet, actor

ON = date(2026, 11, 23)
SARAH = actor("sarah")
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


async def _message(mycarenet: MyCareNet, claim_id: str) -> tuple[dict[str, Any], InsurabilityFacts]:
    facts = await mycarenet.memberdata.consult(SARAH, "85031212362", ON)
    claim = attest_map.read_app_claim(app_claim(claim_id))
    message = attest_map.create_request(
        claim,
        CareProvider(SARAH.nihii, "doctor", "Sarah", "Vermeulen"),
        facts,
        message_id=f"6d1f0a5e-3c0e-4c55-9a62-0e8d7c1a2b{claim_id[-2:]}",
        now=mycarenet.sim.clock(),
    )
    return message, facts


async def _send_raw(
    mycarenet: MyCareNet, message: dict[str, Any], facts: InsurabilityFacts, signature: Any
) -> Any:
    """sendAttestation as the adapter builds it, with ``signature`` as the Xades element."""
    import json

    client, envelope = mycarenet.attest, mycarenet.envelope
    detail = await envelope.detail(json.dumps(message).encode(), content_type=FHIR_JSON)
    xades_value = await signature(detail) if callable(signature) else signature
    body: dict[str, Any] = {
        **client.request_attributes(),
        "CommonInput": envelope.common_input(SARAH, "ref-1"),
        "Routing": envelope.routing(reference_date=ON, mutuality=facts.mutuality, ssin=facts.ssin),
        "Detail": detail,
    }
    if xades_value is not None:
        body["Xades"] = xades_value
    return await client.call(SARAH, "sendAttestation", **body)


def _stranger(pki: SandboxPki) -> Credential:
    """A key and self-signed certificate naming Sarah's NIHII, outside the sandbox PKI."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"NIHII-PHYSICIAN={SARAH.nihii}"),
            x509.NameAttribute(NameOID.COMMON_NAME, "SSIN=80021512354"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return Credential(cert, key)


async def test_an_attestation_with_the_care_providers_xades_is_accepted(
    mycarenet: MyCareNet, pki: SandboxPki
) -> None:
    message, facts = await _message(mycarenet, "x-01")
    answer = await mycarenet.attest.send(SARAH, message, facts=facts, on=ON)
    assert attest_map.read_response(answer).accepted
    envelope = etree.fromstring(mycarenet.sim.attest.received[-1].envelope)
    body = envelope.find(f"{{{SOAP11_NS}}}Body")[0]  # type: ignore[index]
    node = next(c for c in body if etree.QName(c).localname == "Xades")
    detail = next(c for c in body if etree.QName(c).localname == "Detail")
    verified = xades.verify_detail(
        base64.b64decode(node.text or ""),
        detail,
        truststore=pki.truststore,
        now=mycarenet.sim.clock(),
        care_provider=SARAH.nihii,
    )
    assert verified.certificate == pki.practitioner("sarah").certificate
    assert verified.signing_time == mycarenet.sim.clock()


async def test_an_attestation_without_xades_is_refused_and_nothing_attested(
    mycarenet: MyCareNet,
) -> None:
    message, facts = await _message(mycarenet, "x-02")
    with pytest.raises(BusinessRejection) as refused:
        await _send_raw(mycarenet, message, facts, None)
    assert refused.value.code == XADES_MISSING
    assert mycarenet.sim.book.attestations == {}


async def test_a_tampered_xades_is_refused(mycarenet: MyCareNet, pki: SandboxPki) -> None:
    message, facts = await _message(mycarenet, "x-03")
    sarah = pki.practitioner("sarah")

    async def over_other_content(detail: dict[str, Any]) -> bytes:
        return xades.sign_detail(b"other content", detail["Id"], sarah, now=NOW)

    with pytest.raises(BusinessRejection) as refused:
        await _send_raw(mycarenet, message, facts, over_other_content)
    assert refused.value.code == XADES_INVALID

    async def flipped_signature_value(detail: dict[str, Any]) -> bytes:
        signed = etree.fromstring(await mycarenet.envelope.xades(detail, sarah))
        value = signed.find(f"{{{xades.DS}}}SignatureValue")
        assert value is not None
        assert value.text
        raw = bytearray(base64.b64decode(value.text))
        raw[10] ^= 0x01
        value.text = base64.b64encode(bytes(raw)).decode()
        return bytes(etree.tostring(signed))

    with pytest.raises(BusinessRejection) as refused:
        await _send_raw(mycarenet, message, facts, flipped_signature_value)
    assert refused.value.code == XADES_INVALID
    assert mycarenet.sim.book.attestations == {}


@pytest.mark.parametrize("who", ["another practitioner", "a key outside the PKI"])
async def test_a_xades_by_a_foreign_key_is_refused(
    mycarenet: MyCareNet, pki: SandboxPki, who: str
) -> None:
    message, facts = await _message(mycarenet, "x-04")
    signer = pki.practitioner("jan") if who == "another practitioner" else _stranger(pki)

    async def foreign(detail: dict[str, Any]) -> bytes:
        return await mycarenet.envelope.xades(detail, signer)

    with pytest.raises(BusinessRejection) as refused:
        await _send_raw(mycarenet, message, facts, foreign)
    assert refused.value.code == XADES_INVALID
    assert mycarenet.sim.book.attestations == {}


async def test_a_stale_xades_is_refused(mycarenet: MyCareNet, pki: SandboxPki) -> None:
    message, facts = await _message(mycarenet, "x-05")

    async def yesterday(detail: dict[str, Any]) -> bytes:
        old = mycarenet.sim.clock() - timedelta(days=1)
        return xades.sign_detail(
            detail["_value_1"], detail["Id"], pki.practitioner("sarah"), now=old
        )

    with pytest.raises(BusinessRejection) as refused:
        await _send_raw(mycarenet, message, facts, yesterday)
    assert refused.value.code == XADES_INVALID


async def test_an_efact_post_without_xades_t_is_refused(mycarenet: MyCareNet) -> None:
    envelope = mycarenet.envelope
    detail = await envelope.detail(b"920000", content_type="text/plain", message_name="920000")
    with pytest.raises(BusinessRejection) as refused:
        await mycarenet.efact.call(
            SARAH, "post", CommonInput=envelope.common_input(SARAH, "1"), Detail=detail
        )
    assert refused.value.code == XADES_MISSING
    assert mycarenet.sim.posted == set()


def test_verification_names_what_is_wrong(pki: SandboxPki) -> None:
    sarah = pki.practitioner("sarah")
    signature = xades.sign_detail(b"sealed", "Detail-1", sarah, now=NOW)
    detail = etree.Element("Detail", Id="Detail-1")
    detail.text = base64.b64encode(b"sealed").decode()
    check = {"truststore": pki.truststore, "care_provider": SARAH.nihii}
    assert xades.verify_detail(signature, detail, now=NOW, **check).nihii == SARAH.nihii  # type: ignore[arg-type]
    with pytest.raises(SignatureError) as stale:
        xades.verify_detail(signature, detail, now=NOW + timedelta(hours=1), **check)  # type: ignore[arg-type]
    assert stale.value.code == "xades-stale"
    with pytest.raises(SignatureError) as foreign:
        xades.verify_detail(
            signature, detail, now=NOW, truststore=pki.truststore, care_provider="23456776003"
        )
    assert foreign.value.code == "xades-foreign-signer"
    other = etree.Element("Detail", Id="Detail-2")
    other.text = detail.text
    with pytest.raises(SignatureError) as elsewhere:
        xades.verify_detail(signature, other, now=NOW, **check)  # type: ignore[arg-type]
    assert elsewhere.value.code == "xades-invalid"


def test_names_its_signer_with_the_xades_1_3_2_signing_certificate(pki: SandboxPki) -> None:
    sarah = pki.practitioner("sarah").certificate
    signature = etree.fromstring(
        xades.sign_detail(b"sealed", "Detail-1", pki.practitioner("sarah"), now=NOW)
    )
    ns = {"x": xades.XADES, "ds": xades.DS}
    props = "ds:Object/x:QualifyingProperties/x:SignedProperties/x:SignedSignatureProperties"
    assert signature.find(f"{props}/x:SigningCertificateV2", ns) is None  # not in XAdES 1.3.2
    cert = signature.find(f"{props}/x:SigningCertificate/x:Cert", ns)
    assert cert is not None
    assert (
        cert.findtext("x:CertDigest/ds:DigestValue", namespaces=ns)
        == base64.b64encode(sarah.fingerprint(hashes.SHA256())).decode()
    )
    assert cert.findtext("x:IssuerSerial/ds:X509SerialNumber", namespaces=ns) == str(
        sarah.serial_number
    )
    assert cert.findtext("x:IssuerSerial/ds:X509IssuerName", namespaces=ns) == (
        sarah.issuer.rfc4514_string()
    )


def test_a_person_certificate_without_nihii_must_name_the_care_providers_ssin() -> None:
    root_key, leaf_key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in "ab"
    )
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Root")])
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SSIN=80021512354")])

    def certificate(subject: x509.Name, key: rsa.RSAPrivateKey, ca: bool) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(root_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=1))
            .not_valid_after(NOW + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(root_key, hashes.SHA256())
        )

    root = certificate(root_name, root_key, ca=True)
    person = Credential(certificate(leaf_name, leaf_key, ca=False), leaf_key)
    signature = xades.sign_detail(b"sealed", "Detail-1", person, now=NOW)
    detail = etree.Element("Detail", Id="Detail-1")
    detail.text = base64.b64encode(b"sealed").decode()
    check: dict[str, Any] = {"truststore": (root,), "now": NOW, "care_provider": SARAH.nihii}
    verified = xades.verify_detail(signature, detail, care_provider_ssin="80021512354", **check)
    assert verified.nihii is None
    for ssin in ("65050511172", None):
        with pytest.raises(SignatureError) as foreign:
            xades.verify_detail(signature, detail, care_provider_ssin=ssin, **check)
        assert foreign.value.code == "xades-foreign-signer"


def test_a_wrapped_xades_is_refused(pki: SandboxPki) -> None:
    signature = etree.fromstring(
        xades.sign_detail(b"what was signed", "Detail-1", pki.practitioner("sarah"), now=NOW)
    )
    hidden = etree.SubElement(signature, f"{{{xades.DS}}}Object")
    decoy = etree.SubElement(hidden, "Detail", Id="Detail-1")
    decoy.text = base64.b64encode(b"what was signed").decode()
    sent = etree.Element("Detail", Id="Detail-1")
    sent.text = base64.b64encode(b"what is sent instead").decode()
    with pytest.raises(SignatureError) as wrapped:
        xades.verify_detail(
            etree.tostring(signature),
            sent,
            now=NOW,
            truststore=pki.truststore,
            care_provider=SARAH.nihii,
        )
    assert wrapped.value.code == "xades-invalid"


def test_xmlsec1_verifies_the_xades_with_the_sandbox_trust_anchors(
    pki: SandboxPki, tmp_path: Path
) -> None:
    if shutil.which("xmlsec1") is None:
        pytest.skip("xmlsec1 is not installed (Debian package xmlsec1; `make test` installs it)")
    signature = xades.sign_detail(b"sealed", "Detail-1", pki.practitioner("sarah"), now=NOW)
    holder = etree.Element("Holder")
    detail = etree.SubElement(holder, f"{{{xades.DETAIL_NS}}}Detail", Id="Detail-1")
    detail.text = base64.b64encode(b"sealed").decode()
    holder.append(etree.fromstring(signature))
    document = tmp_path / "xades.xml"
    document.write_bytes(etree.tostring(holder))
    anchors = []
    for i, cert in enumerate(pki.truststore):
        path = tmp_path / f"anchor{i}.pem"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        anchors += ["--trusted-pem", str(path)]
    ids = [f"{xades.DETAIL_NS}:Detail", f"{xades.XADES}:SignedProperties", f"{xades.DS}:KeyInfo"]
    command = ["xmlsec1", "--verify", *anchors]
    command += [arg for i in ids for arg in ("--id-attr:Id", i)]
    command += ["--verification-gmt-time", NOW.strftime("%Y-%m-%d+%H:%M:%S"), str(document)]
    result = _xmlsec1(command)
    assert result.returncode == 0, result.stderr
    assert "References (ok/all): 3/3" in result.stdout + result.stderr
    detail.text = base64.b64encode(b"tampered").decode()
    document.write_bytes(etree.tostring(holder))
    assert _xmlsec1(command).returncode != 0


def _xmlsec1(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)  # noqa: S603  # fixed binary, test-owned arguments
