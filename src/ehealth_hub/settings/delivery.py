"""Settings of the outbox and its workers: retry policy per destination, retention."""

from __future__ import annotations

from pydantic import Field

from ehealth_hub.settings.base import Section


class RetryPolicySettings(Section):
    """How one delivery destination is retried (exponential backoff with jitter) and guarded."""

    base_delay_seconds: float = Field(default=2.0, gt=0, le=3600)
    """Delay before the second attempt."""
    factor: float = Field(default=2.0, ge=1.0, le=10.0)
    """Each further delay is the previous one times this factor."""
    max_delay_seconds: float = Field(default=600.0, gt=0, le=86400)
    """Cap of a single delay."""
    jitter: float = Field(default=0.5, ge=0.0, le=1.0)
    """Fraction of the delay drawn at random (0 = none; 0.5 = between half and all of it)."""
    max_attempts: int = Field(default=12, ge=1, le=1000)
    """Attempts before the item becomes a dead letter."""
    max_age_seconds: float = Field(default=86400.0, gt=0)
    """An item older than this after a failed attempt becomes a dead letter."""
    breaker_failures: int = Field(default=5, ge=1, le=1000)
    """Consecutive retryable failures that open the destination's circuit breaker."""
    breaker_reset_seconds: float = Field(default=30.0, gt=0, le=3600)
    """How long an open circuit stays open before one trial delivery (half-open)."""


class RetentionSettings(Section):
    """How long finished deliveries stay readable (``ehealth_hub.delivery.retention``).

    Only completed, failed and dead items are ever purged (with their Task, which is the same
    row); waiting, pending and in-progress items never are. AuditEvents are never purged.
    """

    completed_seconds: float = Field(default=30 * 86400.0, ge=3600)
    """Completed items (and their Task with the downstream's answer) are kept this long."""
    failed_seconds: float = Field(default=90 * 86400.0, ge=3600)
    """Items the downstream refused (business rejection) are kept this long."""
    dead_seconds: float = Field(default=90 * 86400.0, ge=3600)
    """Dead letters are kept this long (replayable until then)."""
    interval_seconds: float = Field(default=300.0, ge=1, le=86400)
    """Each worker runs a purge pass this often."""
    batch_size: int = Field(default=500, ge=1, le=10000)
    """Rows deleted per transaction (small batches: no long locks)."""
    max_batches: int = Field(default=20, ge=1, le=10000)
    """Batches per table in one periodic pass (the rest waits for the next pass)."""


class DeliverySettings(Section):
    """The transactional outbox and its workers (``ehealth_hub.delivery``)."""

    in_process_worker: bool | None = None
    """Run a worker inside the API process; None = only when the database is SQLite."""
    default_policy: RetryPolicySettings = RetryPolicySettings()
    """Retry policy of destinations without an entry in ``policies``."""
    policies: dict[str, RetryPolicySettings] = Field(default_factory=dict)
    """Retry policy per destination name (e.g. ``ehbox``, ``mycarenet``)."""
    lease_seconds: float = Field(default=60.0, ge=1, le=3600)
    """How long a claimed item belongs to its worker unless renewed; the worker renews it every
    third of it while delivering (heartbeat), so a crashed worker's items return after it."""
    poll_interval_seconds: float = Field(default=0.5, gt=0, le=60)
    """Idle wait between claims when the queue is empty."""
    batch_size: int = Field(default=100, ge=1, le=1000)
    """Items claimed per round trip (one per ordering key at most)."""
    concurrency: int = Field(default=8, ge=1, le=1000)
    """Deliveries in flight at once in one worker."""
    webhooks: dict[str, str] = Field(default_factory=dict)
    """Destinations that POST the payload as JSON to a URL (name -> URL), with the message id
    as ``Idempotency-Key``; used for loopback receivers and generic integrations."""
    idempotency_ttl_seconds: float = Field(default=86400.0, ge=60)
    """How long an API Idempotency-Key and its stored answer are kept."""
    retention: RetentionSettings = RetentionSettings()
    """How long finished items stay readable, and how the periodic purge runs."""
    handler_timeout_seconds: float = Field(default=300.0, ge=1, le=3600)
    """Longest one delivery attempt may run; the lease is renewed meanwhile (heartbeat)."""
