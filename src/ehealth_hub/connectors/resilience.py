"""Resilience for every downstream call: a timeout per attempt, retries for idempotent reads only,
and a circuit breaker per endpoint; plus :class:`ProtectedSoap`, the resilient SOAP call the eHealth
connectors share (token binding, timeout, retries, breaker, error translation by ``soap.py``).

Policy (Release It!, M. Nygard, "Timeouts", "Circuit Breaker"; AWS "Exponential backoff and
jitter"):

* every attempt is bounded by ``DownstreamPolicy.timeout`` seconds (``asyncio.timeout``); an
  attempt that overruns becomes
  :class:`~ehealth_hub.core.errors.DownstreamUnavailable` code ``timeout``;
* a call marked ``idempotent=True`` (a read: GetTransactionList, GetPatientConsent, ...) is retried
  with tenacity, exponential backoff with jitter, while the error is ``retryable``; a write
  (PutTransaction, sendMessage, PutTherapeuticLink, ...) is attempted exactly once: whether a
  timed-out write arrived is unknowable here, so retrying belongs to the delivery layer, which
  carries an idempotency key;
* the breaker opens after ``failure_threshold`` consecutive unavailability failures (transport,
  timeout, 5xx, retryable server faults); while open, calls fail at once with
  ``DownstreamUnavailable`` code ``circuit-open``; after ``reset_after`` seconds one trial call is
  let through (half-open) and its outcome closes or re-opens the breaker. Business rejections and
  protocol errors say nothing about the endpoint's health and do not count.

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
from typing import Any, Literal, Protocol, TypeVar

import structlog
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from ehealth_hub.connectors.saml import SamlToken
from ehealth_hub.connectors.wsse import use_token
from ehealth_hub.core.errors import DownstreamProtocolError, DownstreamUnavailable, HubError
from ehealth_hub.core.ports import Actor

T = TypeVar("T")
_log = structlog.get_logger(__name__)

TokenSource = Callable[[Actor], Awaitable[SamlToken]]
"""Gives the SAML holder-of-key token to act as ``actor`` (the STS client's cache in production)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of idempotent calls."""

    attempts: int = 3
    """Total attempts of an idempotent call (1 = no retry)."""
    initial: float = 0.2
    """First backoff in seconds; doubles each retry."""
    maximum: float = 5.0
    """Upper bound of one backoff in seconds."""
    jitter: float = 0.2
    """Random extra seconds (0..jitter) added to each backoff so clients do not retry in step."""


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """The circuit breaker of one endpoint."""

    failure_threshold: int = 5
    """Consecutive unavailability failures that open the circuit."""
    reset_after: float = 30.0
    """Seconds the circuit stays open before one trial call is let through."""


@dataclass(frozen=True, slots=True)
class DownstreamPolicy:
    """Everything that bounds calls to one downstream endpoint."""

    timeout: float = 10.0
    """Seconds one attempt may take."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    """Retries (idempotent calls only)."""
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    """The endpoint's circuit breaker."""


BreakerState = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    """Consecutive-failure circuit breaker for one endpoint (see the module docstring)."""

    def __init__(
        self, name: str, policy: BreakerPolicy, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name, self.policy, self.clock = name, policy, clock
        self.failures = 0
        self.opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self.opened_at >= self.policy.reset_after else "open"

    def before_call(self, operation: str) -> None:
        """Refuse the call while open (or while the half-open trial is running)."""
        state = self.state
        if state == "closed":
            return
        if state == "half-open" and not self._trial_running:
            self._trial_running = True
            return
        raise DownstreamUnavailable(
            f"circuit open after {self.failures} consecutive failures",
            system=self.name,
            operation=operation,
            code="circuit-open",
        )

    def record(self, error: BaseException | None) -> None:
        """Count the outcome of a call let through by :meth:`before_call`."""
        self._trial_running = False
        if error is None or not _counts_as_outage(error):
            if error is None or self.opened_at is None:
                self.failures, self.opened_at = 0, None
            return
        self.failures += 1
        if self.opened_at is not None or self.failures >= self.policy.failure_threshold:
            self.opened_at = self.clock()
            _log.warning("circuit.open", endpoint=self.name, failures=self.failures)


def _counts_as_outage(error: BaseException) -> bool:
    """Unavailability or a retryable server fault; rejections say nothing of the endpoint."""
    return isinstance(error, DownstreamUnavailable) or (
        isinstance(error, DownstreamProtocolError) and error.retryable
    )


def _should_retry(error: BaseException) -> bool:
    return isinstance(error, HubError) and error.retryable and error.code != "circuit-open"


class Resilience:
    """Timeout, retries and breaker around the calls to one endpoint."""

    def __init__(
        self,
        name: str,
        policy: DownstreamPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.name, self.policy, self.sleep = name, policy, sleep
        self.breaker = CircuitBreaker(name, policy.breaker, clock=clock)

    async def call(
        self, attempt: Callable[[], Awaitable[T]], *, operation: str, idempotent: bool
    ) -> T:
        """Run ``attempt`` under the policy; only ``idempotent`` calls are ever repeated.

        The first attempt runs bare: nearly every call succeeds, and tenacity's machinery cost
        ~0.1 ms a call; it takes over after a retryable failure, with the same backoffs."""
        retry = self.policy.retry
        attempts = retry.attempts if idempotent else 1
        try:
            return await self._once(attempt, operation)
        except HubError as exc:
            if attempts <= 1 or not _should_retry(exc):
                raise
        await self.sleep(min(retry.initial + random.uniform(0, retry.jitter), retry.maximum))  # noqa: S311 - backoff jitter, not a secret
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts - 1),
            wait=wait_exponential_jitter(
                multiplier=retry.initial * 2, max=retry.maximum, jitter=retry.jitter
            ),
            retry=retry_if_exception(_should_retry),
            sleep=self.sleep,
            reraise=True,
        )
        async for state in retrying:
            with state:
                return await self._once(attempt, operation)
        raise AssertionError("tenacity ended without result or error")  # pragma: no cover

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


class SoapCaller(Protocol):
    """A SOAP endpoint: zeep's :class:`~.soap.SoapClient` or :class:`~.soap_lean.LeanSoapClient`.

    Each translates its own foreign errors into HubError and signs with the bound token.
    """

    @property
    def call(self) -> Callable[..., Awaitable[Any]]:
        """``call(operation, **parts)``; errors leave as HubError."""
        ...


class ProtectedSoap:
    """A SOAP endpoint called as an actor (SAML HoK token bound) under a :class:`Resilience`."""

    def __init__(self, soap: SoapCaller, resilience: Resilience, tokens: TokenSource) -> None:
        self.soap, self.resilience, self.tokens = soap, resilience, tokens

    async def call(self, actor: Actor, operation: str, *, idempotent: bool, **kwargs: Any) -> Any:
        """Call ``operation`` with the actor's token; errors leave as HubError (soap.translate)."""
        token = await self.tokens(actor)

        async def attempt() -> Any:
            with use_token(token):
                return await self.soap.call(operation, **kwargs)

        return await self.resilience.call(attempt, operation=operation, idempotent=idempotent)
