"""Wiring of the operations console's services (called by the composition root only)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ehealth_hub.services.operations import OperationsService
from ehealth_hub.services.operations_audit import AuditOperations
from ehealth_hub.services.operations_health import Downstreams, HealthMetrics, History
from ehealth_hub.services.operations_users import Accounts

if TYPE_CHECKING:
    from ehealth_hub.bootstrap import Container


@dataclass
class Operations:
    """Everything the console uses; one per container (its gauges live in the registry)."""

    deliveries: OperationsService
    audit: AuditOperations
    downstreams: Downstreams
    history: History | None
    accounts: Accounts | None = None
    """Built on first sign-in (hashing the sandbox passwords costs ~0.1 s)."""
    _sampler: asyncio.Task[None] | None = field(default=None, repr=False)

    def password_accounts(self) -> Accounts:
        """The console's password accounts."""
        if self.accounts is None:
            self.accounts = Accounts.from_settings(self.audit.settings)
        return self.accounts

    def start(self) -> None:
        """Start sampling the delivery metrics for the charts."""
        if self.history is not None and self._sampler is None:
            self._sampler = asyncio.create_task(self.history.run(), name="console-history")

    async def stop(self) -> None:
        """Stop the sampler."""
        if self._sampler is not None:
            self._sampler.cancel()
            await asyncio.gather(self._sampler, return_exceptions=True)
            self._sampler = None


def build_operations(container: Container) -> Operations:
    """The console's services over the container's engine, audit log, gate and delivery engine."""
    settings = container.settings
    metrics = HealthMetrics(container.metrics)
    delivery = container.delivery
    history = History(delivery, settings.console.history_interval_seconds) if delivery else None
    return Operations(
        deliveries=OperationsService(container.engine, container.audit_log, delivery),
        audit=AuditOperations(
            settings,
            container.engine,
            container.audit_log,
            container.consent_gate,
            container.consent_store,
            metrics,
        ),
        downstreams=Downstreams(container.readiness, metrics),
        history=history,
    )
