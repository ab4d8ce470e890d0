"""Insurability of a patient on a date, as FHIR: the use case behind
``CoverageEligibilityRequest/$submit`` (the route only speaks HTTP).

MemberData's answer (asked, or reused, by the claims service) becomes a
CoverageEligibilityResponse (:mod:`ehealth_hub.mappings.mycarenet_eligibility`); an insured
patient's answer also says whether they are BIM and who holds their GMD
(:mod:`ehealth_hub.mappings.gmd_fhir`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Final

from ehealth_hub.core.ports import Actor
from ehealth_hub.mappings import mycarenet_eligibility as eligibility
from ehealth_hub.mappings.gmd_fhir import eligibility_extensions
from ehealth_hub.services.billing_rules import is_bim
from ehealth_hub.services.claims import ClaimsService

RESOURCE: Final = eligibility.RESOURCE
"""The request's resource type (``CoverageEligibilityRequest``)."""


async def check(
    claims: ClaimsService, body: dict[str, Any], actor: Actor, *, client_id: str
) -> dict[str, Any]:
    """Read the request, ask (or reuse) MemberData's answer, render it."""
    query = eligibility.read_request(body)
    facts = await claims.eligibility(actor, query.ssin, query.serviced, client_id=client_id)
    answer = eligibility.response(
        query, facts, rid=str(uuid.uuid4()), requestor_nihii=actor.nihii, now=datetime.now(UTC)
    )
    if facts.insured:
        gmd = await claims.gmd(actor, query.ssin, query.serviced)
        answer["extension"] = [
            *answer.get("extension", []),
            *eligibility_extensions(bim=is_bim(facts.ct1), gmd=gmd, requestor_nihii=actor.nihii),
        ]
    return answer
