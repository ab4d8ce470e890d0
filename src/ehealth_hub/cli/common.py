"""What every command module shares: the error console and settings that exit readably."""

from __future__ import annotations

import typer
from rich.console import Console

from ehealth_hub.core.errors import ConfigurationError
from ehealth_hub.settings import Settings, load_settings

console = Console(stderr=True)


def settings_or_exit(**overrides: object) -> Settings:
    """The settings, or a readable message and exit code 2 when they are invalid."""
    try:
        return load_settings(**overrides)
    except ConfigurationError as exc:
        console.print(f"[red]configuration error:[/red] {exc.detail}")
        raise typer.Exit(2) from exc
