"""``ehealth-hub worker``, ``replay`` and ``outbox stats|purge``.

Registered in ``cli/__init__.py``.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console

from ehealth_hub.cli import tuning
from ehealth_hub.cli.common import settings_or_exit
from ehealth_hub.core.errors import HubError

console = Console(stderr=True)


def worker(
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve this worker's Prometheus metrics on this port.")
    ] = None,
) -> None:
    """Deliver outbox items (PostgreSQL: run as many as you like; SQLite: run one)."""
    settings = settings_or_exit()
    if settings.database_url.startswith("sqlite"):
        console.print("[yellow]SQLite: run only one worker per database[/yellow]")
    try:
        asyncio.run(_run_worker(settings, metrics_port))
    except HubError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc


async def _run_worker(settings: object, metrics_port: int | None) -> None:
    # Handlers first: a SIGTERM that arrives while the container is still being built (slow
    # imports on a loaded machine) must still mean a clean stop, not death by the default action.
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_requested.set)
    from prometheus_client import start_http_server

    from ehealth_hub.bootstrap import build_container
    from ehealth_hub.services.maintenance import deliver
    from ehealth_hub.settings import Settings

    assert isinstance(settings, Settings)
    quiet = settings.delivery.model_copy(update={"in_process_worker": False})
    container = await build_container(settings.model_copy(update={"delivery": quiet}))
    engine = container.delivery

    async def stop_on_signal() -> None:
        await stop_requested.wait()
        await engine.stop()

    tuning.for_server()  # a long-running process: what start-up built is frozen
    relay = asyncio.create_task(stop_on_signal(), name="worker-signals")
    if metrics_port is not None:
        start_http_server(metrics_port, addr="127.0.0.1", registry=container.metrics)
    try:
        await deliver(engine)
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
        await container.aclose()


def replay(
    item_id: Annotated[list[str] | None, typer.Option("--id", help="Task/outbox item id.")] = None,
    destination: Annotated[str | None, typer.Option(help="Only this destination.")] = None,
    status: Annotated[str, typer.Option(help="dead, failed, or dead,failed.")] = "dead",
    since: Annotated[
        datetime | None, typer.Option(help="Only items last updated at or after (UTC).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List, do not re-queue.")] = False,
) -> None:
    """Deliver failed or dead-lettered items again (same outbound message id)."""
    settings = settings_or_exit()
    if not item_id and destination is None and since is None and not dry_run:
        console.print("[red]give --id, --destination or --since (or --dry-run to list all)[/red]")
        raise typer.Exit(2)
    from ehealth_hub.services.maintenance import replay_deliveries

    try:
        ids = asyncio.run(
            replay_deliveries(
                settings.database_url,
                tuple(item_id or ()),
                destination,
                status,
                since,
                dry_run=dry_run,
            )
        )
    except (HubError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    for found in ids:
        typer.echo(found)
    verb = "would replay" if dry_run else "replayed"
    console.print(f"[green]{verb} {len(ids)} item(s)[/green]")


outbox_app = typer.Typer(
    help="The delivery outbox: queue summary and retention.", no_args_is_help=True
)


@outbox_app.command("stats")
def stats() -> None:
    """Queue depth per destination and status, and the age of the oldest item (as /metrics)."""
    from ehealth_hub.services.maintenance import outbox_stats

    settings = settings_or_exit()
    try:
        rows = asyncio.run(outbox_stats(settings.database_url))
    except HubError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    typer.echo(f"{'destination':<24} {'status':<12} {'count':>8} {'oldest_age_s':>14}")
    for row in rows:
        age = row.oldest_age_seconds
        shown = f"{age:.1f}" if age is not None else "-"
        typer.echo(f"{row.destination:<24} {row.status:<12} {row.count:>8} {shown:>14}")
    if not rows:
        console.print("[green]the outbox has no unfinished or dead items[/green]")


@outbox_app.command("purge")
def purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, do not delete.")] = False,
) -> None:
    """Delete finished items past ``delivery.retention`` and expired Idempotency-Keys."""
    from ehealth_hub.services.maintenance import purge_outbox

    settings = settings_or_exit()
    try:
        report = asyncio.run(purge_outbox(settings, dry_run=dry_run))
    except HubError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    for status, count in report.outbox.items():
        typer.echo(f"outbox {status}: {count}")
    typer.echo(f"idempotency keys: {report.idempotency_keys}")
    verb = "would purge" if dry_run else "purged"
    console.print(f"[green]{verb} {report.total} row(s); audit events are never purged[/green]")
