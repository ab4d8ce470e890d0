"""``ehealth-hub demo``: the sandbox end to end, printed as a report a newcomer can read.

Boots the hub exactly as ``serve`` would (composition root, migrations, API app) on SQLite and
talks to it over HTTP in-process. The journeys are added here as their capabilities land.
"""

from __future__ import annotations

import httpx
from rich.console import Console
from rich.table import Table

from ehealth_hub.api import create_app
from ehealth_hub.settings import Settings


async def run_demo(settings: Settings, console: Console) -> int:
    """Run the sandbox journeys; 0 when every step succeeded."""
    if not settings.is_sandbox:
        console.print("[red]the demo runs only with EHEALTH_HUB_ENV=sandbox[/red]")
        return 2
    app = create_app(settings)
    table = Table(title="ehealth-hub sandbox")
    table.add_column("step")
    table.add_column("result")
    failures = 0
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            for step, path in (("liveness", "/health/live"), ("readiness", "/health/ready")):
                response = await client.get(path)
                ok = response.status_code == 200
                failures += not ok
                table.add_row(step, f"{'ok' if ok else 'FAILED'} ({response.status_code})")
            meta = (await client.get("/fhir/metadata")).json()
            table.add_row("CapabilityStatement", f"fhirVersion {meta.get('fhirVersion')}")
    console.print(table)
    return 1 if failures else 0
