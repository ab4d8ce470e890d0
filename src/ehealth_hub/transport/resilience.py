"""Resilience for every downstream call and every delivery: ONE :class:`RetryPolicy` (the backoff
schedule) and ONE :class:`CircuitBreaker` (per endpoint or destination), plus :class:`Resilience`,
which applies them with a timeout per attempt to the connectors' calls. The delivery workers use the
same two classes per destination (``delivery/worker.py``; on PostgreSQL the breaker's verdict is
shared through ``delivery/breakers.py``, which calls :meth:`CircuitBreaker.adopt`).

Backoff after the n-th failed attempt (n >= 1)::

    raw(n)   = min(max_delay, base_delay * factor ** (n - 1))
    delay(n) = raw(n) * (1 - jitter * r)        r uniform in [0, 1)

so a delay never exceeds its cap and, with ``jitter = 0.5``, lies between half and all of it:
clients retrying the same outage spread out instead of hammering the server in lock step. A
delivery becomes a dead letter when it has used ``max_attempts`` or is older than ``max_age``
(:meth:`RetryPolicy.verdict`).

Policy (Release It!, M. Nygard, "Timeouts", "Circuit Breaker"; AWS "Exponential backoff and
jitter"):

* every attempt is bounded by ``DownstreamPolicy.timeout`` seconds (``asyncio.timeout``); an
  attempt that overruns becomes
  :class:`~ehealth_hub.core.errors.DownstreamUnavailable` code ``timeout``;
* a call marked ``idempotent=True`` (a read: GetTransactionList, GetPatientConsent, ...) is retried
  with the policy's backoff while the error is ``retryable``, up to ``max_attempts`` in all; a write
  (PutTransaction, sendMessage, PutTherapeuticLink, ...) is attempted exactly once: whether a
  timed-out write arrived is unknowable here, so retrying belongs to the delivery layer, which
  carries an idempotency key;
* the breaker opens after ``failure_threshold`` consecutive unavailability failures (transport,
  timeout, 5xx, retryable server faults); while open, calls fail at once with
  ``DownstreamUnavailable`` code ``circuit-open``; after ``reset_after`` seconds one trial call is
  let through (half-open) and its outcome closes or re-opens the breaker. Business rejections and
  protocol errors say nothing about the endpoint's health and do not count. A delivery worker asks
  :meth:`CircuitBreaker.allows` how many items it may claim (all, one trial, none) and reports
  each outcome with :meth:`~CircuitBreaker.record_success` / :meth:`~CircuitBreaker.record_failure`.

Injected simulator faults (``fixtures.soap_server.FaultPlan``) and what a connector raises::

    latency below the timeout       success, later
    timeout / latency over timeout  DownstreamUnavailable code "timeout" (reads: after each attempt)
    HTTP 5xx, 429, 408              DownstreamUnavailable code "http-NNN" (reads retried)
    SOAP fault soapenv:Server       DownstreamProtocolError, retryable (reads retried)
    SOAP fault soapenv:Client       BusinessRejection with the eHealth code (never retried)
    malformed envelope              DownstreamProtocolError (not retried)
    unsigned / tampered / stale /   UnverifiedAnswer (a DownstreamUnavailable: reads retried,
      impostor-signed answer          counts as an outage)
    N consecutive outages           DownstreamUnavailable code "circuit-open", nothing sent
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import structlog

from ehealth_hub.core.errors import DownstreamProtocolError, DownstreamUnavailable, HubError

T = TypeVar("T")
Verdict = Literal["retry", "dead"]
BreakerState = Literal["closed", "open", "half-open"]
_log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a call or a delivery is retried; see the module docstring for the formula."""

    base_delay: float = 2.0
    """First backoff in seconds."""
    factor: float = 2.0
    """Growth of the backoff per failed attempt."""
    max_delay: float = 600.0
    """Upper bound of one backoff in seconds."""
    jitter: float = 0.5
    """Largest share (0..1) of a backoff taken off at random."""
    max_attempts: int = 12
    """Attempts in all (1 = no retry)."""
    max_age: float = 86400.0
    """Seconds after which a delivery is given up whatever its attempts."""

    def delay(self, attempts: int, r: float) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt (``r`` random in [0, 1))."""
        raw = min(self.max_delay, self.base_delay * self.factor ** max(0, attempts - 1))
        return raw * (1.0 - self.jitter * r)

    def schedule(self, random: Callable[[], float]) -> list[float]:
        """Every delay before the last attempt (for docs and tests)."""
        return [self.delay(n, random()) for n in range(1, self.max_attempts)]

    def verdict(self, attempts: int, age: float) -> Verdict:
        """After a retryable failure: try again, or give up (dead letter)."""
        if attempts >= self.max_attempts or age >= self.max_age:
            return "dead"
        return "retry"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """The circuit breaker of one endpoint or destination."""

    failure_threshold: int = 5
    """Consecutive unavailability failures that open the circuit."""
    reset_after: float = 30.0
    """Seconds the circuit stays open before one trial call is let through."""


@dataclass(frozen=True, slots=True)
class DownstreamPolicy:
    """Everything that bounds calls to one downstream endpoint."""

    timeout: float = 10.0
    """Seconds one attempt may take."""
    retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(base_delay=0.2, max_delay=5.0, max_attempts=3)
    )
    """Retries (idempotent calls only)."""
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    """The endpoint's circuit breaker."""


