"""Every injected fault gives the documented error or a successful retry; only idempotent calls
are retried; the circuit breaker opens, fails fast, and closes after a good trial call."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ehealth_hub.connectors.consent import ConsentClient
from ehealth_hub.connectors.intrahub import IntraHubClient
from ehealth_hub.core.errors import (
    BusinessRejection,
    DownstreamProtocolError,
    DownstreamUnavailable,
)
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.simulate import Simulators
from ehealth_hub.fixtures.soap_server import SoapFault
from ehealth_hub.transport.resilience import (
    BreakerPolicy,
    CircuitBreaker,
    DownstreamPolicy,
    Resilience,
    RetryPolicy,
)
from ehealth_hub.trust.protected import ProtectedSoap
from tests.connectors.conftest import FAST, Clock, Monotonic, Sleeps, actor, permit

AN = sandbox.patient("an").ssin
TYPES = ("sumehr",)


def received(sims: Simulators, operation: str = "GetPatientConsentRequest") -> int:
    return [r.operation for r in sims.consent.soap.received].count(operation)


async def test_latency_below_the_timeout_only_slows_the_answer(
    consent_client: ConsentClient, sims: Simulators
) -> None:
    sims.consent.soap.faults.latency = 0.05
    assert await consent_client.get_consent(AN, actor("sarah")) is not None
    assert received(sims) == 1


async def test_a_server_that_never_answers_times_out_after_every_attempt(
    protect: Callable[..., ProtectedSoap], sims: Simulators, clock: Clock
) -> None:
    policy = DownstreamPolicy(
        timeout=0.05, retry=RetryPolicy(base_delay=0.0, max_delay=0.0, jitter=0.0, max_attempts=2)
    )
    client = ConsentClient(
        protect("consent_v3.wsdl", sims.consent.path, "consent", policy=policy), clock=clock
    )
    sims.consent.soap.faults.timeout = True
    with pytest.raises(DownstreamUnavailable) as unavailable:
        await client.get_consent(AN, actor("sarah"))
    assert unavailable.value.code == "timeout"
    assert received(sims) == 2


async def test_persistent_5xx_is_unavailable_after_the_last_attempt(
    consent_client: ConsentClient, sims: Simulators, sleeps: Sleeps
) -> None:
    sims.consent.soap.faults.http_status = 503
    with pytest.raises(DownstreamUnavailable) as unavailable:
        await consent_client.get_consent(AN, actor("sarah"))
    assert (unavailable.value.code, unavailable.value.retryable) == ("http-503", True)
    assert received(sims) == FAST.retry.max_attempts
    assert len(sleeps.delays) == FAST.retry.max_attempts - 1
    assert sleeps.delays[1] >= sleeps.delays[0] > 0


async def test_a_server_soap_fault_is_retried_then_succeeds(
    consent_client: ConsentClient, sims: Simulators
) -> None:
    faults = sims.consent.soap.faults
    faults.soap_fault, faults.times = (
        SoapFault("SOA-00002", "temporarily unavailable", client=False, business=False),
        1,
    )
    assert await consent_client.get_consent(AN, actor("sarah")) is not None
    assert received(sims) == 2


async def test_a_client_soap_fault_is_a_rejection_and_not_retried(
    consent_client: ConsentClient, sims: Simulators
) -> None:
    sims.consent.soap.faults.soap_fault = SoapFault("SOA-03002", "malformed request")
    with pytest.raises(BusinessRejection) as rejected:
        await consent_client.get_consent(AN, actor("sarah"))
    assert rejected.value.code == "SOA-03002"
    assert received(sims) == 1


async def test_a_malformed_answer_is_refused_and_not_retried(
    consent_client: ConsentClient, sims: Simulators
) -> None:
    sims.consent.soap.faults.malformed = True
    with pytest.raises(DownstreamProtocolError) as refused:
        await consent_client.get_consent(AN, actor("sarah"))
    assert refused.value.retryable is False
    assert received(sims) == 1


async def test_a_fault_scoped_to_one_operation_leaves_the_others_alone(
    consent_client: ConsentClient, sims: Simulators
) -> None:
    sims.consent.soap.faults.http_status, sims.consent.soap.faults.operation = (
        503,
        "RevokePatientConsentRequest",
    )
    assert await consent_client.get_consent(AN, actor("sarah")) is not None
    with pytest.raises(DownstreamUnavailable):
        await consent_client.revoke_consent(AN, actor("sarah"))
    assert received(sims, "RevokePatientConsentRequest") == 1


async def test_the_circuit_opens_fails_fast_and_closes_after_a_good_trial(
    hub_client: Callable[[str], IntraHubClient],
    sims: Simulators,
    clock: Clock,
    monotonic: Monotonic,
) -> None:
    rsw = hub_client("rsw")
    sims.hubs["rsw"].soap.faults.http_status = 503
    with pytest.raises(DownstreamUnavailable):
        await rsw.list_transactions(permit("an", now=clock()), actor("sarah"), types=TYPES)
    seen = len(sims.hubs["rsw"].soap.received)
    assert seen == FAST.breaker.failure_threshold
    with pytest.raises(DownstreamUnavailable) as fast:
        await rsw.list_transactions(permit("an", now=clock()), actor("sarah"), types=TYPES)
    assert fast.value.code == "circuit-open"
    assert len(sims.hubs["rsw"].soap.received) == seen
    sims.hubs["rsw"].soap.faults.clear()
    monotonic.value += FAST.breaker.reset_after
    assert (
        len(await rsw.list_transactions(permit("an", now=clock()), actor("sarah"), types=TYPES))
        == 1
    )
    assert rsw.endpoint.resilience.breaker.state == "closed"


async def test_one_endpoint_s_open_circuit_does_not_block_another_hub(
    hub_client: Callable[[str], IntraHubClient], sims: Simulators, clock: Clock
) -> None:
    rsw, vitalink = hub_client("rsw"), hub_client("vitalink")
    sims.hubs["rsw"].soap.faults.http_status = 503
    with pytest.raises(DownstreamUnavailable):
        await rsw.list_transactions(permit("an", now=clock()), actor("sarah"), types=TYPES)
    assert rsw.endpoint.resilience.breaker.state == "open"
    assert (
        len(
            await vitalink.list_transactions(permit("an", now=clock()), actor("sarah"), types=TYPES)
        )
        == 1
    )


def test_business_rejections_do_not_open_the_circuit() -> None:
    breaker = CircuitBreaker("x", BreakerPolicy(failure_threshold=1))
    breaker.before_call("op")
    breaker.record(BusinessRejection("no", system="x"))
    breaker.before_call("op")
    breaker.record(DownstreamProtocolError("bad", system="x"))
    assert breaker.state == "closed"


def test_a_failed_half_open_trial_reopens_the_circuit() -> None:
    now = Monotonic()
    breaker = CircuitBreaker("x", BreakerPolicy(failure_threshold=1, reset_after=10), clock=now)
    breaker.before_call("op")
    breaker.record(DownstreamUnavailable("down", system="x"))
    now.value += 10
    breaker.before_call("op")
    with pytest.raises(DownstreamUnavailable):
        breaker.before_call("op")  # only one trial at a time
    breaker.record(DownstreamUnavailable("still down", system="x"))
    assert breaker.state == "open"


async def test_a_write_is_attempted_once_even_when_the_error_is_retryable() -> None:
    calls: list[int] = []

    async def attempt() -> None:
        calls.append(1)
        raise DownstreamUnavailable("down", system="x")

    resilience = Resilience("x", FAST, sleep=Sleeps())
    with pytest.raises(DownstreamUnavailable):
        await resilience.call(attempt, operation="PutSomething", idempotent=False)
    assert calls == [1]
