"""``ehealth-hub console-password``: the stored form of a password for ``console.accounts``."""

from __future__ import annotations

from typing import Annotated

import typer

from ehealth_hub.services.operations_users import hash_password


def console_password(
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Print the scrypt hash of a console password, for ``console.accounts[].password_hash``."""
    typer.echo(hash_password(password))
