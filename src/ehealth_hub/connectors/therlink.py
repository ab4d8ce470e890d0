"""The eHealth Therapeutic Link service: does a care provider have a link with a patient.

Contract: eHealth Therapeutic Link v1 (namespace ``urn:be:fgov:ehealth:therlink:protocol:v1``;
HasTherapeuticLink, GetTherapeuticLink, PutTherapeuticLink, RevokeTherapeuticLink), SOAP 1.1
document/literal, signed with the actor's SAML holder-of-key token. Own WSDL
``wsdl/therlink_v1.wsdl``. Link types (CD-TL): ``gpconsultation``, ``consultation``,
``hospitalization``, ``referral``; proof types (CD-TL-PROOFTYPE): :data:`PROOF_TYPES`. A write
(Put/Revoke) carries the proof of how the patient was identified and is attempted once; refusals
(``Acknowledge/Success = false``) become BusinessRejection with the service's ErrorCode.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from ehealth_hub.connectors.hubservices_xml import HCPARTY_QUALITY
from ehealth_hub.core.errors import BusinessRejection, DownstreamProtocolError, InvalidInput
from ehealth_hub.core.ports import Actor, TherapeuticLink
from ehealth_hub.trust.protected import ProtectedSoap

SYSTEM = "therlink"
PROOF_TYPES: Final = frozenset(
    {"eidreading", "isireading", "eidsigning", "eidencoding_nocard", "sislreading"}
)
"""How the patient was identified when the link was declared (CD-TL-PROOFTYPE)."""
LINK_TYPES: Final = frozenset({"gpconsultation", "consultation", "hospitalization", "referral"})


def _party(nihii: str, quality: str) -> dict[str, Any]:
    return {"Type": HCPARTY_QUALITY.get(quality, quality), "NIHII": nihii}


def _check(answer: Any, operation: str) -> None:
    ack = getattr(answer, "Acknowledge", None)
    if ack is None:
        raise DownstreamProtocolError(
            "answer without Acknowledge", system=SYSTEM, operation=operation
        )
    if not ack.Success:
        errors = list(ack.Error or [])
        code = str(errors[0].ErrorCode) if errors else "unknown"
        detail = "; ".join(str(e.ErrorDescription or e.ErrorCode) for e in errors) or "refused"
        raise BusinessRejection(detail, system=SYSTEM, operation=operation, code=code)


class TherapeuticLinkClient:
    """A :class:`~ehealth_hub.core.ports.TherapeuticLinkPort` over the eHealth service."""

    def __init__(
        self,
        endpoint: ProtectedSoap,
        *,
        clock: Callable[[], datetime],
        ids: Callable[[], str] = lambda: "_" + uuid.uuid4().hex,
    ) -> None:
        self.endpoint, self.clock, self.ids = endpoint, clock, ids

    def _base(self, actor: Actor, link: dict[str, Any]) -> dict[str, Any]:
        return {
            "Id": self.ids(),
            "IssueInstant": self.clock(),
            "Author": {"HcParty": [_party(actor.nihii, actor.quality)]},
            "TherapeuticLink": link,
        }

    async def has_link(self, patient_ssin: str, actor: Actor) -> bool:
        """HasTherapeuticLink between the patient and the actor."""
        link = {"Patient": {"INSS": patient_ssin}, "HcParty": _party(actor.nihii, actor.quality)}
        try:
            answer = await self.endpoint.call(
                actor, "HasTherapeuticLink", idempotent=True, **self._base(actor, link)
            )
            _check(answer, "HasTherapeuticLink")
        except BusinessRejection as exc:
            if exc.code == "therlink.not.found":
                return False
            raise
        return True

    async def get_links(
        self, patient_ssin: str, actor: Actor, *, hcparty_nihii: str | None = None
    ) -> list[TherapeuticLink]:
        """Active links of the patient (optionally only with one care provider)."""
        link: dict[str, Any] = {"Patient": {"INSS": patient_ssin}}
        if hcparty_nihii is not None:
            link["HcParty"] = {"Type": "persphysician", "NIHII": hcparty_nihii}
        answer = await self.endpoint.call(
            actor, "GetTherapeuticLink", idempotent=True, **self._base(actor, link)
        )
        _check(answer, "GetTherapeuticLink")
        found = answer.TherapeuticLinks.TherapeuticLink if answer.TherapeuticLinks else []
        return [self._link(patient_ssin, item) for item in found]

    def _link(self, patient_ssin: str, item: Any) -> TherapeuticLink:
        if item.HcParty is None or not item.HcParty.NIHII or not item.Type or not item.StartDate:
            raise DownstreamProtocolError(
                "link without care provider, type or start",
                system=SYSTEM,
                operation="GetTherapeuticLink",
            )
        return TherapeuticLink(
            patient_ssin=patient_ssin,
            hcparty_nihii=str(item.HcParty.NIHII),
            link_type=str(item.Type),
            proof_type="",
            start=item.StartDate,
            end=item.EndDate,
        )

    def _write(self, link: TherapeuticLink, actor: Actor) -> dict[str, Any]:
        if link.proof_type not in PROOF_TYPES:
            raise InvalidInput(
                f"proof type {link.proof_type!r} is not one of {sorted(PROOF_TYPES)}",
                field="proof_type",
                rule="CD-TL-PROOFTYPE",
                system=SYSTEM,
            )
        body = {
            "Patient": {"INSS": link.patient_ssin},
            "HcParty": _party(link.hcparty_nihii, actor.quality),
            "Type": link.link_type,
            "StartDate": link.start,
        }
        if link.end is not None:
            body["EndDate"] = link.end
        return {**self._base(actor, body), "Proof": [{"Type": link.proof_type}]}

    async def put_link(self, link: TherapeuticLink, actor: Actor) -> None:
        """Declare a link (a write: attempted once)."""
        answer = await self.endpoint.call(
            actor, "PutTherapeuticLink", idempotent=False, **self._write(link, actor)
        )
        _check(answer, "PutTherapeuticLink")

    async def revoke_link(self, link: TherapeuticLink, actor: Actor) -> None:
        """End a link (a write: attempted once)."""
        answer = await self.endpoint.call(
            actor, "RevokeTherapeuticLink", idempotent=False, **self._write(link, actor)
        )
        _check(answer, "RevokeTherapeuticLink")
