"""The composition root: settings -> storage -> adapters -> consent gate -> services.

The only module that knows every concrete class. ``api/``, ``cli.py`` and the workers receive a
:class:`Container` and never build adapters themselves, so tests swap a fake in one place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.logs import configure_logging
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
    return container
