"""``ehealth-hub audit``: verify the trail, or sign its head now.

``verify`` exits 0 when the chain, every record's MAC and every signed head agree with the
database and no record older than ``audit.checkpoint_interval_seconds`` +
``audit.unsigned_grace_seconds`` lacks a signed head; 1 when a problem is found (each printed with
its kind and sequence number), 2 on a configuration error.
"""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from ehealth_hub.cli.common import settings_or_exit
from ehealth_hub.core.errors import ConfigurationError, HubError
from ehealth_hub.settings import Settings

app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
console = Console()


def _settings() -> Settings:
    return settings_or_exit()


@app.command("verify")
def verify_command() -> None:
    """Check the hash chain and the signed heads; exit 1 on any edit, deletion or truncation."""
    from ehealth_hub.services.maintenance import verify_audit_trail

    try:
        report = asyncio.run(verify_audit_trail(_settings()))
    except HubError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2 if isinstance(exc, ConfigurationError) else 1) from exc
    for problem in report.problems:
        console.print(f"[red]{problem.kind}[/red] at {problem.seq}: {problem.text}")
    status = "[green]intact[/green]" if report.ok else "[red]TAMPERED[/red]"
    console.print(
        f"audit trail {status}: {report.records} records, {report.signed_heads} signed heads"
    )
    raise typer.Exit(0 if report.ok else 1)


@app.command("checkpoint")
def checkpoint_command() -> None:
    """Sign the current chain head and append it to the heads file now."""
    from ehealth_hub.services.maintenance import checkpoint_audit

    try:
        console.print(asyncio.run(checkpoint_audit(_settings())))
    except HubError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
