"""The patient's GP from the GMD: ``GET /fhir/Patient?identifier=...`` and the notes' default
recipient.

:class:`GpLookup` answers who the patient's GP is: the consent gate decides first (``read-dossier``,
decided and audited as any read of the patient's data), then MyCareNet GlobalMedicalFile names the
GMD holder on today's date, then the eHealth AddressBook gives the holder's eHealthBox
(:mod:`ehealth_hub.mappings.gmd_fhir` renders it). MyCareNet unreachable: DownstreamUnavailable
(503 with Retry-After), never an answer without GP.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

import structlog

from ehealth_hub.consent.model import AccessRequest
from ehealth_hub.core.errors import NotFound
from ehealth_hub.core.identifiers import mask_ssin
from ehealth_hub.core.mycarenet_types import GmdFacts
from ehealth_hub.core.ports import (
    Actor,
    AddressBookPort,
    GlobalMedicalFilePort,
    ProviderEntry,
)
from ehealth_hub.fhir.builders import Json
from ehealth_hub.mappings import gmd_fhir
from ehealth_hub.services.gate import PermitGate

log = structlog.get_logger(__name__)

INCLUDE: Final = gmd_fhir.INCLUDE
"""The one ``_include`` the GP search offers (the GP's Practitioner)."""


class GpLookup:
    """Who the patient's GP is, as FHIR; see the module docstring."""

    def __init__(
        self,
        gate: PermitGate,
        gmd: GlobalMedicalFilePort,
        addressbook: AddressBookPort,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.gate, self.gmd, self.addressbook, self.clock = gate, gmd, addressbook, clock

    async def search(self, ssin: str, actor: Actor, *, client_id: str, include: bool) -> Json:
        """The searchset Bundle: the patient with the GMD holder as generalPractitioner."""
        await self.gate.permit(AccessRequest(ssin, actor, "read-dossier", client_id=client_id))
        facts = await self.gmd.consult_gmd(actor, ssin, self.clock().date())
        entry = await self._contact(facts, actor)
        log.info(
            "gp_lookup",
            patient=mask_ssin(ssin),
            holder=facts.holder.nihii if facts.holder else None,
        )
        return gmd_fhir.searchset(ssin, facts, entry, include=include)

    async def _contact(self, facts: GmdFacts, actor: Actor) -> ProviderEntry | None:
        """The holder's AddressBook entry (eHealthBox); None when the AddressBook has none."""
        if facts.holder is None:
            return None
        try:
            return await self.addressbook.find_provider(facts.holder.nihii, actor)
        except NotFound:
            return None  # the holder stays named from MyCareNet's answer, without a box
