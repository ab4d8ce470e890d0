"""The FastAPI app factory.

``create_app(settings)`` builds the container at start-up (lifespan) unless one is given, so tests
can pass a container wired with fakes. Routers are included here, one line each.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from ehealth_hub import __version__
from ehealth_hub.api.capability import Capabilities
from ehealth_hub.api.errors import install_error_handlers
from ehealth_hub.api.middleware import HttpMetrics, RequestContextMiddleware
from ehealth_hub.api.routes import health, metadata
from ehealth_hub.bootstrap import Container, build_container
from ehealth_hub.settings import Settings


def create_app(settings: Settings, *, container: Container | None = None) -> FastAPI:
    """The hub's API for ``settings`` (or for an already built ``container``)."""
    registry = container.metrics if container is not None else CollectorRegistry()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = container or await build_container(settings, metrics=registry)
        app.state.container = built
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
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, metrics=HttpMetrics(registry))
    app.include_router(health.router)
    app.include_router(metadata.router)
    return app
