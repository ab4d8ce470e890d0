"""Retry policies (exponential backoff with bounded jitter) and circuit breakers, per destination.

Backoff after the n-th failed attempt (n >= 1)::

    raw(n)   = min(max_delay, base_delay * factor ** (n - 1))
    delay(n) = raw(n) * (1 - jitter * r)        r uniform in [0, 1)

so a delay never exceeds its cap and, with ``jitter = 0.5``, lies between half and all of it:
workers retrying the same outage spread out instead of hammering the receiver in lock step. An
item becomes a dead letter when it has used ``max_attempts`` or is older than ``max_age``.

The circuit breaker (Nygard, *Release It!*) counts consecutive retryable failures of one
destination: at ``breaker_failures`` it opens and the worker stops claiming that destination's
items (they keep their attempts) for ``breaker_reset``; then one trial item is let through
(half-open): success closes the circuit, failure opens it again. Each process counts failures in
its own breaker; on PostgreSQL the open / half-open / closed verdict is shared by every worker
(:mod:`.breakers`, which calls :meth:`CircuitBreaker.adopt`).
Random numbers and the clock are injected so the schedule is deterministic in tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ehealth_hub.settings import RetryPolicySettings

Verdict = Literal["retry", "dead"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How one destination is retried; see the module docstring for the formula."""

    base_delay: float = 2.0
    factor: float = 2.0
    max_delay: float = 600.0
    jitter: float = 0.5
    max_attempts: int = 12
    max_age: float = 86400.0
    breaker_failures: int = 5
    breaker_reset: float = 30.0

    @classmethod
    def from_settings(cls, s: RetryPolicySettings) -> RetryPolicy:
        """The policy described by a settings section."""
        return cls(
            base_delay=s.base_delay_seconds,
            factor=s.factor,
            max_delay=s.max_delay_seconds,
            jitter=s.jitter,
            max_attempts=s.max_attempts,
            max_age=s.max_age_seconds,
            breaker_failures=s.breaker_failures,
            breaker_reset=s.breaker_reset_seconds,
        )

    def delay(self, attempts: int, r: float) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt (``r`` random in [0, 1))."""
        raw = min(self.max_delay, self.base_delay * self.factor ** max(0, attempts - 1))
        return raw * (1.0 - self.jitter * r)

    def schedule(self, random: Callable[[], float]) -> list[float]:
        """Every delay an item may wait before it becomes a dead letter (for docs and tests)."""
        return [self.delay(n, random()) for n in range(1, self.max_attempts)]

    def verdict(self, attempts: int, age: float) -> Verdict:
        """After a retryable failure: try again, or give up (dead letter)."""
        if attempts >= self.max_attempts or age >= self.max_age:
            return "dead"
        return "retry"


BreakerState = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    """One destination's breaker in one worker process (its verdict shared by :mod:`.breakers`)."""

    def __init__(self, failures: int, reset: float, clock: Callable[[], float]) -> None:
        self._threshold = failures
        self._reset = reset
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> BreakerState:
        """closed (deliver), open (hold back) or half-open (one trial may go)."""
        if self._opened_at is None:
            return "closed"
        return "half-open" if self._clock() >= self._opened_at + self._reset else "open"

    def allows(self) -> int:
        """How many items may be claimed now: unlimited (-1), one trial (1), or none (0)."""
        state = self.state
        if state == "closed":
            return -1
        if state == "half-open" and not self._trial:
            self._trial = True
            return 1
        return 0

    def cancel_trial(self) -> None:
        """The granted trial found nothing to deliver; grant it again next time."""
        self._trial = False

    def record_success(self) -> bool:
        """The destination answered (a business rejection is an answer too); True if it closed."""
        was_open = self._opened_at is not None
        self._failures = 0
        self._opened_at = None
        self._trial = False
        return was_open

    def record_failure(self) -> bool:
        """A retryable failure (unreachable, timeout, 5xx); True if it (re)opened the circuit."""
        self._failures += 1
        if self._trial or self._failures >= self._threshold:
            self._opened_at = self._clock()
            self._trial = False
            return True
        return False

    @property
    def open_until(self) -> float | None:
        """When the open circuit turns half-open (clock seconds); None while closed."""
        return None if self._opened_at is None else self._opened_at + self._reset

    def adopt(self, open_until: float | None) -> None:
        """Take the verdict shared by all processes: open until then (past = half-open), or closed.

        The failure count stays this process's own, and so does a trial it is sending.
        """
        self._opened_at = None if open_until is None else open_until - self._reset
