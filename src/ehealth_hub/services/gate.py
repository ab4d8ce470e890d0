"""What the use cases need from the consent gate (``ehealth_hub.consent.gate`` implements it)."""

from __future__ import annotations

from typing import Protocol

from ehealth_hub.consent.model import AccessRequest
from ehealth_hub.core.permit import Permit


class PermitGate(Protocol):
    """Decides an access request, audits the decision, and issues a Permit or raises."""

    async def permit(self, request: AccessRequest) -> Permit:
        """A Permit for ``request``; ConsentDenied (with the reasons) when the gate says no."""
        ...
