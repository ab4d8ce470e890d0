"""Wiring of the operations console's services (called by the composition root only)."""

from __future__ import annotations

from ehealth_hub.bootstrap.foundation import Foundation
from ehealth_hub.services.console import Operations
from ehealth_hub.services.operations import OperationsService
from ehealth_hub.services.operations_audit import AuditOperations
from ehealth_hub.services.operations_health import Downstreams, HealthMetrics, History
from ehealth_hub.settings import Settings
from ehealth_hub.settings.console import OperatorAccount


def build_operations(base: Foundation) -> Operations:
    """The console's services over the engine, audit log, gate and delivery engine."""
    settings = base.settings
    metrics = HealthMetrics(base.metrics)
    history = History(base.delivery, settings.console.history_interval_seconds)
    return Operations(
        deliveries=OperationsService(base.engine, base.audit_log, base.delivery),
        audit=AuditOperations(
            settings, base.engine, base.audit_log, base.consent_gate, base.consent_store, metrics
        ),
        downstreams=Downstreams(base.readiness, metrics),
        history=history,
        account_list=lambda: account_list(settings),
    )


def account_list(settings: Settings) -> tuple[OperatorAccount, ...]:
    """The configured console accounts, or the sandbox's when none is configured in the sandbox
    (settings refuse the sandbox's outside it)."""
    accounts = settings.console.accounts
    if not accounts and settings.is_sandbox:
        from ehealth_hub.fixtures.sandbox import console_accounts  # sandbox only

        return console_accounts()
    return accounts
