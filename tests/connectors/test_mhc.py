"""The MHC adapter against the MHC simulator over HTTP (in-process ASGI): the session recorded
with the practitioner's STS assertion, a resend answered the first time's way, the simulator
saying what it assumes, and its faults: unreachable is an outage (retried by the outbox),
nonsense is a protocol error, never a refusal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

import pytest

from ehealth_hub.connectors.mycarenet.mhc import MhcClient
from ehealth_hub.core.errors import DownstreamProtocolError, DownstreamUnavailable
from ehealth_hub.core.mycarenet_types import CareReceiver, InsurabilityFacts, TeleconsultationClaim
from ehealth_hub.core.ports import Actor
from ehealth_hub.fixtures.sim_mycarenet_mhc import ASSUMED_HEADER, MhcSimulator
from ehealth_hub.fixtures.simulate import SANDBOX_BASE, Simulators
from ehealth_hub.mappings.mhc import ASSUMED, read_answer, session_message
from ehealth_hub.transport.network import DirectClient
from ehealth_hub.transport.resilience import Resilience
from ehealth_hub.trust.saml import SamlToken
from tests.connectors.conftest import FAST, actor

KOEN = actor("koen")
CLAIM = TeleconsultationClaim(
    "s-1",
    CareReceiver("85031212362", "An", "Peeters"),
    KOEN.nihii,
    "psy-fl-individual",
    date(2026, 6, 1),
    Decimal("60.00"),
)
FACTS = InsurabilityFacts("85031212362", date(2026, 6, 1), True, "134", "13400012345", "110", "110")


def _mhc(sims: Simulators) -> MhcSimulator:
    assert sims.mhc is not None
    return sims.mhc


def _message(session: str = "psy-fl-individual", message_id: str = "m-1") -> dict[str, object]:
    claim = TeleconsultationClaim(
        CLAIM.claim_id, CLAIM.patient, CLAIM.provider_nihii, session, CLAIM.serviced, CLAIM.fee
    )
    created = datetime(2026, 6, 1, 10, tzinfo=UTC)
    return dict(
        session_message(
            claim,
            FACTS,
            message_id=message_id,
            created=created,
            bim=False,
            patient_share=Decimal("11.00"),
        )
    )


@pytest.fixture
def client(direct: DirectClient, sims: Simulators, tokens: Callable[[Actor], object]) -> MhcClient:
    token = cast(Callable[[Actor], Awaitable[SamlToken]], tokens)
    url = SANDBOX_BASE + _mhc(sims).path
    return MhcClient(direct, url, token, Resilience("mycarenet.mhc", FAST))


async def test_a_session_is_recorded_once_and_a_resend_gets_the_same_answer(
    client: MhcClient, sims: Simulators
) -> None:
    first = read_answer(await client.record_session(KOEN, _message()))
    again = read_answer(await client.record_session(KOEN, _message()))
    assert first.accepted
    assert first.reference is not None
    assert again == first
    assert len(_mhc(sims).answers) == 1
    received: dict[str, Any] = _mhc(sims).received[0]
    assert received["pseudoCode"] == "psy-fl-individual"
    assert received["patientShare"] == "11.00"


async def test_the_simulator_says_what_it_assumes(
    client: MhcClient, direct: DirectClient, sims: Simulators
) -> None:
    answer = await client.record_session(KOEN, _message())
    assert answer["assumed"] == list(ASSUMED)
    raw = await direct.request(
        "POST",
        f"{SANDBOX_BASE}{_mhc(sims).path}/sessions",
        headers={"Authorization": "SAML eA=="},
        json=_message(),
    )
    assert raw.headers["X-Simulator-Assumed"] == ASSUMED_HEADER
    assert "pseudo-codes" in ASSUMED_HEADER


async def test_a_second_first_session_and_an_unknown_code_are_refused_by_the_platform(
    client: MhcClient,
) -> None:
    first = _message("psy-fl-individual-first", "m-a")
    assert read_answer(await client.record_session(KOEN, first)).accepted
    twice = read_answer(
        await client.record_session(KOEN, _message("psy-fl-individual-first", "m-b"))
    )
    assert [e.code for e in twice.errors] == ["MHC_FIRST_SESSION_USED"]
    unknown = read_answer(await client.record_session(KOEN, _message("psy-unknown", "m-c")))
    assert [e.code for e in unknown.errors] == ["MHC_UNKNOWN_PSEUDOCODE"]


async def test_mhc_down_is_an_outage_and_nonsense_a_protocol_error(
    client: MhcClient, sims: Simulators
) -> None:
    _mhc(sims).faults.http_status = 503
    with pytest.raises(DownstreamUnavailable):
        await client.record_session(KOEN, _message())
    _mhc(sims).faults.clear()
    _mhc(sims).faults.malformed = True
    with pytest.raises(DownstreamProtocolError):
        await client.record_session(KOEN, _message())
    assert _mhc(sims).received == []
