"""Backoff schedule and circuit breaker: deterministic with an injected random source and clock."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ehealth_hub.transport.resilience import BreakerPolicy, CircuitBreaker, RetryPolicy


def test_backoff_doubles_from_the_base_delay_up_to_the_cap_without_jitter() -> None:
    policy = RetryPolicy(base_delay=2, factor=2, max_delay=30, jitter=0, max_attempts=7)
    assert policy.schedule(lambda: 0.99) == [2, 4, 8, 16, 30, 30]


def test_jitter_takes_the_drawn_fraction_off_each_delay() -> None:
    policy = RetryPolicy(base_delay=10, factor=3, max_delay=1000, jitter=0.5, max_attempts=4)
    draws = iter([0.0, 0.5, 1.0 - 1e-9])
    assert policy.schedule(lambda: next(draws)) == pytest.approx([10.0, 22.5, 45.0])


@given(attempt=st.integers(1, 60), r=st.floats(0, 1, exclude_max=True), jitter=st.floats(0, 1))
def test_a_delay_never_exceeds_its_cap_nor_falls_below_the_unjittered_share(
    attempt: int, r: float, jitter: float
) -> None:
    policy = RetryPolicy(base_delay=1, factor=2, max_delay=300, jitter=jitter)
    raw = min(300.0, 2.0 ** (attempt - 1))
    assert raw * (1 - jitter) - 1e-9 <= policy.delay(attempt, r) <= raw + 1e-9


def test_an_item_dies_after_max_attempts_or_max_age() -> None:
    policy = RetryPolicy(max_attempts=3, max_age=100)
    assert policy.verdict(2, age=10) == "retry"
    assert policy.verdict(3, age=10) == "dead"
    assert policy.verdict(1, age=100) == "dead"


def test_breaker_opens_after_consecutive_failures_and_lets_one_trial_through_later() -> None:
    now = [0.0]
    breaker = CircuitBreaker(
        "x", BreakerPolicy(failure_threshold=2, reset_after=30), clock=lambda: now[0]
    )
    breaker.record_failure()
    assert breaker.allows() == -1
    breaker.record_failure()
    assert (breaker.state, breaker.allows()) == ("open", 0)
    now[0] = 30.0
    assert breaker.allows() == 1
    assert breaker.allows() == 0, "only one trial while half-open"
    breaker.record_failure()
    assert breaker.state == "open"
    now[0] = 61.0
    assert breaker.allows() == 1
    breaker.record_success()
    assert (breaker.state, breaker.allows()) == ("closed", -1)


def test_a_trial_that_found_nothing_to_deliver_is_granted_again() -> None:
    breaker = CircuitBreaker(
        "x", BreakerPolicy(failure_threshold=1, reset_after=0), clock=lambda: 0.0
    )
    breaker.record_failure()
    assert breaker.allows() == 1
    breaker.cancel_trial()
    assert breaker.allows() == 1
