"""Wiring of journeys 1 and 2 and of the GP lookup (called by the composition root only, once the
ports exist)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ehealth_hub.connectors.ports import AddressBookPort, MailboxPort, RecordSourcePort
from ehealth_hub.consent.model import AccessRequest
from ehealth_hub.consent.permit import Permit
from ehealth_hub.errors import ConfigurationError
from ehealth_hub.services.access_matrix import AccessMatrix
from ehealth_hub.services.content_cache import ContentCache
from ehealth_hub.services.gate import PermitGate
from ehealth_hub.services.gp import ContainerGmd, GpLookup
from ehealth_hub.services.notes import DESTINATION, NoteDelivery, NotesService
from ehealth_hub.services.records import RecordsService
from ehealth_hub.settings import RecordsSettings

if TYPE_CHECKING:
    from ehealth_hub.bootstrap import Container

SOURCE_NAMES: dict[str, str] = {
    "rsw": "Réseau Santé Wallon",
    "abrumet": "Abrumet / Brussels Health Network",
    "cozo": "CoZo - Collaboratief Zorgplatform",
    "vitalink": "Vitalink",
    "gp": "GP record system",
}
"""Display names of the record sources (Provenance and Composition sections); unknown keys show
as themselves."""


class ContainerGate:
    """The container's consent gate, looked up at call time (wiring order does not matter)."""

    def __init__(self, container: Container) -> None:
        self.container = container

    async def permit(self, request: AccessRequest) -> Permit:
        """Ask the wired consent gate; ConfigurationError when none is wired."""
        gate = self.container.consent_gate
        if gate is None:
            raise ConfigurationError("the consent gate is not wired", system="consent")
        return await gate.permit(request)


def wire_from_ports(container: Container) -> None:
    """Wire the journeys on the container's connector ports and consent gate (bootstrap)."""
    if container.ports is None:
        return
    ports = container.ports
    wire_journeys(
        container,
        gate=ContainerGate(container),
        sources=ports.sources,
        addressbook=ports.addressbook,
        mailbox=ports.mailbox,
        records=container.settings.records,
    )


def wire_journeys(
    container: Container,
    *,
    gate: PermitGate,
    sources: Sequence[RecordSourcePort],
    addressbook: AddressBookPort,
    mailbox: MailboxPort,
    displays: Mapping[str, str] | None = None,
    records: RecordsSettings | None = None,
) -> None:
    """Build the records and notes services and register the ``ehbox`` delivery destination."""
    conf = records or RecordsSettings()
    container.records = RecordsService(
        gate,
        sources,
        displays={**SOURCE_NAMES, **(displays or {})},
        timeout_seconds=conf.source_timeout_seconds,
        contents=ContentCache(
            ttl_seconds=conf.content_cache_seconds,
            max_bytes=conf.content_cache_megabytes * 1024 * 1024,
        ),
        matrix=AccessMatrix.load(),  # sections by provider type (data/access_matrix.csv)
    )
    container.notes = NotesService(
        gate, addressbook, container.engine, gmd=ContainerGmd(container), audit=container.audit_log
    )
    if container.delivery is not None and DESTINATION not in container.delivery.destinations:
        container.delivery.register(DESTINATION, NoteDelivery(gate, mailbox))


def wire_gp(container: Container) -> None:
    """The GP lookup on the container's gate, GlobalMedicalFile port and AddressBook."""
    if container.ports is None or container.gmd is None:
        return
    container.gps = GpLookup(ContainerGate(container), container.gmd, container.ports.addressbook)
