"""``ehealth-hub worker`` and ``ehealth-hub replay`` (registered in ``cli.py``, one line each)."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console

from ehealth_hub.errors import HubError

console = Console(stderr=True)


def worker(
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve this worker's Prometheus metrics on this port.")
    ] = None,
) -> None:
    """Deliver outbox items (PostgreSQL: run as many as you like; SQLite: run one)."""
    from ehealth_hub.cli import settings_or_exit

    settings = settings_or_exit()
    if settings.database_url.startswith("sqlite"):
        console.print("[yellow]SQLite: run only one worker per database[/yellow]")
    try:
        asyncio.run(_run_worker(settings, metrics_port))
    except HubError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc


async def _run_worker(settings: object, metrics_port: int | None) -> None:
    from prometheus_client import start_http_server

    from ehealth_hub.bootstrap import build_container
    from ehealth_hub.delivery.worker import Worker
    from ehealth_hub.settings import Settings

    assert isinstance(settings, Settings)
    quiet = settings.delivery.model_copy(update={"in_process_worker": False})
    container = await build_container(settings.model_copy(update={"delivery": quiet}))
    assert container.delivery is not None
    engine = container.delivery
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(engine.stop()))
    if metrics_port is not None:
        start_http_server(metrics_port, addr="127.0.0.1", registry=container.metrics)
    try:
        await Worker(engine).run()
    finally:
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
    from ehealth_hub.cli import settings_or_exit

    settings = settings_or_exit()
    if not item_id and destination is None and since is None and not dry_run:
        console.print("[red]give --id, --destination or --since (or --dry-run to list all)[/red]")
        raise typer.Exit(2)
    try:
        ids = asyncio.run(
            _replay(
                settings.database_url, tuple(item_id or ()), destination, status, since, dry_run
            )
        )
    except (HubError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    for found in ids:
        typer.echo(found)
    verb = "would replay" if dry_run else "replayed"
    console.print(f"[green]{verb} {len(ids)} item(s)[/green]")


async def _replay(
    url: str,
    ids: tuple[str, ...],
    destination: str | None,
    status: str,
    since: datetime | None,
    dry_run: bool,
) -> list[str]:
    from ehealth_hub.delivery import store
    from ehealth_hub.delivery.outbox import Status
    from ehealth_hub.store.db import create_engine

    statuses = tuple(Status(s.strip()) for s in status.split(","))
    when = since.replace(tzinfo=UTC) if since and since.tzinfo is None else since
    selection = store.ReplayFilter(ids=ids, destination=destination, statuses=statuses, since=when)
    engine = create_engine(url)
    try:
        async with store.guard("replay"), engine.begin() as conn:
            return await store.replay(conn, selection, now=datetime.now(UTC), dry_run=dry_run)
    finally:
        await engine.dispose()
