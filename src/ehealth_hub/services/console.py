"""The operations console's services in one object (built by ``bootstrap/operations.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from ehealth_hub.services.operations import OperationsService
from ehealth_hub.services.operations_audit import AuditOperations
from ehealth_hub.services.operations_health import Downstreams, History
from ehealth_hub.services.operations_users import Accounts
from ehealth_hub.settings.console import OperatorAccount


@dataclass
class Operations:
    """Everything the console uses; one per container (its gauges live in the registry)."""

    deliveries: OperationsService
    audit: AuditOperations
    downstreams: Downstreams
    history: History | None
    account_list: Callable[[], tuple[OperatorAccount, ...]] = tuple
    """The console's password accounts (the composition root chooses configured or sandbox)."""
    accounts: Accounts | None = None
    """Built on first sign-in (hashing the sandbox passwords costs ~0.1 s)."""
    _sampler: asyncio.Task[None] | None = field(default=None, repr=False)
    _stop: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def password_accounts(self) -> Accounts:
        """The console's password accounts."""
        if self.accounts is None:
            self.accounts = Accounts(self.account_list())
        return self.accounts

    def start(self) -> None:
        """Start sampling the delivery metrics for the charts."""
        if self.history is not None and self._sampler is None:
            self._stop.clear()
            self._sampler = asyncio.create_task(
                self.history.run(self._stop), name="console-history"
            )

    async def stop(self) -> None:
        """Stop the sampler (after the sample under way: see History.run)."""
        if self._sampler is not None:
            self._stop.set()
            await asyncio.gather(self._sampler, return_exceptions=True)
            self._sampler = None
