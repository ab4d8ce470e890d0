"""``ehealth-hub serve``: the HTTP API in one or several uvicorn processes.

:func:`serve_app` is uvicorn's factory: each API process builds its app from the environment's
settings and, once its container is built, tunes its garbage collector for serving
(:func:`~ehealth_hub.cli.tuning.for_server`).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from fastapi import FastAPI

from ehealth_hub.api.app import create_app
from ehealth_hub.bootstrap import prepare_serving
from ehealth_hub.cli import tuning
from ehealth_hub.cli.common import console, settings_or_exit
from ehealth_hub.settings import Settings, load_settings


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default: settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings).")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="API processes (default: settings).")
    ] = None,
) -> None:
    """Serve the HTTP API (FHIR under /fhir), in one or several processes."""
    import uvicorn

    settings = settings_or_exit()
    processes = workers or settings.api.workers
    _refuse_shared_sqlite(settings, processes)
    asyncio.run(prepare_serving(settings))
    uvicorn.run(
        "ehealth_hub.cli.serve:serve_app",
        factory=True,
        host=host or settings.api.host,
        port=port or settings.api.port,
        workers=processes,
        log_config=None,
        access_log=False,
    )


def serve_app() -> FastAPI:
    """One API process of ``ehealth-hub serve`` (a uvicorn factory: settings from the
    environment, read in each process; :func:`~ehealth_hub.bootstrap.prepare_serving` has
    already run)."""
    return create_app(load_settings(), migrate=False, on_started=tuning.for_server)


def _refuse_shared_sqlite(settings: Settings, processes: int) -> None:
    """Several API processes must share the consent gate's revocations, which only PostgreSQL
    carries between processes (on SQLite each process would keep serving a revoked consent from
    its own decision cache): refuse before anything starts."""
    if processes > 1 and settings.database_url.startswith("sqlite"):
        console.print(
            f"[red]configuration error:[/red] --workers {processes} needs PostgreSQL "
            "(EHEALTH_HUB_DATABASE_URL=postgresql://...): on SQLite the API processes would not "
            "share consent revocations; serve SQLite with --workers 1"
        )
        raise typer.Exit(2)
