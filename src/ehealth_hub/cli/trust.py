"""``ehealth-hub pki ...`` and ``ehealth-hub keystore ...`` (trust layer commands).

Registered in ``cli/__init__.py`` with ``register(app)``. Passphrases are read from a secret file
or an environment variable, never from the command line (which would land in shell history and
``ps``).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ehealth_hub.cli.common import settings_or_exit
from ehealth_hub.core.errors import HubError
from ehealth_hub.trust.keystores import KeystoreEntry, KeystoreRegistry

pki_app = typer.Typer(help="The sandbox PKI.", no_args_is_help=True)
keystore_app = typer.Typer(
    help="Practitioner keystores (PKCS#12) for production.", no_args_is_help=True
)
_out = Console()
_err = Console(stderr=True)


@pki_app.command("init")
def pki_init(
    directory: Annotated[Path, typer.Argument(help="Where to write the PEM and P12 files.")],
    seed: Annotated[str, typer.Option(help="Seed the keys derive from.")] = "ehealth-hub-sandbox",
) -> None:
    """Create (or reuse) the sandbox PKI in DIRECTORY, deterministic from the seed."""
    from ehealth_hub.fixtures.pki import SandboxPki

    pki = SandboxPki.load_or_create(directory, seed=seed)
    _out.print(f"sandbox PKI in {directory} (seed {seed!r})")
    _out.print(f"  root CA        {pki.root.subject.rfc4514_string()}")
    _out.print(f"  STS            sts/sts.crt.pem  sha256 {pki.sts.thumbprint[:16]}…")
    _out.print(
        f"  keystores      auth/<nihii>.p12 (passphrase in {directory / 'p12-passphrase.txt'})"
    )
    _out.print(f"  ETKs           {len({c.thumbprint for c in pki.etks.values()})} in etk/")
    _out.print("  hub TLS        hub/tls.crt.pem")


def _registry() -> KeystoreRegistry:
    settings = settings_or_exit()
    trust = settings.trust
    file = trust.keystore_registry or settings.data_dir / "keystores.json"
    return KeystoreRegistry(
        file,
        environ=os.environ,
        clock=lambda: datetime.now(UTC),
        warning_days=trust.expiry_warning_days,
    )


def _fail(exc: HubError) -> typer.Exit:
    _err.print(f"[red]{exc}[/red]")
    return typer.Exit(1)


@keystore_app.command("add")
def keystore_add(
    nihii: Annotated[str, typer.Argument(help="The practitioner's NIHII (11 digits).")],
    keystore: Annotated[Path, typer.Argument(help="The PKCS#12 file eHealth issued.")],
    passphrase_file: Annotated[
        Path | None, typer.Option(help="File holding the passphrase.")
    ] = None,
    passphrase_env: Annotated[
        str | None, typer.Option(help="Variable holding the passphrase.")
    ] = None,
) -> None:
    """Register a keystore after opening it with its passphrase."""
    entry = KeystoreEntry(
        nihii,
        str(keystore.resolve()),
        str(passphrase_file.resolve()) if passphrase_file else None,
        passphrase_env,
    )
    try:
        status = _registry().add(entry)
    except HubError as exc:
        raise _fail(exc) from exc
    _out.print(f"registered {nihii}: {status.subject}, valid until {status.not_after:%Y-%m-%d}")


@keystore_app.command("list")
def keystore_list() -> None:
    """Registered keystores with their expiry; exit 1 when one expires within the warning days."""
    try:
        statuses = _registry().status()
    except HubError as exc:
        raise _fail(exc) from exc
    for s in statuses:
        flag = "[yellow]EXPIRING[/yellow]" if s.expiring else "ok"
        _out.print(
            f"{s.entry.nihii}  {s.not_after:%Y-%m-%d}  {s.days_left:>5} days  {flag}  "
            f"{s.entry.path}"
        )
    if not statuses:
        _out.print("no keystores registered")
    if any(s.expiring for s in statuses):
        raise typer.Exit(1)


@keystore_app.command("remove")
def keystore_remove(nihii: Annotated[str, typer.Argument(help="The NIHII to unregister.")]) -> None:
    """Unregister a keystore (the file itself is left alone)."""
    try:
        _registry().remove(nihii)
    except HubError as exc:
        raise _fail(exc) from exc
    _out.print(f"removed {nihii}")


def register(app: typer.Typer) -> None:
    """Attach ``pki`` and ``keystore`` to the main command."""
    app.add_typer(pki_app, name="pki")
    app.add_typer(keystore_app, name="keystore")
