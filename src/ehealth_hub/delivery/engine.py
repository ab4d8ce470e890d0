"""The delivery engine of one process: the registry of destinations, their policies, the workers.

A *destination* is a named async handler ``handler(payload, message_id) -> answer``: it sends one
item downstream and returns the downstream's answer as JSON (eHealthBox receipt, ClaimResponse),
or raises a :class:`~ehealth_hub.core.errors.HubError`: retryable ones
(``DownstreamUnavailable``, ...) are retried with the destination's backoff; non-retryable ones
(``BusinessRejection``, ...) park the item as ``failed`` with the reason. Handlers must pass
``message_id`` downstream unchanged so the receiver can de-duplicate a redelivery (after a crash
or a lost lease).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.core.errors import ConfigurationError, HubError
from ehealth_hub.delivery import queries, store
from ehealth_hub.delivery.metrics import DeliveryMetrics
from ehealth_hub.settings import DeliverySettings, RetryPolicySettings
from ehealth_hub.transport.resilience import BreakerPolicy, CircuitBreaker, RetryPolicy

log = structlog.get_logger(__name__)

Handler = Callable[[Mapping[str, Any], str], Awaitable[Mapping[str, Any]]]
"""``await handler(payload, message_id)`` -> the downstream's answer as JSON."""

Clock = Callable[[], datetime]

METRICS_REFRESH_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Destination:
    """A registered destination."""

    name: str
    handler: Handler
    policy: RetryPolicy
    breaker: BreakerPolicy


def retry_policy(section: RetryPolicySettings) -> RetryPolicy:
    """The retry policy a ``delivery.policies`` section describes."""
    return RetryPolicy(
        base_delay=section.base_delay_seconds,
        factor=section.factor,
        max_delay=section.max_delay_seconds,
        jitter=section.jitter,
        max_attempts=section.max_attempts,
        max_age=section.max_age_seconds,
    )


def utcnow() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


class DeliveryEngine:
    """Destinations, policies, breakers and metrics shared by the workers of one process."""

    def __init__(
        self,
        settings: DeliverySettings,
        engine: AsyncEngine,
        metrics: DeliveryMetrics,
        *,
        clock: Clock = utcnow,
        random_unit: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.clock = clock
        self.random_unit = random_unit
        self.single_writer = engine.dialect.name == "sqlite"
        """SQLite has no row locks: one worker (one claiming loop) per database."""
        self.destinations: dict[str, Destination] = {}
        self.breakers: dict[str, CircuitBreaker] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()

    def register(self, name: str, handler: Handler) -> None:
        """Make ``name`` deliverable by ``handler``, under its configured policies."""
        if name in self.destinations:
            raise ConfigurationError(f"delivery destination {name!r} registered twice")
        section = self.settings.policies.get(name, self.settings.default_policy)
        breaker = BreakerPolicy(section.breaker_failures, section.breaker_reset_seconds)
        self.destinations[name] = Destination(name, handler, retry_policy(section), breaker)
        self.breakers[name] = CircuitBreaker(name, breaker, clock=lambda: self.clock().timestamp())

    def wake(self) -> None:
        """Tell this process's workers that something was enqueued (skip the poll wait)."""
        self._wake.set()

    async def wait_for_work(self, seconds: float) -> None:
        """Sleep until woken, stopped, or ``seconds`` pass."""
        waiters = [
            asyncio.ensure_future(self._wake.wait()),
            asyncio.ensure_future(self._stop.wait()),
        ]
        _done, pending = await asyncio.wait(
            waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        self._wake.clear()

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` or until :meth:`stop` (never consumes a :meth:`wake`)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stop.is_set()

    async def refresh_metrics(self) -> None:
        """Read queue depth and oldest item from the database into the gauges."""
        async with store.guard("stats"), self.engine.connect() as conn:
            stats = await queries.queue_stats(conn)
        self.metrics.observe_queue(stats, self.clock())
        for name, breaker in self.breakers.items():
            self.metrics.circuit.labels(name).set(1 if breaker.state != "closed" else 0)

    async def _observe(self) -> None:
        while not self.stopping:
            try:
                await self.refresh_metrics()
            except HubError as exc:
                log.warning("delivery_metrics_unavailable", **exc.as_dict())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), METRICS_REFRESH_SECONDS)

    def start(self, *, worker: bool) -> None:
        """Start the metrics observer and, when asked, one worker in this process."""
        self._stop.clear()
        self._tasks.append(asyncio.create_task(self._observe(), name="delivery-metrics"))
        if worker:
            from ehealth_hub.delivery.worker import Worker

            task = asyncio.create_task(Worker(self).run(), name="delivery-worker")
            task.add_done_callback(_report_crash)
            self._tasks.append(task)

    async def stop(self) -> None:
        """Stop the background tasks (the observer its current refresh, a worker its current
        batch)."""
        # Never cancelled mid-query: a cancelled aiosqlite query can leave its connection, and
        # its SQLite lock, to the garbage collector, and the next writer waits on that lock.
        self._stop.set()
        tasks, self._tasks = self._tasks, []
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for task, result in zip(tasks, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("delivery_task_failed", task=task.get_name(), error=repr(result))


def _report_crash(task: asyncio.Task[None]) -> None:
    """Log an in-process worker that died (it is not restarted; ``/metrics`` shows the backlog)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("delivery_worker_crashed", error=repr(task.exception()))


def worker_name() -> str:
    """A unique lease owner name: host, process and a random suffix."""
    return f"{socket.gethostname()[:32]}-{uuid.uuid4().hex[:12]}"
