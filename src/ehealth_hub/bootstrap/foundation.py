"""What every service of the hub is built on, assembled first by :func:`~ehealth_hub.bootstrap.
build_container`: storage, metrics, readiness checks, the audit trail, the consent gate and the
delivery engine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit.log import AuditLog
from ehealth_hub.consent.gate import ConsentGate
from ehealth_hub.consent.store import ConsentStore
from ehealth_hub.delivery.engine import DeliveryEngine
from ehealth_hub.settings import Settings

ReadinessCheck = Callable[[], Awaitable[None]]
"""Raises a HubError when its downstream is not ready; returns None when it is."""
Closer = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Foundation:
    """The shared parts the services are wired on (one per container)."""

    settings: Settings
    engine: AsyncEngine
    metrics: CollectorRegistry
    audit_log: AuditLog
    consent_store: ConsentStore
    consent_gate: ConsentGate
    delivery: DeliveryEngine
    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
    """Named checks behind ``GET /health/ready`` (the database and each downstream)."""
    closers: list[Closer] = field(default_factory=list)
    """Async callbacks run when the container closes, newest first."""
