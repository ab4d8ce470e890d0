"""The connector ports handed to the consent gate and the services (``core.ports``
Protocols), forwarding to the :class:`~ehealth_hub.bootstrap.connectors.ConnectorStack` once built.

Why they exist: building the stack costs ~1.2 s with the sandbox PKI on disk and ~13 s deriving it,
so the container is wired against these forwarders and the stack is built on the first real call
(a container whose ports are stand-ins, as in the API tests, never pays it). They only forward:
the permits are checked by the connectors themselves, once. One small class per port rather than
one generic ``__getattr__`` proxy, so that mypy still checks each against its Protocol.
"""

from __future__ import annotations

from datetime import date

from ehealth_hub.bootstrap.connectors import ConnectorStack
from ehealth_hub.connectors.gp import GpSystemClient
from ehealth_hub.connectors.intrahub import IntraHubClient
from ehealth_hub.core.permit import Permit
from ehealth_hub.core.ports import (
    Actor,
    Exclusion,
    NationalConsent,
    OutgoingMessage,
    ProviderEntry,
    SendReceipt,
    TherapeuticLink,
    TransactionRef,
)


class LazyPorts:
    """The port objects for the gate and the services, forwarding to the stack once built."""

    def __init__(self, stack: ConnectorStack) -> None:
        self.stack = stack
        self.consent = _LazyConsent(stack)
        self.links = _LazyLinks(stack)
        self.exclusions = _LazyExclusions(stack)
        self.addressbook = _LazyAddressBook(stack)
        self.mailbox = _LazyMailbox(stack)
        conf = stack.settings.endpoints
        self.sources = [_LazySource(stack, k) for k in (*conf.hubs, *conf.gp_systems)]


class _LazyConsent:
    def __init__(self, stack: ConnectorStack) -> None:
        self.stack = stack

    async def get_consent(self, patient_ssin: str, actor: Actor) -> NationalConsent | None:
        return await (await self.stack.get()).consent.get_consent(patient_ssin, actor)

    async def put_consent(self, consent: NationalConsent, actor: Actor) -> None:
        await (await self.stack.get()).consent.put_consent(consent, actor)

    async def revoke_consent(self, patient_ssin: str, actor: Actor) -> None:
        await (await self.stack.get()).consent.revoke_consent(patient_ssin, actor)


class _LazyLinks:
    def __init__(self, stack: ConnectorStack) -> None:
        self.stack = stack

    async def get_links(
        self, patient_ssin: str, actor: Actor, *, hcparty_nihii: str | None = None
    ) -> list[TherapeuticLink]:
        return await (await self.stack.get()).therlink.get_links(
            patient_ssin, actor, hcparty_nihii=hcparty_nihii
        )

    async def put_link(self, link: TherapeuticLink, actor: Actor) -> None:
        await (await self.stack.get()).therlink.put_link(link, actor)

    async def revoke_link(self, link: TherapeuticLink, actor: Actor) -> None:
        await (await self.stack.get()).therlink.revoke_link(link, actor)


class _LazyExclusions:
    def __init__(self, stack: ConnectorStack) -> None:
        self.stack = stack

    async def get_exclusions(self, patient_ssin: str, actor: Actor) -> list[Exclusion]:
        return await (await self.stack.get()).exclusions.get_exclusions(patient_ssin, actor)


class _LazyAddressBook:
    def __init__(self, stack: ConnectorStack) -> None:
        self.stack = stack

    async def find_provider(self, nihii: str, actor: Actor) -> ProviderEntry:
        return await (await self.stack.get()).addressbook.find_provider(nihii, actor)


class _LazyMailbox:
    def __init__(self, stack: ConnectorStack) -> None:
        self.stack = stack

    async def send_message(
        self, permit: Permit, actor: Actor, message: OutgoingMessage
    ) -> SendReceipt:
        return await (await self.stack.get()).ehbox.send_message(permit, actor, message)


class _LazySource:
    """The record source ``name`` (a hub or a GP system) of the built stack."""

    def __init__(self, stack: ConnectorStack, name: str) -> None:
        self.stack, self.name = stack, name

    async def _source(self) -> IntraHubClient | GpSystemClient:
        built = await self.stack.get()
        sources: list[IntraHubClient | GpSystemClient] = [*built.hubs, *built.gp_systems]
        return next(s for s in sources if s.name == self.name)

    async def list_transactions(
        self, permit: Permit, actor: Actor, *, types: tuple[str, ...], since: date | None = None
    ) -> list[TransactionRef]:
        return await (await self._source()).list_transactions(
            permit, actor, types=types, since=since
        )

    async def get_transaction(self, permit: Permit, actor: Actor, ref: TransactionRef) -> bytes:
        return await (await self._source()).get_transaction(permit, actor, ref)
