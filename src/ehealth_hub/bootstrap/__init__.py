"""The composition root: settings -> storage -> adapters -> consent gate -> services.

The only package that knows every concrete class. :func:`build_container` builds the hub once per
process into an immutable :class:`Container` of typed services; ``api/``, ``console/`` and
``cli/`` receive it and never build adapters themselves. Tests substitute downstream parts at
build time (:class:`Parts`) or a service with :func:`dataclasses.replace`.

One module per area: :mod:`.connectors` (the eHealth connectors and, in the sandbox, the
simulators, built on first use: deriving the sandbox PKI costs seconds) with :mod:`.wiring` and
:mod:`.lazy_ports`; :mod:`.consent` (the gate, revocations, audit checkpoints); :mod:`.delivery`;
:mod:`.auth`; :mod:`.journeys` (records, notes); :mod:`.claims` (MyCareNet); :mod:`.operations`
(the console).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit.heads import HeadSigner
from ehealth_hub.audit.log import AuditLog
from ehealth_hub.auth.tokens import TokenService
from ehealth_hub.bootstrap.auth import build_token_service
from ehealth_hub.bootstrap.claims import LazyMyCareNet, build_claims
from ehealth_hub.bootstrap.connectors import ConnectorStack
from ehealth_hub.bootstrap.consent import (
    build_gate,
    start_checkpoints,
    start_revocation_listener,
    stop_checkpoints,
)
from ehealth_hub.bootstrap.delivery import build_delivery, runs_in_process_worker
from ehealth_hub.bootstrap.foundation import Closer, Foundation, ReadinessCheck
from ehealth_hub.bootstrap.journeys import build_notes, build_records
from ehealth_hub.bootstrap.lazy_ports import LazyPorts
from ehealth_hub.bootstrap.mhc import check_mhc
from ehealth_hub.bootstrap.operations import build_operations
from ehealth_hub.consent.gate import ConsentGate
from ehealth_hub.consent.store import ConsentStore
from ehealth_hub.core.ports import (
    ConsentPort,
    ExclusionPort,
    GlobalMedicalFilePort,
    TherapeuticLinkPort,
)
from ehealth_hub.delivery.engine import DeliveryEngine
from ehealth_hub.logs import configure_logging
from ehealth_hub.services.audit_trail import AuditTrail
from ehealth_hub.services.claim_reads import ClaimReads
from ehealth_hub.services.claims import ClaimsService
from ehealth_hub.services.consents import ConsentRecords
from ehealth_hub.services.console import Operations
from ehealth_hub.services.gate import PermitGate
from ehealth_hub.services.gp import GpLookup
from ehealth_hub.services.idempotency import IdempotencyStore
from ehealth_hub.services.note_reads import NoteReads
from ehealth_hub.services.notes import NotesService
from ehealth_hub.services.records import RecordsService
from ehealth_hub.services.tasks import TaskService
from ehealth_hub.settings import Settings
from ehealth_hub.store.db import create_engine, ping, upgrade

__all__ = ["Container", "Parts", "ReadinessCheck", "build_container", "prepare_serving"]


@dataclass(frozen=True)
class Parts:
    """Stand-ins for downstream parts, given at build time (tests, benchmarks); None: the
    connectors' own."""

    consent: ConsentPort | None = None
    links: TherapeuticLinkPort | None = None
    exclusions: ExclusionPort | None = None
    """The consent gate's three ports (eHealth Consent, Therapeutic Link, hub exclusions)."""
    gate: PermitGate | None = None
    """The gate the use cases ask for permits (default: the consent gate)."""


@dataclass(frozen=True)
class Container:
    """Everything the hub is made of, built once per process by :func:`build_container`."""

    settings: Settings
    engine: AsyncEngine
    metrics: CollectorRegistry
    readiness: Mapping[str, ReadinessCheck]
    """Named checks behind ``GET /health/ready`` (the database and each downstream)."""
    auth: TokenService
    """API client authentication (issues and verifies access tokens)."""
    audit_log: AuditLog
    """The hash-chained audit trail (``await container.audit_log.record(conn, record)``)."""
    consent_store: ConsentStore
    """Per-consultation FHIR Consents recorded through the hub."""
    consent_gate: ConsentGate
    """The consent gate (the only issuer of Permits)."""
    delivery: DeliveryEngine
    """The outbox engine: ``container.delivery.register(name, handler)`` adds a destination."""
    records: RecordsService
    """Journey 1: ``Patient/$summary`` (gate -> record sources -> one document Bundle)."""
    notes: NotesService
    """Journey 2: the consultation note to the patient's GP (gate -> KMEHR -> outbox)."""
    claims: ClaimsService
    """Journey 3: teleconsultation claims to the mutualities (``bootstrap/claims.py``)."""
    gmd: GlobalMedicalFilePort
    """MyCareNet GlobalMedicalFile: who holds the patient's GMD."""
    gps: GpLookup
    """``GET /fhir/Patient``: the patient's GP from the GMD (``services/gp.py``)."""
    consents: ConsentRecords
    """``/fhir/Consent``: consents recorded through the hub, and ``$explain``."""
    tasks: TaskService
    """``/fhir/Task``: follow and replay deliveries."""
    note_reads: NoteReads
    """``GET /fhir/DocumentReference``, ``GET /fhir/Binary``: the notes sent, their KMEHR."""
    claim_reads: ClaimReads
    """``GET /fhir/Claim``, ``GET /fhir/ClaimResponse``: the claims and their answers."""
    audit_trail: AuditTrail
    """``/fhir/AuditEvent``: a patient's audit trail for auditors."""
    idempotency: IdempotencyStore
    """The records behind ``Idempotency-Key``."""
    operations: Operations
    """The operations console's services (``bootstrap/operations.py``)."""
    connectors: ConnectorStack
    """The eHealth connectors (and the sandbox simulators), built on first use."""
    closers: list[Closer] = field(default_factory=list, repr=False)
    """Async callbacks run by :meth:`aclose`, newest first (clients, simulators, engines)."""

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
    parts: Parts | None = None,
) -> Container:
    """Wire the hub for ``settings``; in the sandbox, migrate the database on start-up. Refuses
    (ConfigurationError) an acceptance-only adapter enabled in production (``bootstrap.mhc``)."""
    check_mhc(settings)
    configure_logging(settings.log.level, json_output=settings.log.json_output)
    if migrate if migrate is not None else settings.is_sandbox:
        await upgrade(settings.database_url)
    parts = parts or Parts()
    connectors = ConnectorStack(settings)
    ports = LazyPorts(connectors)
    base = _foundation(settings, metrics or CollectorRegistry(), connectors, ports, parts)
    gate = base.consent_gate if parts.gate is None else parts.gate
    container = _assemble(base, connectors, ports, gate)
    base.delivery.start(worker=runs_in_process_worker(settings))
    base.closers.append(base.delivery.stop)
    container.operations.start()
    base.closers.append(container.operations.stop)
    return container


