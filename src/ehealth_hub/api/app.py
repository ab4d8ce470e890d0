"""The FastAPI app factory.

``create_app(settings)`` builds the container at start-up (lifespan) unless one is given, so tests
can pass a container wired with fakes. Routers are included here, one line each.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from ehealth_hub import __version__, console
from ehealth_hub.api.auth import install_auth
from ehealth_hub.api.capability import Capabilities
from ehealth_hub.api.conventions import install_conventions
from ehealth_hub.api.door import BodyLimit
from ehealth_hub.api.errors import install_error_handlers
from ehealth_hub.api.middleware import HttpMetrics, RequestContextMiddleware
from ehealth_hub.api.routes import (
    audit,
    auth,
    claim,
    consent,
    document,
    eligibility,
    health,
    metadata,
    patient,
    patient_gp,
    task,
)
from ehealth_hub.audit.heads import HeadSigner
from ehealth_hub.bootstrap import Container, build_container
from ehealth_hub.settings import Settings, load_settings
from ehealth_hub.store.db import upgrade

YOUNG_GENERATION: Final = 5_000
"""Allocations between two collections of the youngest generation (CPython's default: 700)."""


def tune_gc() -> None:
    """Garbage collection for a long-running server process (``ehealth-hub serve``).

    Why: a read allocates thousands of short-lived dicts (FHIR JSON), and with CPython's
    defaults the full collections walked every long-lived object (the container, the loaded
    modules): a p99 of 107 ms against 17 ms without collections (benchmarks/api.py, 1 client).
    Freezing moves what start-up built out of the collector's reach (it lives as long as the
    process). The young threshold trades pause length for frequency: at 50,000 a young
    collection paused the event loop 30-77 ms; at 5,000 the longest pause is ~7 ms and there
    are a tenth as many as at 700. Reference counting still frees acyclic garbage at once.
    Not for tests or short commands: frozen objects are never collected.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION, middle, old)


async def prepare_serving(settings: Settings) -> None:
    """What ``ehealth-hub serve`` does once, before its API processes start, so that they never
    race each other for it: in the sandbox, migrate the database and create the audit signing
    key (two processes generating it at once would leave one signing with a lost key)."""
    if not settings.is_sandbox:
        return
    await upgrade(settings.database_url)
    HeadSigner.from_settings(settings)


def serve_app() -> FastAPI:
    """One API process of ``ehealth-hub serve`` (a uvicorn factory: settings from the
    environment, read in each process; :func:`prepare_serving` has already run)."""
    return create_app(load_settings(), server=True, migrate=False)


def create_app(
    settings: Settings,
    *,
    container: Container | None = None,
    server: bool = False,
    migrate: bool | None = None,
) -> FastAPI:
    """The hub's API for ``settings`` (or for an already built ``container``); ``server``:
    this process only serves the API (``ehealth-hub serve``), see :func:`tune_gc`;
    ``migrate``: see :func:`~ehealth_hub.bootstrap.build_container`."""
    registry = container.metrics if container is not None else CollectorRegistry()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = container or await build_container(settings, metrics=registry, migrate=migrate)
        app.state.container = built
        if server:
            tune_gc()
        try:
            yield
        finally:
            if container is None:
                await built.aclose()

    app = FastAPI(
        title="ehealth-hub",
        version=__version__,
        summary="FHIR R4 door to the Belgian eHealth systems",
        lifespan=lifespan,
    )
    app.state.capabilities = Capabilities()
    install_auth(app)  # deny by default: every route included below needs a token
    install_conventions(app)  # FHIR _format / Accept: JSON only, else 406
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limits=settings.limits)  # inside the request context below
    app.add_middleware(
        RequestContextMiddleware, metrics=HttpMetrics(registry), timing=settings.api.server_timing
    )
    app.include_router(health.router)
    app.include_router(metadata.router)
    app.include_router(auth.router)
    patient.install(app)  # Patient/$summary (journey 1)
    patient_gp.install(app)  # Patient?identifier=: the GP from the GMD
    document.install(app)  # DocumentReference: the note to the GP (journey 2)
    task.install(app)  # delivery: Task read/search/$replay
    claim.install(app)  # Claim/$submit: the teleconsultation claim (journey 3)
    eligibility.install(app)  # CoverageEligibilityRequest/$submit: insurability before billing
    consent.install(app)  # Consent CRUD + $explain (consent gate)
    audit.install(app)  # AuditEvent search (auditors)
    if settings.console.enabled:  # the operations console, its own sign-in (console/)
        app.mount("/console", console.build(app, settings))
    return app