class CircuitBreaker:
    """Consecutive-failure circuit breaker of one endpoint or destination (module docstring)."""

    def __init__(
        self, name: str, policy: BreakerPolicy, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name, self.policy, self.clock = name, policy, clock
        self.failures = 0
        self.opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> BreakerState:
        """closed (call), open (hold back) or half-open (one trial may go)."""
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self.opened_at >= self.policy.reset_after else "open"

    @property
    def open_until(self) -> float | None:
        """When the open circuit turns half-open (clock seconds); None while closed."""
        return None if self.opened_at is None else self.opened_at + self.policy.reset_after

    def allows(self) -> int:
        """How many calls may go now: unlimited (-1), one trial (1), or none (0)."""
        state = self.state
        if state == "closed":
            return -1
        if state == "half-open" and not self._trial:
            self._trial = True
            return 1
        return 0

    def cancel_trial(self) -> None:
        """The granted trial was not used; grant it again next time."""
        self._trial = False

    def record_success(self) -> bool:
        """The endpoint answered; True if that closed the circuit."""
        was_open = self.opened_at is not None
        self.failures, self.opened_at, self._trial = 0, None, False
        return was_open

    def record_failure(self) -> bool:
        """An unavailability failure; True if it (re)opened the circuit."""
        self.failures += 1
        reopen = self._trial or self.opened_at is not None
        self._trial = False
        if reopen or self.failures >= self.policy.failure_threshold:
            self.opened_at = self.clock()
            return True
        return False

    def adopt(self, open_until: float | None) -> None:
        """Take a verdict shared by other processes: open until then (past = half-open), or
        closed. The failure count stays this process's own, and so does a trial it is sending."""
        self.opened_at = None if open_until is None else open_until - self.policy.reset_after

    def before_call(self, operation: str) -> None:
        """Refuse the call while open (or while the half-open trial is running)."""
        if self.allows() != 0:
            return
        raise DownstreamUnavailable(
            f"circuit open after {self.failures} consecutive failures",
            system=self.name,
            operation=operation,
            code="circuit-open",
        )

    def record(self, error: BaseException | None) -> None:
        """Count the outcome of a call let through by :meth:`before_call`: only an outage
        counts; any other error is an answer that neither opens nor closes the circuit."""
        if error is None:
            self.record_success()
        elif not _counts_as_outage(error):
            if self.opened_at is None:
                self.failures = 0
            self._trial = False
        elif self.record_failure():
            _log.warning("circuit.open", endpoint=self.name, failures=self.failures)


def _counts_as_outage(error: BaseException) -> bool:
    """Unavailability or a retryable server fault; rejections say nothing of the endpoint."""
    return isinstance(error, DownstreamUnavailable) or (
        isinstance(error, DownstreamProtocolError) and error.retryable
    )


def _should_retry(error: HubError) -> bool:
    return error.retryable and error.code != "circuit-open"


class Resilience:
    """Timeout, retries and breaker around the calls to one endpoint."""

    def __init__(
        self,
        name: str,
        policy: DownstreamPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random_unit: Callable[[], float] = random.random,
    ) -> None:
        self.name, self.policy, self.sleep, self.random_unit = name, policy, sleep, random_unit
        self.breaker = CircuitBreaker(name, policy.breaker, clock=clock)

    async def call(
        self, attempt: Callable[[], Awaitable[T]], *, operation: str, idempotent: bool
    ) -> T:
        """Run ``attempt`` under the policy; only ``idempotent`` calls are ever repeated."""
        retry = self.policy.retry
        attempts = retry.max_attempts if idempotent else 1
        for done in range(1, attempts):
            try:
                return await self._once(attempt, operation)
            except HubError as exc:
                if not _should_retry(exc):
                    raise
            await self.sleep(retry.delay(done, self.random_unit()))
        return await self._once(attempt, operation)

    async def _once(self, attempt: Callable[[], Awaitable[T]], operation: str) -> T:
        self.breaker.before_call(operation)
        try:
            async with asyncio.timeout(self.policy.timeout):
                result = await attempt()
        except TimeoutError as exc:
            error = DownstreamUnavailable(
                f"no answer within {self.policy.timeout:g} s",
                system=self.name,
                operation=operation,
                code="timeout",
            )
            self.breaker.record(error)
            raise error from exc
        except BaseException as exc:
            self.breaker.record(exc)
            raise
        self.breaker.record(None)
        return result
