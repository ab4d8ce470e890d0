"""The money in the ClaimResponse: fee, patient share and reimbursement of an accepted claim.

FHIR R4 ClaimResponse ``item[0].adjudication`` and ``total`` with the adjudication codes of
``http://terminology.hl7.org/CodeSystem/adjudication``: ``submitted`` = the fee the claim states,
``copay`` = the fixed patient share of the tariff table for the patient's status (BIM or not),
``benefit`` = fee minus that share (what the mutuality pays under third-party payment). The
mutuality's own figure stays where it was, in ``addItem[0].net``. Two hub extensions say on what
the figures rest: ``increased-reimbursement`` (valueBoolean: BIM/VT status from MemberData's CT1)
and ``tariff-source`` (valueUri: the table row's source). A rejected claim gets no amounts.

Pure: works on the JSON the eAttest mapping built.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from ehealth_hub.fhir.builders import Json, coding, concept
from ehealth_hub.fhir.profiles import HUB_SYSTEM_BASE
from ehealth_hub.mappings.gmd_fhir import BIM_EXT
from ehealth_hub.mappings.mycarenet_fhir import money

ADJUDICATION: Final = "http://terminology.hl7.org/CodeSystem/adjudication"
SOURCE_EXT: Final = f"{HUB_SYSTEM_BASE}/StructureDefinition/tariff-source"


def _adjudication(code: str, amount: Decimal) -> Json:
    return {"category": concept([coding(ADJUDICATION, code)]), "amount": money(amount)}


def with_amounts(response: Json, fee: Decimal, billing: Mapping[str, Any] | None) -> Json:
    """``response`` with the amounts of ``billing`` (the claim's tariff decision) added."""
    if not billing or response.get("outcome") != "complete":
        return response
    lines = [_adjudication("submitted", fee)]
    if billing.get("patient_share") is not None:
        share = Decimal(str(billing["patient_share"]))
        benefit = max(fee - share, Decimal(0))
        lines += [_adjudication("copay", share), _adjudication("benefit", benefit)]
    out = dict(response)
    out["item"] = [{"itemSequence": 1, "adjudication": lines}]
    out["total"] = [dict(line) for line in lines]
    out["extension"] = [
        *response.get("extension", []),
        {"url": BIM_EXT, "valueBoolean": bool(billing.get("bim"))},
        {"url": SOURCE_EXT, "valueUri": str(billing.get("source", ""))},
    ]
    return out
