"""Wiring of the private insurers for the composition root: the ``insurer`` delivery destination
(consent gate -> minimal Claim -> the insurer's FHIR API) and the hook the ``mycarenet``
destination calls once the mutuality answered (``services.claims_setup`` calls
:func:`wire_insurers`). Its retry policy is ``delivery.policies.insurer`` (else the default)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ehealth_hub.connectors.insurer import LazyInsurers
from ehealth_hub.services.insurer_claims import DESTINATION, InsurerClaims, InsurerDelivery
from ehealth_hub.services.setup import ContainerGate

if TYPE_CHECKING:
    from ehealth_hub.bootstrap import Container


def wire_insurers(container: Container) -> InsurerClaims | None:
    """Register the ``insurer`` destination; the hook for the ``mycarenet`` destination."""
    if container.connectors is None or container.delivery is None:
        return None
    insurers = container.settings.payers.insurers
    if DESTINATION not in container.delivery.destinations:
        adapters = LazyInsurers(container.settings, container.connectors)
        container.delivery.register(
            DESTINATION, InsurerDelivery(ContainerGate(container), adapters, insurers)
        )
    return InsurerClaims(container.engine, insurers)
