"""Wiring of the operations console's services (called by the composition root only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ehealth_hub.fixtures.sandbox import console_accounts
from ehealth_hub.services.console import Operations
from ehealth_hub.services.operations import OperationsService
from ehealth_hub.services.operations_audit import AuditOperations
from ehealth_hub.services.operations_health import Downstreams, HealthMetrics, History
from ehealth_hub.settings import Settings
from ehealth_hub.settings.console import OperatorAccount

if TYPE_CHECKING:
    from ehealth_hub.bootstrap import Container


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
        account_list=lambda: account_list(settings),
    )


def account_list(settings: Settings) -> tuple[OperatorAccount, ...]:
    """The configured console accounts, or the sandbox's when none is configured in the sandbox
    (settings refuse the sandbox's outside it)."""
    accounts = settings.console.accounts
    if not accounts and settings.is_sandbox:
        return console_accounts()
    return accounts
