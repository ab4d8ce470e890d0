"""Downstream health for the console and Prometheus: checks, breakers, queues, the last hour.

* :meth:`Downstreams.check` runs the readiness checks (database, eHealth services, each hub, the
  GP systems, MyCareNet when wired), and remembers since when each one fails;
* :class:`History` samples the delivery metrics every ``console.history_interval_seconds`` into
  a one-hour ring per destination: attempts, error rate, mean latency, queue depth, oldest age;
* the figures are Prometheus metrics too, in the container's registry:
  ``ehealth_hub_downstream_up{downstream}``, ``ehealth_hub_downstream_failing_since_seconds``
  (Unix time of the first failed check in a row), ``ehealth_hub_audit_verify_ok`` and
  ``ehealth_hub_audit_verify_timestamp_seconds`` (set by :mod:`.operations_audit`); the delivery
  metrics (queue depth, oldest age, breaker, attempts, latency) are ``delivery/metrics.py``'s.
  Alert rules on all of them: ``docs/alerts/ehealth-hub.rules.yml``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import structlog
from prometheus_client import CollectorRegistry, Gauge

from ehealth_hub.core.errors import HubError
from ehealth_hub.delivery import queries, store
from ehealth_hub.delivery.engine import DeliveryEngine
from ehealth_hub.delivery.metrics import age_seconds

log = structlog.get_logger(__name__)

CHECK_TIMEOUT_S: Final = 5.0
HOUR_S: Final = 3600.0
Check = Callable[[], Awaitable[None]]


class HealthMetrics:
    """The console's gauges, registered once per container registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.up = Gauge(
            "ehealth_hub_downstream_up",
            "1 when the downstream's last readiness check passed",
            ["downstream"],
            registry=registry,
        )
        self.failing_since = Gauge(
            "ehealth_hub_downstream_failing_since_seconds",
            "Unix time of the first failed check of the downstream's current failure (0: up)",
            ["downstream"],
            registry=registry,
        )
        self.verify_ok = Gauge(
            "ehealth_hub_audit_verify_ok",
            "1 when the last audit verify found the trail intact, 0 when it found a problem",
            registry=registry,
        )
        self.verify_time = Gauge(
            "ehealth_hub_audit_verify_timestamp_seconds",
            "Unix time of the last audit verify",
            registry=registry,
        )


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One downstream's state."""

    name: str
    ok: bool
    detail: str
    failing_since: datetime | None


class Downstreams:
    """Readiness checks with memory of since when each one fails."""

    def __init__(self, checks: Mapping[str, Check], metrics: HealthMetrics) -> None:
        self.checks = checks
        self.metrics = metrics
        self._since: dict[str, datetime] = {}

    async def check(self) -> list[CheckResult]:
        """Run every check (in parallel, each bounded by :data:`CHECK_TIMEOUT_S`)."""
        names = sorted(self.checks)
        outcomes = await asyncio.gather(*(_run(self.checks[n]) for n in names))
        now = datetime.now(UTC)
        results = []
        for name, problem in zip(names, outcomes, strict=True):
            if problem is None:
                self._since.pop(name, None)
            else:
                self._since.setdefault(name, now)
            since = self._since.get(name)
            self.metrics.up.labels(name).set(0 if problem else 1)
            self.metrics.failing_since.labels(name).set(since.timestamp() if since else 0)
            results.append(CheckResult(name, problem is None, problem or "ok", since))
        return results


async def _run(check: Check) -> str | None:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
    except HubError as exc:
        return f"{type(exc).__name__}: {exc.detail}"
    except TimeoutError:
        return f"no answer in {CHECK_TIMEOUT_S:.0f} s"
    return None


@dataclass(frozen=True, slots=True)
class Sample:
    """One destination's figures over one sampling interval."""

    at: datetime
    attempts: float
    errors: float
    latency_ms: float | None
    depth: int
    oldest_s: float


