"""The FastAPI app factory.

``create_app(settings)`` builds the container at start-up (lifespan) unless one is given, so tests
can pass a container wired with fakes. Routers are included here, one line each.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from ehealth_hub import __version__, console
from ehealth_hub.api.auth import install_auth
from ehealth_hub.api.base_url import AbsoluteLocations
from ehealth_hub.api.capability import Capabilities
from ehealth_hub.api.conditional import ConditionalRead
from ehealth_hub.api.conventions import install_conventions
from ehealth_hub.api.docs import install_docs
from ehealth_hub.api.door import BodyLimit
from ehealth_hub.api.errors import install_error_handlers
from ehealth_hub.api.middleware import HttpMetrics, RequestContextMiddleware
from ehealth_hub.api.openapi import install_openapi
from ehealth_hub.api.operations import install_post_only_operations
from ehealth_hub.api.routes import (
    audit,
    auth,
    binary,
    claim,
    claim_read,
    consent,
    document,
    eligibility,
    health,
    metadata,
    patient,
    patient_gp,
    task,
)
from ehealth_hub.bootstrap import Container, build_container
from ehealth_hub.settings import Settings


def create_app(
    settings: Settings,
    *,
    container: Container | None = None,
    migrate: bool | None = None,
    on_started: Callable[[], None] | None = None,
) -> FastAPI:
    """The hub's API for ``settings`` (or for an already built ``container``); ``migrate``: see
    :func:`~ehealth_hub.bootstrap.build_container`; ``on_started``: called once the container
    is built, before the first request (``ehealth-hub serve`` tunes its process's garbage
    collector there: process-wide settings belong to the entry point, not to the app)."""
    registry = container.metrics if container is not None else CollectorRegistry()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = container or await build_container(settings, metrics=registry, migrate=migrate)
        app.state.container = built
        if on_started is not None:
            on_started()
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
        docs_url=None,  # install_docs: Swagger UI from the package, not a CDN
        redoc_url=None,  # its page loads from a CDN: not served
    )
    app.state.capabilities = Capabilities()
    install_auth(app)  # deny by default: every route included below needs a token
    install_conventions(app)  # FHIR JSON only: _format / Accept else 406, Content-Type else 415
    install_error_handlers(app)
    app.add_middleware(ConditionalRead)  # If-None-Match / If-Modified-Since -> 304, every read
    app.add_middleware(BodyLimit, limits=settings.limits)  # inside the request context below
    app.add_middleware(AbsoluteLocations, public_base_url=settings.api.public_base_url)
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
    claim_read.install(app)  # Claim, ClaimResponse: read the claims and the answers
    binary.install(app)  # Binary: the KMEHR a note was sent as (its sender only)
    eligibility.install(app)  # CoverageEligibilityRequest/$submit: insurability before billing
    consent.install(app)  # Consent CRUD + $explain (consent gate)
    audit.install(app)  # AuditEvent search (auditors)
    install_post_only_operations(app)  # GET Claim/$submit: 405, not a read of id "$submit"
    install_openapi(app)  # /openapi.json as the server behaves (bodies, errors, security)
    install_docs(app)
    if settings.console.enabled:  # the operations console, its own sign-in (console/)
        app.mount("/console", console.build(app, settings))
    return app
