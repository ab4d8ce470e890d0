"""ETEE: sealing for several recipients, unsealing with both signatures checked, the ETK depot."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from hypothesis import given, settings
from hypothesis import strategies as st

from ehealth_hub.core.errors import BusinessRejection, EncryptionError
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.fixtures.sim_etkdepot import EtkDepotSimulator
from ehealth_hub.trust.etee import EtkDepotClient, EtkId, _sign, seal, unseal

NOW = datetime(2026, 3, 2, tzinfo=UTC)
SARAH = EtkId("SSIN", "80021512354")
JAN = EtkId("SSIN", "65050511172")
NOTE = (
    "Consultation vidéo: otite, amoxicilline 3x500 mg, contrôle chez le médecin traitant.".encode()
)


def _seal_for(pki: SandboxPki, *recipients: EtkId) -> bytes:
    certs = [pki.etk(r).certificate for r in recipients]
    return seal(NOTE, pki.practitioner("sarah"), certs, sender_etk=pki.etk(SARAH).certificate)


def test_every_recipient_and_the_sender_can_open_the_sealed_message(
    sandbox_pki: SandboxPki,
) -> None:
    sealed = _seal_for(sandbox_pki, JAN, sandbox_pki.hub_id)
    for reader in (sandbox_pki.etk(JAN), sandbox_pki.hub_etk, sandbox_pki.etk(SARAH)):
        opened = unseal(sealed, reader, truststore=sandbox_pki.truststore, now=NOW)
        assert opened.payload == NOTE
        assert opened.sender == sandbox_pki.practitioner("sarah").certificate


def test_refuses_a_reader_who_is_not_a_recipient(sandbox_pki: SandboxPki) -> None:
    sealed = _seal_for(sandbox_pki, JAN)
    with pytest.raises(EncryptionError) as caught:
        unseal(sealed, sandbox_pki.mycarenet_etk, truststore=sandbox_pki.truststore, now=NOW)
    assert caught.value.code == "unknown-recipient"


def test_refuses_a_tampered_sealed_message(sandbox_pki: SandboxPki) -> None:
    sealed = bytearray(_seal_for(sandbox_pki, JAN))
    sealed[len(sealed) // 2] ^= 0x01
    with pytest.raises(EncryptionError):
        unseal(bytes(sealed), sandbox_pki.etk(JAN), truststore=sandbox_pki.truststore, now=NOW)


def test_refuses_when_inner_and_outer_signers_differ(sandbox_pki: SandboxPki) -> None:
    inner = _sign(NOTE, sandbox_pki.practitioner("sarah"))
    envelope = (
        pkcs7.PKCS7EnvelopeBuilder().set_data(inner).add_recipient(sandbox_pki.etk(JAN).certificate)
    )
    rewrapped = _sign(
        envelope.encrypt(Encoding.DER, [pkcs7.PKCS7Options.Binary]),
        sandbox_pki.practitioner("ahmed"),
    )
    with pytest.raises(EncryptionError, match="different senders"):
        unseal(rewrapped, sandbox_pki.etk(JAN), truststore=sandbox_pki.truststore, now=NOW)


def test_refuses_a_sender_outside_the_truststore(sandbox_pki: SandboxPki) -> None:
    sealed = _seal_for(sandbox_pki, JAN)
    with pytest.raises(EncryptionError, match="not trusted"):
        unseal(sealed, sandbox_pki.etk(JAN), truststore=[sandbox_pki.hub_tls.certificate], now=NOW)


def test_refuses_to_seal_without_recipients(sandbox_pki: SandboxPki) -> None:
    with pytest.raises(EncryptionError, match="at least one recipient"):
        seal(
            NOTE,
            sandbox_pki.practitioner("sarah"),
            [],
            sender_etk=sandbox_pki.etk(SARAH).certificate,
        )


async def test_fetches_an_etk_once_then_serves_it_from_the_cache(
    depot: EtkDepotClient, etk_sim: EtkDepotSimulator, pki: SandboxPki
) -> None:
    first = await depot.get_etk(JAN)
    again = await depot.get_etk(JAN)
    assert first == again == pki.etk(JAN).certificate
    assert len(etk_sim.soap.received) == 1


async def test_fetches_mycarenet_etk_by_cbe_and_application(
    depot: EtkDepotClient, pki: SandboxPki
) -> None:
    assert await depot.get_etk(pki.mycarenet_id) == pki.mycarenet_etk.certificate


async def test_reports_an_unknown_identifier_as_a_business_rejection(
    depot: EtkDepotClient, etk_sim: EtkDepotSimulator
) -> None:
    etk_sim.withdraw(JAN)
    with pytest.raises(BusinessRejection, match="NOT_FOUND"):
        await depot.get_etk(JAN)


@settings(max_examples=25, deadline=None)
@given(payload=st.binary(max_size=4096))
def test_unseal_returns_exactly_what_was_sealed(sandbox_pki: SandboxPki, payload: bytes) -> None:
    sender = sandbox_pki.practitioner("koen")
    sealed = seal(
        payload,
        sender,
        [sandbox_pki.etk(JAN).certificate],
        sender_etk=sandbox_pki.etk(SARAH).certificate,
    )
    assert (
        unseal(sealed, sandbox_pki.etk(JAN), truststore=sandbox_pki.truststore, now=NOW).payload
        == payload
    )


async def test_asks_for_the_application_when_several_etks_match(
    depot: EtkDepotClient, etk_sim: EtkDepotSimulator, pki: SandboxPki
) -> None:
    etk_sim.publish(EtkId("CBE", "0820563481", "OTHERAPP"), pki.hub_etk)
    with pytest.raises(BusinessRejection, match="ApplicationID") as caught:
        await depot.get_etk(EtkId("CBE", "0820563481"))
    assert caught.value.code == "ambiguous"
