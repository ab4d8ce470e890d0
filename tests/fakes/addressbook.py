"""An in-memory eHealth AddressBook (``AddressBookPort``) holding the sandbox practitioners."""

from __future__ import annotations

from ehealth_hub.core.errors import NotFound
from ehealth_hub.core.ports import Actor, ProviderEntry
from ehealth_hub.fixtures import sandbox


class SandboxAddressBook:
    """Finds sandbox practitioners by NIHII; NotFound for anyone else."""

    def __init__(self) -> None:
        self.lookups: list[str] = []

    async def find_provider(self, nihii: str, actor: Actor) -> ProviderEntry:
        self.lookups.append(nihii)
        try:
            p = sandbox.practitioner(nihii)
        except KeyError:
            raise NotFound(
                "no such care provider in the AddressBook", system="addressbook"
            ) from None
        return ProviderEntry(p.nihii, p.given, p.family, p.quality, "NIHII", p.nihii)
