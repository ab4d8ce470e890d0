"""The ``ehealth-hub`` command (typer): every command of the hub lives in this package.

Each command only parses its options, builds what it needs through the composition root
(:mod:`ehealth_hub.bootstrap`) and calls a service; no business logic lives here. One module per
area (``serve``, ``delivery``, ``audit``, ``auth``, ``trust``, ``translate``, ``simulate``,
``console_password``), registered as one line at the bottom. Nothing else in the hub imports
``cli``; the processes it starts choose their garbage-collector settings here (:mod:`.tuning`).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer
from rich.console import Console

from ehealth_hub import __version__
from ehealth_hub.cli.audit import app as audit_app
from ehealth_hub.cli.auth import sandbox_info, sandbox_token
from ehealth_hub.cli.common import console, settings_or_exit
from ehealth_hub.cli.console_password import console_password
from ehealth_hub.cli.delivery import outbox_app, replay, worker
from ehealth_hub.cli.serve import serve
from ehealth_hub.cli.simulate import simulate_command
from ehealth_hub.cli.translate import translate
from ehealth_hub.cli.trust import register as register_trust
from ehealth_hub.core.errors import HubError

app = typer.Typer(
    name="ehealth-hub",
    help="The interoperability hub for Belgian eHealth: FHIR in front, eHealth behind.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


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


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply the database migrations (SQLite or PostgreSQL, from EHEALTH_HUB_DATABASE_URL)."""
    from ehealth_hub.services.maintenance import upgrade_database

    settings = settings_or_exit()
    try:
        asyncio.run(upgrade_database(settings.database_url, revision))
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


# -- the commands of this package's modules, one line each ----------------------------------------
app.command()(serve)
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