@dataclass
class DestinationView:
    """A destination now, and its last hour."""

    name: str
    breaker: str
    depth: dict[str, int] = field(default_factory=dict)
    oldest_s: float | None = None
    samples: list[Sample] = field(default_factory=list)

    @property
    def error_rate(self) -> float | None:
        """Failed attempts / attempts over the last hour (None: no attempt)."""
        attempts = sum(s.attempts for s in self.samples)
        return sum(s.errors for s in self.samples) / attempts if attempts else None

    @property
    def latency_ms(self) -> float | None:
        """Mean attempt latency over the last hour."""
        timed = [(s.latency_ms, s.attempts) for s in self.samples if s.latency_ms is not None]
        total = sum(n for _, n in timed)
        return sum(ms * n for ms, n in timed) / total if total else None


class History:
    """One hour of per-destination samples taken from the delivery metrics."""

    def __init__(self, delivery: DeliveryEngine, interval: float) -> None:
        self.delivery = delivery
        self.interval = interval
        self.samples: dict[str, deque[Sample]] = {}
        self._last: dict[str, tuple[float, float, float, float]] = {}

    def _counters(self) -> dict[str, tuple[float, float, float, float]]:
        """Per destination: attempts, failed attempts, latency sum, latency count (cumulative)."""
        totals: dict[str, list[float]] = {}
        for metric in self.delivery.metrics.attempts.collect():
            for s in metric.samples:
                if s.name.endswith("_total"):
                    row = totals.setdefault(s.labels["destination"], [0.0] * 4)
                    row[0] += s.value
                    row[1] += 0 if s.labels["outcome"] == "delivered" else s.value
        for metric in self.delivery.metrics.duration.collect():
            for s in metric.samples:
                row = totals.setdefault(s.labels["destination"], [0.0] * 4)
                if s.name.endswith("_sum"):
                    row[2] += s.value
                elif s.name.endswith("_count"):
                    row[3] += s.value
        return {name: (r[0], r[1], r[2], r[3]) for name, r in totals.items()}

    async def sample(self) -> None:
        """Take one sample of every destination."""
        now = datetime.now(UTC)
        async with store.guard("stats"), self.delivery.engine.connect() as conn:
            stats = await queries.queue_stats(conn)
        depth: dict[str, int] = {}
        oldest: dict[str, float] = {}
        for stat in stats:
            depth[stat.destination] = depth.get(stat.destination, 0) + stat.count
            age = age_seconds(stat.oldest, now) or 0.0
            oldest[stat.destination] = max(age, oldest.get(stat.destination, 0.0))
        counters = self._counters()
        keep = max(1, int(HOUR_S / self.interval))
        for name in set(counters) | set(depth) | set(self.delivery.destinations):
            now_c = counters.get(name, (0.0, 0.0, 0.0, 0.0))
            prev = self._last.get(name, now_c)
            n, errors = now_c[0] - prev[0], now_c[1] - prev[1]
            count = now_c[3] - prev[3]
            latency = (now_c[2] - prev[2]) / count * 1000 if count else None
            ring = self.samples.setdefault(name, deque(maxlen=keep))
            ring.append(Sample(now, n, errors, latency, depth.get(name, 0), oldest.get(name, 0.0)))
            self._last[name] = now_c

    async def run(self, stop: asyncio.Event) -> None:
        """Sample every ``interval`` seconds until ``stop`` is set (a failed sample is skipped;
        the sample under way finishes: a query cancelled midway can leave its SQLite connection
        and lock to the garbage collector)."""
        while not stop.is_set():
            try:
                await self.sample()
            except HubError as exc:  # the next sample tries again; the chart shows the gap
                log.warning("console_sample_failed", **exc.as_dict())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)

    async def destinations(self) -> list[DestinationView]:
        """Every destination now (breaker, queue) with its last hour of samples."""
        async with store.guard("stats"), self.delivery.engine.connect() as conn:
            stats = await queries.queue_stats(conn)
        now = datetime.now(UTC)
        views: dict[str, DestinationView] = {}
        for name in sorted(set(self.delivery.destinations) | set(self.samples)):
            breaker = self.delivery.breakers.get(name)
            views[name] = DestinationView(name, breaker.state if breaker else "unknown")
            views[name].samples = list(self.samples.get(name, ()))
        for stat in stats:
            view = views.setdefault(stat.destination, DestinationView(stat.destination, "unknown"))
            view.depth[stat.status] = stat.count
            age = age_seconds(stat.oldest, now)
            if stat.status != "dead" and age is not None:
                view.oldest_s = max(age, view.oldest_s or 0.0)
        return list(views.values())
