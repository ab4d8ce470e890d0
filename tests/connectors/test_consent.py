"""The national Consent connector against the Consent simulator, through zeep and httpx."""

from __future__ import annotations

from datetime import date

import pytest

from ehealth_hub.connectors.consent import ConsentClient
from ehealth_hub.core.errors import BusinessRejection, DownstreamUnavailable
from ehealth_hub.core.ports import NationalConsent
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.simulate import Simulators
from tests.connectors.conftest import actor

AN = sandbox.patient("an").ssin
SOFIE = sandbox.patient("sofie").ssin


async def test_reads_an_active_consent(consent_client: ConsentClient) -> None:
    consent = await consent_client.get_consent(AN, actor("sarah"))
    assert consent == NationalConsent(AN, "active", date(2024, 1, 15), None, "retrospective")


async def test_reads_no_consent_for_a_patient_who_never_gave_one(
    consent_client: ConsentClient,
) -> None:
    assert await consent_client.get_consent(SOFIE, actor("sarah")) is None


async def test_registers_then_refuses_a_second_consent(consent_client: ConsentClient) -> None:
    given = NationalConsent(SOFIE, "active", date(2026, 3, 1))
    await consent_client.put_consent(given, actor("sarah"))
    assert await consent_client.get_consent(SOFIE, actor("sarah")) == NationalConsent(
        SOFIE, "active", date(2026, 3, 1)
    )
    with pytest.raises(BusinessRejection) as refused:
        await consent_client.put_consent(given, actor("sarah"))
    assert refused.value.code == "consent.already.exists"


async def test_revokes_a_consent_and_reads_it_as_revoked(
    consent_client: ConsentClient, clock: object
) -> None:
    await consent_client.revoke_consent(AN, actor("jan"))
    consent = await consent_client.get_consent(AN, actor("sarah"))
    assert consent is not None
    assert consent.status == "revoked"
    assert consent.revoked == date(2026, 3, 2)


async def test_refuses_to_revoke_a_consent_never_given(consent_client: ConsentClient) -> None:
    with pytest.raises(BusinessRejection) as refused:
        await consent_client.revoke_consent(SOFIE, actor("sarah"))
    assert refused.value.code == "consent.not.found"
    assert refused.value.retryable is False


async def test_refuses_a_patient_ssin_with_bad_check_digits(consent_client: ConsentClient) -> None:
    with pytest.raises(BusinessRejection) as refused:
        await consent_client.get_consent("85031212363", actor("sarah"))
    assert refused.value.code == "ssin.invalid"


async def test_never_retries_a_consent_registration(
    consent_client: ConsentClient, sims: Simulators
) -> None:
    sims.consent.soap.faults.http_status = 503
    with pytest.raises(DownstreamUnavailable):
        await consent_client.put_consent(NationalConsent(SOFIE, "active"), actor("sarah"))
    assert [r.operation for r in sims.consent.soap.received] == ["PutPatientConsentRequest"]


async def test_retries_a_consent_read_after_one_server_error(
    consent_client: ConsentClient, sims: Simulators
) -> None:
    sims.consent.soap.faults.http_status, sims.consent.soap.faults.times = 503, 1
    consent = await consent_client.get_consent(AN, actor("sarah"))
    assert consent is not None
    assert consent.status == "active"
    assert len(sims.consent.soap.received) == 2