def _foundation(
    settings: Settings,
    registry: CollectorRegistry,
    connectors: ConnectorStack,
    ports: LazyPorts,
    parts: Parts,
) -> Foundation:
    """Storage, readiness, the audit trail, the consent gate (on the connectors' ports or the
    given stand-ins), its revocation listener, the audit checkpoints and the delivery engine."""
    engine = create_engine(settings.database_url)
    audit = AuditLog(mac_key=HeadSigner.from_settings(settings).mac_key)  # keyed (audit/chain)
    store = ConsentStore()
    gate = build_gate(
        settings,
        engine,
        consent=ports.consent if parts.consent is None else parts.consent,
        links=ports.links if parts.links is None else parts.links,
        exclusions=ports.exclusions if parts.exclusions is None else parts.exclusions,
        store=store,
        audit=audit,
    )
    delivery, webhook_client = build_delivery(settings, engine, registry)
    base = Foundation(settings, engine, registry, audit, store, gate, delivery)
    base.readiness["database"] = lambda: ping(engine)
    base.readiness.update(connectors.readiness())
    base.closers.extend([engine.dispose, connectors.aclose])
    _start_background(base)
    if webhook_client is not None:
        base.closers.append(webhook_client.aclose)
    return base


def _start_background(base: Foundation) -> None:
    """The revocation listener (PostgreSQL) and the periodic audit checkpoints."""
    revocations = start_revocation_listener(base.settings, base.consent_gate)
    if revocations is not None:
        base.closers.append(revocations.stop)
    _, checkpoints, stop = start_checkpoints(base.settings, base.engine)
    base.closers.append(lambda: stop_checkpoints(checkpoints, stop))


def _assemble(
    base: Foundation, connectors: ConnectorStack, ports: LazyPorts, gate: PermitGate
) -> Container:
    """The use cases on ``base``, asking ``gate`` for their permits."""
    settings, engine, audit, delivery = base.settings, base.engine, base.audit_log, base.delivery
    mycarenet = LazyMyCareNet(settings, connectors, lambda: datetime.now(UTC))
    idempotency_ttl = timedelta(seconds=settings.delivery.idempotency_ttl_seconds)
    return Container(
        settings=settings,
        engine=engine,
        metrics=base.metrics,
        readiness=base.readiness,
        auth=build_token_service(settings, engine),
        audit_log=audit,
        consent_store=base.consent_store,
        consent_gate=base.consent_gate,
        delivery=delivery,
        records=build_records(gate, ports.sources, settings.records),
        notes=build_notes(
            gate,
            engine,
            addressbook=ports.addressbook,
            mailbox=ports.mailbox,
            gmd=mycarenet,
            audit=audit,
            delivery=delivery,
        ),
        claims=build_claims(
            settings,
            engine,
            gate=gate,
            ports=mycarenet,
            connectors=connectors,
            delivery=delivery,
            audit=audit,
        ),
        gmd=mycarenet,
        gps=GpLookup(gate, mycarenet, ports.addressbook),
        consents=ConsentRecords(engine, base.consent_store, audit, base.consent_gate),
        tasks=TaskService(engine, audit, wake=delivery.wake),
        note_reads=NoteReads(engine, audit),
        claim_reads=ClaimReads(engine, audit),
        audit_trail=AuditTrail(engine, audit),
        idempotency=IdempotencyStore(engine, idempotency_ttl),
        operations=build_operations(base),
        connectors=connectors,
        closers=base.closers,
    )


async def prepare_serving(settings: Settings) -> None:
    """What ``ehealth-hub serve`` does once, before its API processes start, so that they never
    race each other for it: in the sandbox, migrate the database and create the audit signing
    key (two processes generating it at once would leave one signing with a lost key)."""
    if not settings.is_sandbox:
        return
    await upgrade(settings.database_url)
    HeadSigner.from_settings(settings)
