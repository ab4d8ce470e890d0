"""The eHealth AddressBook: a care provider by NIHII (name, quality, eHealthBox address).

Contract: eHealth AddressBook v1 (protocol 1.1, ``urn:be:fgov:ehealth:addressbook:protocol:v1``,
GetProfessionalContactInfo; status as eHealth commons core v2 ``Status/StatusCode@Value``),
SOAP 1.1 document/literal, signed with the actor's SAML holder-of-key token. Own WSDL
``wsdl/addressbook_v1.wsdl``. A read: retried. Unknown NIHII -> NotFound; a Requester status ->
BusinessRejection with the status message.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from ehealth_hub.core.errors import BusinessRejection, NotFound
from ehealth_hub.core.ports import Actor, ProviderEntry
from ehealth_hub.trust.protected import ProtectedSoap

SYSTEM = "addressbook"
SUCCESS: Final = "urn:be:fgov:ehealth:2.0:status:Success"
PROFESSION_QUALITY: Final = {
    "PHYSICIAN": "doctor",
    "CLINICAL_PSYCHOLOGIST": "clinical_psychologist",
    "NURSE": "nurse",
    "PHYSIOTHERAPIST": "physiotherapist",
}
"""AddressBook ProfessionCode -> eHealth quality used by the hub."""


class AddressBookClient:
    """An :class:`~ehealth_hub.core.ports.AddressBookPort` over the eHealth AddressBook."""

    def __init__(
        self,
        endpoint: ProtectedSoap,
        *,
        clock: Callable[[], datetime],
        ids: Callable[[], str] = lambda: "_" + uuid.uuid4().hex,
    ) -> None:
        self.endpoint, self.clock, self.ids = endpoint, clock, ids

    async def find_provider(self, nihii: str, actor: Actor) -> ProviderEntry:
        """The care provider with this NIHII, with their eHealthBox (NotFound when unknown)."""
        answer = await self.endpoint.call(
            actor,
            "GetProfessionalContactInfo",
            idempotent=True,
            Id=self.ids(),
            IssueInstant=self.clock(),
            NIHII=nihii,
        )
        status = answer.Status.StatusCode.Value
        if status != SUCCESS:
            raise BusinessRejection(
                str(answer.Status.StatusMessage or status),
                system=SYSTEM,
                operation="GetProfessionalContactInfo",
                code=str(status).rsplit(":", 1)[-1],
            )
        info = answer.IndividualContactInformation
        if info is None:
            raise NotFound(
                f"no care provider with NIHII {nihii}",
                system=SYSTEM,
                operation="GetProfessionalContactInfo",
            )
        return _entry(nihii, info)


def _entry(nihii: str, info: Any) -> ProviderEntry:
    professions = list(info.ProfessionalInformation)
    chosen = next((p for p in professions if nihii == p.Profession.NIHII), professions[0])
    box = chosen.EHealthBox
    code = str(chosen.Profession.ProfessionCode)
    return ProviderEntry(
        nihii=nihii,
        given=str(info.FirstName),
        family=str(info.LastName),
        quality=PROFESSION_QUALITY.get(code, code.lower()),
        ehbox_id_type=str(box.Type) if box is not None else "NIHII",
        ehbox_id=str(box.Id) if box is not None else "",
        etk_available=box is not None,
    )
