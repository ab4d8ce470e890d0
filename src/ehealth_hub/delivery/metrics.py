"""Prometheus metrics of the delivery layer, registered in the container's registry.

* ``ehealth_hub_delivery_attempts_total{destination, outcome}``: delivered, retry, failed, dead;
* ``ehealth_hub_delivery_seconds{destination}``: time of one delivery attempt;
* ``ehealth_hub_delivery_queue_depth{destination, status}``: pending, in-progress and dead items;
* ``ehealth_hub_delivery_oldest_age_seconds{destination}``: age of the oldest unfinished item;
* ``ehealth_hub_delivery_circuit_open{destination}``: 1 while the circuit is open as this process
  sees it (on PostgreSQL the verdict shared by all workers, as adopted at its last claim).

Queue gauges are refreshed from the database every few seconds by each process running the
delivery engine (API or worker), so every process's ``/metrics`` shows the shared queue.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ehealth_hub.delivery.outbox import UNFINISHED, utc
from ehealth_hub.delivery.queries import QueueStat


class DeliveryMetrics:
    """The delivery metrics of one process."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter(
            "ehealth_hub_delivery_attempts",
            "Delivery attempts by destination and outcome",
            ["destination", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "ehealth_hub_delivery_seconds",
            "Duration of one delivery attempt",
            ["destination"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.depth = Gauge(
            "ehealth_hub_delivery_queue_depth",
            "Outbox items by destination and status (unfinished and dead letters)",
            ["destination", "status"],
            registry=registry,
        )
        self.oldest = Gauge(
            "ehealth_hub_delivery_oldest_age_seconds",
            "Age of the oldest unfinished outbox item",
            ["destination"],
            registry=registry,
        )
        self.circuit = Gauge(
            "ehealth_hub_delivery_circuit_open",
            "1 while this process holds the destination's circuit breaker open",
            ["destination"],
            registry=registry,
        )

    def observe_queue(self, stats: Iterable[QueueStat], now: datetime) -> None:
        """Replace the queue gauges with a fresh reading."""
        self.depth.clear()
        self.oldest.clear()
        oldest: dict[str, float] = {}
        for stat in stats:
            self.depth.labels(stat.destination, stat.status).set(stat.count)
            age = age_seconds(stat.oldest, now)
            if stat.status in UNFINISHED and age is not None:
                oldest[stat.destination] = max(age, oldest.get(stat.destination, 0.0))
        for destination, age in oldest.items():
            self.oldest.labels(destination).set(age)


def age_seconds(oldest: datetime | None, now: datetime) -> float | None:
    """Seconds since ``oldest`` (never negative), or None for no item."""
    return None if oldest is None else max(0.0, (now - utc(oldest)).total_seconds())
