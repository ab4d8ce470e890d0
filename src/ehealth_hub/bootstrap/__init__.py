"""The composition root: settings -> storage -> adapters -> consent gate -> services.

The only module that knows every concrete class. ``api/``, ``cli/`` and the workers receive a
:class:`Container` and never build adapters themselves, so tests swap a fake in one place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit.heads import HeadSigner
from ehealth_hub.audit.log import AuditLog
from ehealth_hub.auth.tokens import TokenService
from ehealth_hub.bootstrap.auth import build_token_service
from ehealth_hub.bootstrap.claims import wire_claims
from ehealth_hub.bootstrap.connectors import ConnectorStack
from ehealth_hub.bootstrap.consent import (
    build_gate,
    start_checkpoints,
    start_revocation_listener,
    stop_checkpoints,
)
from ehealth_hub.bootstrap.delivery import build_delivery, runs_in_process_worker
from ehealth_hub.bootstrap.journeys import wire_from_ports, wire_gp
from ehealth_hub.bootstrap.lazy_ports import LazyPorts
from ehealth_hub.bootstrap.operations import build_operations
from ehealth_hub.consent.gate import ConsentGate
from ehealth_hub.consent.store import ConsentStore
from ehealth_hub.core.ports import GlobalMedicalFilePort
from ehealth_hub.delivery.engine import DeliveryEngine
from ehealth_hub.logs import configure_logging
from ehealth_hub.services.claims import ClaimsService
from ehealth_hub.services.console import Operations
from ehealth_hub.services.gp import GpLookup
from ehealth_hub.services.notes import NotesService
from ehealth_hub.services.records import RecordsService
from ehealth_hub.settings import Settings
from ehealth_hub.store.db import create_engine, ping, upgrade

ReadinessCheck = Callable[[], Awaitable[None]]
"""Raises a HubError when its downstream is not ready; returns None when it is."""


@dataclass
class Container:
    """Everything the hub is made of, built once per process by :func:`build_container`."""

    settings: Settings
    engine: AsyncEngine
    metrics: CollectorRegistry
    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
    """Named checks behind ``GET /health/ready`` (the database and each downstream)."""
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Async callbacks run by :meth:`aclose`, newest first (clients, simulators, engines)."""
    auth: TokenService | None = None
    """API client authentication (issues and verifies access tokens); None refuses every token."""
    records: RecordsService | None = None
    """Journey 1: ``Patient/$summary`` (gate -> record sources -> one document Bundle)."""
    notes: NotesService | None = None
    """Journey 2: the consultation note to the patient's GP (gate -> KMEHR -> outbox)."""
    delivery: DeliveryEngine | None = None
    """The outbox engine: ``container.delivery.register(name, handler)`` adds a destination."""
    claims: ClaimsService | None = None
    """Journey 3: teleconsultation claims to the mutualities (``bootstrap/claims.py``)."""
    gmd: GlobalMedicalFilePort | None = None
    """MyCareNet GlobalMedicalFile: who holds the patient's GMD (``bootstrap/claims.py``)."""
    gps: GpLookup | None = None
    """``GET /fhir/Patient``: the patient's GP from the GMD (``services.gp``)."""
    operations: Operations | None = None
    """The operations console's services (``bootstrap/operations.py``)."""

    consent_store: ConsentStore = field(default_factory=ConsentStore)
    """Per-consultation FHIR Consents recorded through the hub."""
    audit_log: AuditLog = field(default_factory=AuditLog)
    """The hash-chained audit trail (``await container.audit_log.record(conn, record)``)."""
    consent_gate: ConsentGate | None = None
    """The consent gate (the only issuer of Permits); None until its ports are wired."""
    connectors: ConnectorStack | None = None
    """The eHealth connectors (and the sandbox simulators), built on first use."""
    ports: LazyPorts | None = None
    """Consent, links, exclusions, record sources, AddressBook, eHealthBox over ``connectors``."""

    async def aclose(self) -> None:
        """Release every resource the container opened."""
        for close in reversed(self.closers):
            await close()
        self.closers.clear()


async def build_container(
    settings: Settings,
    *,
    migrate: bool | None = None,
    metrics: CollectorRegistry | None = None,
) -> Container:
    """Wire the hub for ``settings``; in the sandbox, migrate the database on start-up."""
    configure_logging(settings.log.level, json_output=settings.log.json_output)
    if migrate if migrate is not None else settings.is_sandbox:
        await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    registry = metrics if metrics is not None else CollectorRegistry()
    container = Container(settings=settings, engine=engine, metrics=registry)
    container.closers.append(engine.dispose)
    container.readiness["database"] = lambda: ping(engine)
    container.connectors = ConnectorStack(settings)
    container.ports = LazyPorts(container.connectors)
    container.readiness.update(container.connectors.readiness())
    container.closers.append(container.connectors.aclose)
    # the one AuditLog of the process, keyed: each record's MAC (audit/chain.py)
    container.audit_log = AuditLog(mac_key=HeadSigner.from_settings(settings).mac_key)
    ports = container.ports  # the consent gate on the connectors' ports (bootstrap/consent.py)
    container.consent_gate = build_gate(
        settings,
        engine,
        consent=ports.consent,
        links=ports.links,
        exclusions=ports.exclusions,
        store=container.consent_store,
        audit=container.audit_log,
    )
    revocations = start_revocation_listener(settings, container.consent_gate)
    if revocations is not None:
        container.closers.append(revocations.stop)
    container.auth = build_token_service(settings, engine)
    _, checkpoints = start_checkpoints(settings, engine)
    container.closers.append(lambda: stop_checkpoints(checkpoints))
    container.delivery, webhook_client = build_delivery(settings, engine, registry)
    if webhook_client is not None:
        container.closers.append(webhook_client.aclose)
    wire_from_ports(container)  # journeys 1 and 2: records and notes (bootstrap/journeys.py)
    wire_claims(container)  # journey 3: teleconsultation claims (bootstrap/claims.py)
    wire_gp(container)  # the patient's GP from the GMD (services/gp.py, bootstrap/journeys.py)
    container.delivery.start(worker=runs_in_process_worker(settings))
    container.closers.append(container.delivery.stop)
    container.operations = build_operations(container)  # console (bootstrap/operations.py)
    container.operations.start()
    container.closers.append(container.operations.stop)
    return container


async def prepare_serving(settings: Settings) -> None:
    """What ``ehealth-hub serve`` does once, before its API processes start, so that they never
    race each other for it: in the sandbox, migrate the database and create the audit signing
    key (two processes generating it at once would leave one signing with a lost key)."""
    if not settings.is_sandbox:
        return
    await upgrade(settings.database_url)
    HeadSigner.from_settings(settings)
