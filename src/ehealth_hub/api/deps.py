"""FastAPI dependencies: the typed services of the running app's container.

A route names what it uses (``records: Records``), never the whole container; each dependency is
``async`` (FastAPI would run a plain function in its thread pool, a thread hand-off on every
request for an attribute read).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Depends, Request
from prometheus_client import CollectorRegistry

from ehealth_hub.bootstrap import Container, ReadinessCheck
from ehealth_hub.services.audit_trail import AuditTrail
from ehealth_hub.services.claim_reads import ClaimReads
from ehealth_hub.services.claims import ClaimsService
from ehealth_hub.services.consents import ConsentRecords
from ehealth_hub.services.gp import GpLookup
from ehealth_hub.services.note_reads import NoteReads
from ehealth_hub.services.notes import NotesService
from ehealth_hub.services.records import RecordsService
from ehealth_hub.services.tasks import TaskService
from ehealth_hub.settings import Settings


def container_of(request: Request) -> Container:
    """The container the app was started with."""
    container: Container = request.app.state.container
    return container


async def _settings(request: Request) -> Settings:
    return container_of(request).settings


async def _records(request: Request) -> RecordsService:
    return container_of(request).records


async def _notes(request: Request) -> NotesService:
    return container_of(request).notes


async def _claims(request: Request) -> ClaimsService:
    return container_of(request).claims


async def _gps(request: Request) -> GpLookup:
    return container_of(request).gps


async def _consents(request: Request) -> ConsentRecords:
    return container_of(request).consents


async def _tasks(request: Request) -> TaskService:
    return container_of(request).tasks


async def _note_reads(request: Request) -> NoteReads:
    return container_of(request).note_reads


async def _claim_reads(request: Request) -> ClaimReads:
    return container_of(request).claim_reads


async def _audit_trail(request: Request) -> AuditTrail:
    return container_of(request).audit_trail


async def _wake(request: Request) -> Callable[[], None]:
    return container_of(request).delivery.wake


async def _readiness(request: Request) -> Mapping[str, ReadinessCheck]:
    return container_of(request).readiness


async def _metrics(request: Request) -> CollectorRegistry:
    return container_of(request).metrics


SettingsDep = Annotated[Settings, Depends(_settings)]
Records = Annotated[RecordsService, Depends(_records)]
Notes = Annotated[NotesService, Depends(_notes)]
Claims = Annotated[ClaimsService, Depends(_claims)]
Gps = Annotated[GpLookup, Depends(_gps)]
Consents = Annotated[ConsentRecords, Depends(_consents)]
Tasks = Annotated[TaskService, Depends(_tasks)]
NoteReader = Annotated[NoteReads, Depends(_note_reads)]
ClaimReader = Annotated[ClaimReads, Depends(_claim_reads)]
Trail = Annotated[AuditTrail, Depends(_audit_trail)]
Wake = Annotated[Callable[[], None], Depends(_wake)]
"""Wakes the delivery engine (an item was just put in the outbox)."""
Readiness = Annotated[Mapping[str, ReadinessCheck], Depends(_readiness)]
Metrics = Annotated[CollectorRegistry, Depends(_metrics)]
