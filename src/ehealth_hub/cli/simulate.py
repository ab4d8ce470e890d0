"""``ehealth-hub simulate``: serve every sandbox simulator as one HTTP server."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ehealth_hub.cli.common import settings_or_exit
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.fixtures.simulate import apply_fault, build_simulators


def simulate_command(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 = any free port).")] = 8900,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            help='Fault for the whole run: NAME=JSON, e.g. intrahub.vitalink={"http_status":503}.'
        ),
    ] = None,
) -> None:
    """Serve every sandbox simulator (STS, ETK depot, Consent, TherLink, hubs, AddressBook,
    eHealthBox, GP system, MyCareNet) as one HTTP server; GET / lists the WSDLs."""
    import uvicorn

    settings = settings_or_exit()
    if not settings.is_sandbox:
        Console(stderr=True).print(
            "[red]simulate runs in the sandbox only (EHEALTH_HUB_ENV=sandbox)[/red]"
        )
        raise typer.Exit(2)
    pki = SandboxPki.load_or_create(
        settings.trust.pki_dir or Path(settings.data_dir) / "sandbox" / "pki"
    )
    sims = build_simulators(pki, clock=lambda: datetime.now(UTC))
    plans = sims.fault_plans()
    for spec in fault or []:
        name, _, body = spec.partition("=")
        if name not in plans:
            raise typer.BadParameter(
                f"unknown simulator {name!r}; one of {sorted(plans)}", param_hint="--fault"
            )
        try:
            apply_fault(plans[name], json.loads(body))
        except (ValueError, TypeError, KeyError) as exc:
            raise typer.BadParameter(f"{spec}: {exc}", param_hint="--fault") from exc
    Console(stderr=True).print(f"simulators on http://{host}:{port}/ (index of WSDLs at /)")
    uvicorn.run(sims.app, host=host, port=port, log_config=None, access_log=False)
