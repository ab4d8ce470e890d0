"""The memory of verified STS signatures: a hit skips signxml, never a check that can fail."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from lxml import etree

from ehealth_hub.core.errors import TokenError
from ehealth_hub.core.xml import SAML11_NS
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.trust import saml
from ehealth_hub.trust.saml_cache import VerifiedSignatures

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def signed(
    pki: SandboxPki, assertion_id: str = "_a1", life: timedelta = timedelta(hours=1)
) -> etree._Element:
    unsigned = saml.build_assertion(
        assertion_id=assertion_id,
        issuer="urn:be:fgov:ehealth:sts:1_0",
        holder=pki.practitioner("sarah").certificate,
        attributes=[(saml.CERTIFIED_NS, "urn:be:fgov:person:ssin:doctor:boolean", "true")],
        now=NOW,
        lifetime=life,
    )
    return saml.sign_assertion(unsigned, pki.sts)


def verify(
    pki: SandboxPki,
    assertion: etree._Element,
    cache: VerifiedSignatures,
    *,
    trusted: Sequence[x509.Certificate] | None = None,
    sts: Sequence[x509.Certificate] | None = None,
    now: datetime = NOW,
    holder: x509.Certificate | None = None,
) -> saml.VerifiedAssertion:
    return saml.verify_assertion(
        assertion,
        trusted=pki.truststore if trusted is None else trusted,
        sts=[pki.sts.certificate] if sts is None else sts,
        now=now,
        holder=holder,
        signatures=cache,
    )


def test_serves_a_repeated_assertion_without_verifying_its_signature_again(
    sandbox_pki: SandboxPki,
) -> None:
    cache = VerifiedSignatures()
    assertion = signed(sandbox_pki)
    first = verify(sandbox_pki, assertion, cache)
    again = verify(sandbox_pki, etree.fromstring(etree.tostring(assertion)), cache)
    assert (cache.misses, cache.hits, len(cache)) == (1, 1, 1)
    assert again == first


def test_refuses_a_tampered_assertion_after_the_genuine_one_was_cached(
    sandbox_pki: SandboxPki,
) -> None:
    cache = VerifiedSignatures()
    genuine = signed(sandbox_pki)
    verify(sandbox_pki, genuine, cache)
    tampered = copy.deepcopy(genuine)
    value = tampered.find(f".//{{{SAML11_NS}}}AttributeValue")
    assert value is not None
    value.text = "false"
    with pytest.raises(TokenError, match="signature invalid") as caught:
        verify(sandbox_pki, tampered, cache)
    assert caught.value.code == "forged"
    assert (cache.hits, len(cache)) == (0, 1)


def test_does_not_serve_an_entry_under_another_trust_configuration(
    sandbox_pki: SandboxPki,
) -> None:
    cache = VerifiedSignatures()
    assertion = signed(sandbox_pki)
    verify(sandbox_pki, assertion, cache)
    other_sts = sandbox_pki.practitioner("jan").certificate
    with pytest.raises(TokenError, match="trusted STS"):
        verify(sandbox_pki, assertion, cache, sts=[other_sts])
    verify(sandbox_pki, assertion, cache, sts=[sandbox_pki.sts.certificate, other_sts])
    verify(sandbox_pki, assertion, cache, trusted=sandbox_pki.trusted_roots)
    assert (cache.hits, cache.misses, len(cache)) == (0, 4, 3)


def test_refuses_an_expired_assertion_even_when_its_signature_is_cached(
    sandbox_pki: SandboxPki,
) -> None:
    cache = VerifiedSignatures()
    assertion = signed(sandbox_pki)
    verify(sandbox_pki, assertion, cache)
    with pytest.raises(TokenError, match="expired") as caught:
        verify(sandbox_pki, assertion, cache, now=NOW + timedelta(hours=2))
    assert caught.value.code == "expired"
    assert cache.hits == 1


def test_refuses_a_cached_assertion_once_the_sts_certificate_expired(
    sandbox_pki: SandboxPki,
) -> None:
    cache = VerifiedSignatures()
    sts_end = sandbox_pki.sts.certificate.not_valid_after_utc
    assertion = signed(sandbox_pki, life=sts_end - NOW + timedelta(days=1))
    verify(sandbox_pki, assertion, cache)
    with pytest.raises(TokenError, match="signer not trusted") as caught:
        verify(sandbox_pki, assertion, cache, now=sts_end + timedelta(seconds=1))
    assert caught.value.code == "forged"
    assert cache.hits == 1


def test_refuses_another_holder_even_when_the_signature_is_cached(
    sandbox_pki: SandboxPki,
) -> None:
    cache = VerifiedSignatures()
    assertion = signed(sandbox_pki)
    verify(sandbox_pki, assertion, cache)
    with pytest.raises(TokenError, match="another holder"):
        verify(sandbox_pki, assertion, cache, holder=sandbox_pki.practitioner("jan").certificate)
    assert cache.hits == 1


def test_does_not_remember_a_failed_verification(sandbox_pki: SandboxPki) -> None:
    cache = VerifiedSignatures()
    tampered = signed(sandbox_pki)
    tampered.set("Issuer", "urn:elsewhere")
    for _ in range(2):
        with pytest.raises(TokenError, match="signature invalid"):
            verify(sandbox_pki, tampered, cache)
    assert (cache.hits, cache.misses, len(cache)) == (0, 2, 0)


def test_forgets_the_least_recently_used_signature_beyond_its_bound(
    sandbox_pki: SandboxPki,
) -> None:
    cache = VerifiedSignatures(max_entries=2)
    first, second, third = (signed(sandbox_pki, f"_a{n}") for n in range(3))
    verify(sandbox_pki, first, cache)
    verify(sandbox_pki, second, cache)
    verify(sandbox_pki, first, cache)  # first is now the most recently used
    verify(sandbox_pki, third, cache)  # evicts second
    assert len(cache) == 2
    verify(sandbox_pki, first, cache)
    assert cache.hits == 2
    verify(sandbox_pki, second, cache)
    assert (cache.hits, cache.misses, len(cache)) == (2, 4, 2)


def test_refuses_a_bound_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        VerifiedSignatures(max_entries=0)
