"""MyCareNet MemberData v1 adapter: a patient's insurability on a date.

The Detail carries the SAML 2.0 AttributeQuery of :mod:`ehealth_hub.mappings.mycarenet_insurability`
(facet ``urn:be:cin:nippin:insurability``); the answer's Detail is the SAML Response, unsealed and
verified by the envelope, then read by the same mapping. Routing names the patient by SSIN.
"""

from __future__ import annotations

import secrets
from datetime import date

import structlog
from lxml import etree

from ehealth_hub.connectors.mycarenet.base import MyCareNetService
from ehealth_hub.connectors.mycarenet.envelope import reference_of
from ehealth_hub.core.identifiers import mask_ssin
from ehealth_hub.core.mycarenet_types import InsurabilityFacts
from ehealth_hub.core.ports import Actor
from ehealth_hub.core.xml import parse_xml
from ehealth_hub.mappings import mycarenet_insurability as mapping

log = structlog.get_logger(__name__)


class MemberDataClient(MyCareNetService):
    """Implements :class:`~ehealth_hub.core.ports.InsurabilityPort`."""

    request_type = "invoicing"
    """Facet dimension requestType: ``invoicing`` (a claim follows) or ``information``."""

    async def consult(self, actor: Actor, ssin: str, on: date) -> InsurabilityFacts:
        """What the patient's mutuality answers for ``on``."""
        query = mapping.attribute_query(
            ssin,
            reference_date=on,
            requester_nihii=actor.nihii,
            request_type=self.request_type,
            query_id="_" + secrets.token_hex(16),
            now=self.clock(),
        )
        detail = await self.envelope.detail(etree.tostring(query), content_type="text/xml")
        answer = await self.call(
            actor,
            "consultMemberData",
            **self.request_attributes(),
            CommonInput=self.envelope.common_input(
                actor, reference_of("memberdata", ssin, on.isoformat(), self.clock().isoformat())
            ),
            Routing=self.envelope.routing(reference_date=on, ssin=ssin),
            Detail=detail,
        )
        content = await self.envelope.open(answer.Return.Detail)
        facts = mapping.read_answer(parse_xml(content), ssin=ssin, reference_date=on)
        log.info(
            "mycarenet.memberdata",
            patient=mask_ssin(ssin),
            insured=facts.insured,
            mutuality=facts.mutuality,
        )
        return facts
