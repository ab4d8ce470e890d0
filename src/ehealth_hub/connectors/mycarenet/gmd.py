"""MyCareNet GlobalMedicalFile: ``ConsultGlobalMedicalFile``, who holds the patient's GMD (DMG).

Sent like MemberData and eAttest (:mod:`.memberdata`, :mod:`.attest`): the MyCareNet commons v4
``SendRequestType`` with CommonInput (package licence, the acting care provider's NIHII and
quality, an InputReference), Routing (the patient by SSIN, the reference date) and a Detail
holding the KMEHR ``GMD-CONSULT-HCP`` request (:mod:`ehealth_hub.mappings.mycarenet_gmd`), sealed
for MyCareNet's ETK, plus ``Xades``: the care provider's XAdES over the Detail. The answer's
Detail is sealed by MyCareNet for the hub, unsealed and verified by :class:`.envelope.Envelope`,
and read as :class:`~ehealth_hub.core.mycarenet_types.GmdFacts` (holder hcparty, GMD period,
payment flag).

Not verified (not in ../shared; the hub's own WSDL ``wsdl/mycarenet_v1.wsdl`` describes it):
the namespace ``urn:be:fgov:ehealth:globalmedicalfile:protocol:v1``, the element names
``ConsultGlobalMedicalFileRequest``/``Response`` and the SOAP action; the Detail's
``MessageName`` (``GMD-Consult-CR``, as the commons v4 protocol XSD lists it among the Detail's
message names). The reference connector signs XAdES-T; the hub signs XAdES-BES (no time-stamping
authority in the sandbox, as for eAttest: see :mod:`.xades`).

Errors: transport failure, 5xx, throttling -> DownstreamUnavailable (the API answers 503 with
Retry-After; billing fails closed: nothing is sent); a SOAP business fault -> BusinessRejection.
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Final

import structlog
from lxml import etree

from ehealth_hub.connectors.mycarenet.base import MyCareNetService
from ehealth_hub.connectors.mycarenet.envelope import reference_of
from ehealth_hub.core.identifiers import mask_ssin
from ehealth_hub.core.mycarenet_types import GmdFacts
from ehealth_hub.core.ports import Actor
from ehealth_hub.core.xml import parse_xml
from ehealth_hub.mappings import mycarenet_gmd as mapping

log = structlog.get_logger(__name__)
MESSAGE_NAME: Final = "GMD-Consult-CR"
_KINDS: Final = {"doctor": "persphysician"}


class GlobalMedicalFileClient(MyCareNetService):
    """Implements :class:`~ehealth_hub.core.ports.GlobalMedicalFilePort`."""

    async def consult_gmd(self, actor: Actor, ssin: str, on: date) -> GmdFacts:
        """Who holds ``ssin``'s GMD on ``on`` (holder None when nobody does)."""
        now = self.clock()
        request = mapping.consult_request(
            ssin,
            requester=actor.nihii,
            quality_kind=_KINDS.get(actor.quality, "persphysician"),
            on=on,
            message_id=f"{actor.nihii}.{secrets.token_hex(8)}",
            now=now,
        )
        detail = await self.envelope.detail(
            etree.tostring(request), content_type="text/xml", message_name=MESSAGE_NAME
        )
        signature = await self.envelope.xades(detail, await self.care_provider_key(actor))
        answer = await self.call(
            actor,
            "consultGlobalMedicalFile",
            **self.request_attributes(),
            CommonInput=self.envelope.common_input(
                actor, reference_of("gmd", ssin, on.isoformat(), now.isoformat())
            ),
            Routing=self.envelope.routing(reference_date=on, ssin=ssin),
            Detail=detail,
            Xades=signature,
        )
        content = await self.envelope.open(answer.Return.Detail)
        facts = mapping.read_answer(parse_xml(content), ssin=ssin, on=on)
        log.info(
            "mycarenet.gmd",
            patient=mask_ssin(ssin),
            holder=facts.holder.nihii if facts.holder else None,
        )
        return facts
