"""``ehealth-hub sandbox-token`` and ``ehealth-hub sandbox-info`` (sandbox only).

``sandbox-token`` gets a token exactly as a client would: it signs a client assertion with the
sandbox client's key and runs it through the hub's token service (the ``jti`` is recorded in the
hub's database), then prints the access token. ``sandbox-info`` lists the sandbox clients,
practitioners and patients with their situation (consent, links, exclusions, hubs, mutuality).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from ehealth_hub.auth.assertion import client_assertion, token_request
from ehealth_hub.auth.urls import token_endpoint
from ehealth_hub.bootstrap.auth import build_token_service
from ehealth_hub.cli.common import settings_or_exit
from ehealth_hub.core.errors import HubError
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.auth_clients import SANDBOX_CLIENTS, auth_dir, client_key
from ehealth_hub.services.maintenance import database, upgrade_database
from ehealth_hub.settings import Settings

_err = Console(stderr=True)


def _sandbox_settings() -> Settings:
    settings = settings_or_exit()
    if not settings.is_sandbox:
        _err.print("[red]sandbox commands run only with EHEALTH_HUB_ENV=sandbox[/red]")
        raise typer.Exit(2)
    return settings


async def _issue(
    settings: Settings, client_id: str, scopes: list[str], nihii: str | None, base: str | None
) -> str:
    await upgrade_database(settings.database_url)
    async with database(settings.database_url) as engine:
        service = build_token_service(settings, engine)
        endpoint = token_endpoint(settings, base)
        assertion = client_assertion(client_id, client_key(client_id), endpoint)
        grant = await service.issue(token_request(assertion, scopes, nihii), base=base)
    return grant.access_token


def sandbox_token(
    client: Annotated[str, typer.Option(help="Sandbox client id (see sandbox-info).")],
    practitioner: Annotated[
        str | None, typer.Option(help="Acting practitioner: sandbox key (sarah) or NIHII.")
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(help="Scope to ask for (repeat); default all of the client's."),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            help="The hub's base URL the token is for, e.g. http://127.0.0.1:9000 after "
            "`serve --port 9000` (default: api.public_base_url, else http://<host>:<port>)."
        ),
    ] = None,
) -> None:
    """Print an access token for a sandbox client (sandbox only)."""
    settings = _sandbox_settings()
    known = {c.client_id: c for c in SANDBOX_CLIENTS}
    if client not in known:
        _err.print(f"[red]unknown sandbox client {client!r}; one of {sorted(known)}[/red]")
        raise typer.Exit(2)
    try:
        nihii = sandbox.practitioner(practitioner).nihii if practitioner else None
    except KeyError:
        nihii = practitioner
    scopes = scope or list(known[client].scopes)
    try:
        token = asyncio.run(_issue(settings, client, scopes, nihii, base_url))
    except HubError as exc:
        _err.print(f"[red]token refused:[/red] {exc.detail}")
        raise typer.Exit(1) from exc
    typer.echo(token)


def info_document(settings: Settings) -> dict[str, Any]:
    """The sandbox population as JSON-ready data."""
    folder = auth_dir(settings.data_dir)
    clients = [
        {**asdict(c), "scopes": list(c.scopes), "private_key": str(folder / f"{c.client_id}.pem")}
        for c in SANDBOX_CLIENTS
    ]
    practitioners = [asdict(p) for p in sandbox.PRACTITIONERS]
    patients = [_patient_info(p) for p in sandbox.PATIENTS]
    return {
        "token_endpoint": token_endpoint(settings),
        "clients": clients,
        "practitioners": practitioners,
        "patients": patients,
    }


def _patient_info(p: sandbox.Patient) -> dict[str, Any]:
    return {
        "key": p.key,
        "ssin": p.ssin,
        "name": f"{p.given} {p.family}",
        "birth_date": p.birth_date.isoformat(),
        "situation": p.situation,
        "national_consent": p.national_consent,
        "gp": {"key": p.gp, "nihii": sandbox.practitioner(p.gp).nihii},
        "links": [{"key": k, "nihii": sandbox.practitioner(k).nihii} for k in p.links],
        "exclusions": [{"key": k, "nihii": sandbox.practitioner(k).nihii} for k in p.exclusions],
        "hubs": list(p.hubs),
        "insurability": asdict(p.insurability),
    }


def sandbox_info(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the sandbox's clients, practitioners and patients with their situation."""
    settings = _sandbox_settings()
    document = info_document(settings)
    if as_json:
        typer.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
        return
    out = Console()
    clients = Table("client", "kind", "scopes", "acts for practitioners", title="clients")
    for c in document["clients"]:
        clients.add_row(
            c["client_id"], c["kind"], " ".join(c["scopes"]), str(c["may_act_for_practitioners"])
        )
    people = Table("key", "NIHII", "name", "quality", "role", title="practitioners")
    for p in sandbox.PRACTITIONERS:
        people.add_row(p.key, p.nihii, f"{p.given} {p.family}", p.quality, p.role)
    patients = Table(
        "key", "SSIN", "consent", "links", "hubs", "mutuality", "situation", title="patients"
    )
    for q in sandbox.PATIENTS:
        patients.add_row(
            q.key,
            q.ssin,
            "yes" if q.national_consent else "no",
            ",".join(q.links) or "-",
            ",".join(q.hubs),
            q.insurability.mutuality or "not insured",
            q.situation,
        )
    for table in (clients, people, patients):
        out.print(table)
