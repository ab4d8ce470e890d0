"""The money in the ClaimResponse: fee, patient share and reimbursement of an accepted claim.

Where the figures come from: the fee is the one the claim states; the patient share is the tariff
table's fixed share for the patient's status (BIM or not) when the claim's row has one, and the
reimbursement is then fee minus that share (what the mutuality pays under third-party payment).
Otherwise both come from the mutuality's answer (the eAttest answer's MyCareNet item extensions),
one derived from the other when the answer gives only one. An amount nobody states is left out.

Where they go: FHIR R4 ``item[0].adjudication`` and ``total`` with the codes of
``http://terminology.hl7.org/CodeSystem/adjudication`` (``submitted`` the fee, ``copay`` the
patient share, ``benefit`` the reimbursement), and on the claimed service's ``addItem`` the
MyCareNet IG's own extensions be-ext-mycarenet-item-patientfee and -reimbursement. The mutuality's
own fee stays where it was, in ``addItem.net``. When the tariff table gave the figures, two hub
extensions say on what they rest: ``increased-reimbursement`` (valueBoolean: BIM/VT status from
MemberData's CT1) and ``tariff-source`` (valueUri: the table row's source). A refused claim gets
no amounts.

Pure: works on the JSON the ClaimResponse mapping built.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from ehealth_hub.core.mycarenet_types import AttestOutcome, TeleconsultationClaim
from ehealth_hub.fhir.builders import Json, coding, concept
from ehealth_hub.fhir.profiles import HUB_SYSTEM_BASE
from ehealth_hub.mappings.gmd_fhir import BIM_EXT
from ehealth_hub.mappings.mycarenet_fhir import ITEM_PATIENTFEE_EXT, ITEM_REIMBURSEMENT_EXT, money

ADJUDICATION: Final = "http://terminology.hl7.org/CodeSystem/adjudication"
SOURCE_EXT: Final = f"{HUB_SYSTEM_BASE}/StructureDefinition/tariff-source"


def _adjudication(code: str, amount: Decimal) -> Json:
    return {"category": concept([coding(ADJUDICATION, code)]), "amount": money(amount)}


def _answered(answer: AttestOutcome | None, code: str) -> tuple[Decimal | None, Decimal | None]:
    """(patient fee, reimbursement) the mutuality states for the service ``code``."""
    if answer is None:
        return None, None
    item = next((i for i in answer.items if i.code == code), None)
    if item is not None:
        return item.patient_fee, item.reimbursement
    return answer.patient_fee, answer.reimbursed


def figures(
    claim: TeleconsultationClaim, billing: Mapping[str, Any] | None, answer: AttestOutcome | None
) -> tuple[Decimal | None, Decimal | None, bool]:
    """(patient share, reimbursement, from the tariff table?) of ``claim``."""
    fee = claim.fee
    if billing and billing.get("patient_share") is not None:
        fixed = Decimal(str(billing["patient_share"]))
        return fixed, max(fee - fixed, Decimal(0)), True
    share, benefit = _answered(answer, claim.code)
    if benefit is None and share is not None:
        benefit = max(fee - share, Decimal(0))
    if share is None and benefit is not None:
        share = max(fee - benefit, Decimal(0))
    return share, benefit, False


def _on_service(added: list[Json], code: str, extension: list[Json]) -> list[Json]:
    """``added`` with ``extension`` on the service ``code`` (replacing the same URLs)."""
    urls = {e["url"] for e in extension}
    out = [dict(a) for a in added]
    for item in out:
        if any(c.get("code") == code for c in item["productOrService"].get("coding", [])):
            kept = [e for e in item.get("extension", []) if e.get("url") not in urls]
            item["extension"] = [*kept, *extension]
            break
    return out


def with_amounts(
    response: Json,
    claim: TeleconsultationClaim,
    billing: Mapping[str, Any] | None,
    answer: AttestOutcome | None = None,
) -> Json:
    """``response`` with the amounts of ``billing`` (the claim's tariff decision), else those of
    ``answer`` (the mutuality's); see the module docstring."""
    if response.get("outcome") != "complete":
        return response
    share, benefit, tariff = figures(claim, billing, answer)
    lines = [_adjudication("submitted", claim.fee)]
    item_ext = []
    if share is not None:
        lines.append(_adjudication("copay", share))
        item_ext.append({"url": ITEM_PATIENTFEE_EXT, "valueMoney": money(share)})
    if benefit is not None:
        lines.append(_adjudication("benefit", benefit))
        item_ext.append({"url": ITEM_REIMBURSEMENT_EXT, "valueMoney": money(benefit)})
    out = dict(response)
    out["item"] = [{"itemSequence": 1, "adjudication": lines}]
    out["total"] = [dict(line) for line in lines]
    if response.get("addItem") and item_ext:
        out["addItem"] = _on_service(response["addItem"], claim.code, item_ext)
    if billing:
        out["extension"] = [
            *response.get("extension", []),
            {"url": BIM_EXT, "valueBoolean": bool(billing.get("bim"))},
        ]
        if tariff:
            out["extension"].append({"url": SOURCE_EXT, "valueUri": str(billing.get("source"))})
    return out
