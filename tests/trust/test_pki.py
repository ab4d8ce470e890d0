"""The sandbox PKI: deterministic keys, eHealth-style subjects, keystores, chains."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from ehealth_hub.core.errors import ConfigurationError, SignatureError
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.drbg import derive_rsa_key
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.trust.credentials import Credential, verify_chain
from ehealth_hub.trust.etee import EtkId

NOW = datetime(2026, 3, 2, tzinfo=UTC)


def test_derives_the_same_key_from_the_same_seed_and_label() -> None:
    first = derive_rsa_key("seed-a", "label", bits=1024)
    again = derive_rsa_key("seed-a", "label", bits=1024)
    other = derive_rsa_key("seed-b", "label", bits=1024)
    assert first.private_numbers() == again.private_numbers()
    assert first.private_numbers() != other.private_numbers()
    assert first.key_size == 1024


def test_reuses_the_files_when_present(sandbox_pki: SandboxPki) -> None:
    cert_file = sandbox_pki.directory / "sts/sts.crt.pem"
    before = os.stat(cert_file).st_mtime_ns
    again = SandboxPki.load_or_create(sandbox_pki.directory)
    assert os.stat(cert_file).st_mtime_ns == before
    assert again.sts.thumbprint == sandbox_pki.sts.thumbprint


@pytest.mark.parametrize("who", sandbox.PRACTITIONERS, ids=lambda p: p.key)
def test_issues_each_practitioner_an_ehealth_style_certificate(
    sandbox_pki: SandboxPki, who: sandbox.Practitioner
) -> None:
    credential = sandbox_pki.practitioner(who.key)
    assert credential.subject_value("SSIN") == who.ssin
    assert credential.subject_value("NIHII") == who.nihii
    assert "eHealth-platform Belgium" in credential.certificate.subject.rfc4514_string()
    verify_chain(
        credential.certificate, credential.chain, trusted=sandbox_pki.trusted_roots, now=NOW
    )


def test_opens_the_practitioner_keystore_with_its_passphrase_only(sandbox_pki: SandboxPki) -> None:
    data = sandbox_pki.practitioner_p12("sarah").read_bytes()
    opened = Credential.from_pkcs12(data, sandbox_pki.p12_passphrase)
    assert opened.thumbprint == sandbox_pki.practitioner("sarah").thumbprint
    with pytest.raises(ConfigurationError, match="cannot be opened"):
        Credential.from_pkcs12(data, "not-the-passphrase")


def test_has_etks_for_gps_hubs_mycarenet_and_the_hub(sandbox_pki: SandboxPki) -> None:
    etks = sandbox_pki.etks
    for gp in (p for p in sandbox.PRACTITIONERS if p.role == "gp"):
        assert etks[EtkId("SSIN", gp.ssin)] is etks[EtkId("NIHII", gp.nihii)]
    for hub in sandbox.HUBS:
        assert etks[EtkId("EHP", hub.hub_id)].subject_value("EHP") == hub.hub_id
    assert "MYCARENET" in sandbox_pki.mycarenet_etk.certificate.subject.rfc4514_string()
    assert sandbox_pki.mycarenet_etk.subject_value("CBE") == "0820563481"
    assert sandbox_pki.hub_etk is not sandbox_pki.mycarenet_etk
    assert sandbox_pki.hub_tls.certificate.subject.rfc4514_string() == "CN=localhost"


def test_refuses_an_expired_certificate_in_a_chain(sandbox_pki: SandboxPki) -> None:
    sarah = sandbox_pki.practitioner("sarah")
    expired = sandbox_pki.issue(
        sarah, not_before=NOW - timedelta(days=400), not_after=NOW - timedelta(days=1)
    )
    with pytest.raises(SignatureError, match="not valid"):
        verify_chain(expired.certificate, expired.chain, trusted=sandbox_pki.truststore, now=NOW)


def test_refuses_a_certificate_outside_the_trusted_roots(sandbox_pki: SandboxPki) -> None:
    sts = sandbox_pki.sts
    with pytest.raises(SignatureError, match="does not chain"):
        verify_chain(sts.certificate, (), trusted=sandbox_pki.trusted_roots, now=NOW)


def test_refuses_a_key_that_does_not_match_the_certificate(sandbox_pki: SandboxPki) -> None:
    with pytest.raises(ConfigurationError, match="does not match"):
        Credential(sandbox_pki.sts.certificate, sandbox_pki.hub_tls.private_key)
