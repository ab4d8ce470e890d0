"""The ``ehealth-hub`` command (typer).

Each command only parses its options, builds what it needs through the composition root and calls
a service; no business logic lives here. Engineers add their commands as one line at the bottom.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer
from rich.console import Console

from ehealth_hub import __version__
from ehealth_hub.audit.cli import app as audit_app
from ehealth_hub.auth.cli import sandbox_info, sandbox_token
from ehealth_hub.connectors.trust_cli import register as register_trust
from ehealth_hub.console.cli import console_password
from ehealth_hub.core.errors import ConfigurationError, HubError
from ehealth_hub.delivery.cli import outbox_app, replay, worker
from ehealth_hub.fixtures.simulate import simulate_command
from ehealth_hub.mappings.cli import translate
from ehealth_hub.settings import Settings, load_settings

app = typer.Typer(
    name="ehealth-hub",
    help="The interoperability hub for Belgian eHealth: FHIR in front, eHealth behind.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")

console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ehealth-hub {__version__}")
        raise typer.Exit


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """ehealth-hub."""


def settings_or_exit(**overrides: object) -> Settings:
    """The settings, or a readable message and exit code 2 when they are invalid."""
    try:
        return load_settings(**overrides)
    except ConfigurationError as exc:
        console.print(f"[red]configuration error:[/red] {exc.detail}")
        raise typer.Exit(2) from exc


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default: settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings).")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="API processes (default: settings).")
    ] = None,
) -> None:
    """Serve the HTTP API (FHIR under /fhir), in one or several processes."""
    import uvicorn

    from ehealth_hub.api.app import prepare_serving

    settings = settings_or_exit()
    processes = workers or settings.api.workers
    _refuse_shared_sqlite(settings, processes)
    asyncio.run(prepare_serving(settings))
    uvicorn.run(
        "ehealth_hub.api.app:serve_app",
        factory=True,
        host=host or settings.api.host,
        port=port or settings.api.port,
        workers=processes,
        log_config=None,
        access_log=False,
    )


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


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply the database migrations (SQLite or PostgreSQL, from EHEALTH_HUB_DATABASE_URL)."""
    from ehealth_hub.store.db import upgrade

    settings = settings_or_exit()
    try:
        asyncio.run(upgrade(settings.database_url, revision))
    except HubError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    backend = settings.database_url.split("+", 1)[0]
    console.print(f"[green]database upgraded to {revision}[/green] ({backend})")


@app.command()
def demo() -> None:
    """Run the sandbox: boot the hub on SQLite with the simulators and play the journeys."""
    from ehealth_hub.demo import run_demo

    settings = settings_or_exit()
    sys.exit(asyncio.run(run_demo(settings, Console())))


def main() -> None:
    """Console-script entry point."""
    app()


# -- commands of the other packages, one line each ------------------------------------------
app.command()(translate)
app.command("sandbox-token")(sandbox_token)
app.command("sandbox-info")(sandbox_info)
app.add_typer(audit_app, name="audit")
register_trust(app)
app.command()(worker)
app.command()(replay)
app.add_typer(outbox_app, name="outbox")
app.command("simulate")(simulate_command)
app.command("console-password")(console_password)
