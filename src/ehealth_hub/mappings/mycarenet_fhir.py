"""Shared names of the MyCareNet FHIR messages (HL7-BE eAttestation IG 1.0.0, MyCareNet IG 2.1.2,
NIHDI terminology 1.0.0) and small helpers used by the eAttest mappings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from ehealth_hub.fhir import profiles as p
from ehealth_hub.fhir.builders import Json

_BE: Final = "https://www.ehealth.fgov.be/standards/fhir"
EATTEST_REQUEST: Final = f"{_BE}/eattestation/StructureDefinition/be-eattestation-request"
EATTEST_CLAIMRESPONSE: Final = (
    f"{_BE}/eattestation/StructureDefinition/be-eattestation-claimresponse"
)
EATTEST_RESPONSE: Final = f"{_BE}/eattestation/StructureDefinition/be-eattestation-response"
MESSAGEHEADER: Final = f"{_BE}/mycarenet/StructureDefinition/be-messageheader"
OPERATIONOUTCOME: Final = f"{_BE}/mycarenet/StructureDefinition/be-operationoutcome"
MESSAGE_EVENTS: Final = f"{_BE}/mycarenet/CodeSystem/message-events"
DECISION_VALUES: Final = f"{_BE}/mycarenet/CodeSystem/decision-values"
ERRORS_SYSTEM: Final = f"{_BE}/eattestation/CodeSystem/be-cs-eattestation-errors"
TYPES_SYSTEM: Final = f"{_BE}/eattestation/CodeSystem/be-cs-eattestation-types"
CANCEL_REASON_SYSTEM: Final = f"{_BE}/eattestation/CodeSystem/be-cs-eattestation-cancel-reason"
SUPPLEMENT_EXT: Final = f"{_BE}/eattestation/StructureDefinition/be-ext-eattestation-supplement"
ITEM_SUPPLEMENT_EXT: Final = (
    f"{_BE}/eattestation/StructureDefinition/be-ext-eattestation-item-supplement"
)
ID_DOC_EXT: Final = f"{_BE}/nihdi-terminology/StructureDefinition/be-ext-patientidentitydocument"
ID_DOC_INPUT: Final = f"{_BE}/nihdi-terminology/CodeSystem/be-cs-id-doc-input-type"
ID_DOC_MANUAL: Final = f"{_BE}/nihdi-terminology/CodeSystem/be-cs-id-doc-manual-input-justification"
ID_DOC_MEDIA: Final = f"{_BE}/nihdi-terminology/CodeSystem/be-cs-id-doc-media-type"
ID_DOC_MEDIUM_MANUAL: Final = "1"
"""``medium`` (required by be-ext-patientidentitydocument) for a manual entry: the value the IG's
manual-entry examples carry (ex07, ex11); the code system ships without displays."""
NOMENCLATURE_SYSTEM: Final = f"{_BE}/core/NamingSystem/be-ns-nihdi-nomenclature"
EATTEST_ID_SYSTEM: Final = "https://www.mycarenet.be/eattest"
"""The attestation number's system: fixed by be-eattestation-claimresponse (slice eattestid)."""
ITEM_PATIENTFEE_EXT: Final = f"{_BE}/mycarenet/StructureDefinition/be-ext-mycarenet-item-patientfee"
"""MyCareNet IG 2.1.2 BeExtItemPatientFee (Money, on Claim.item and ClaimResponse.addItem): what
the patient pays for the item."""
ITEM_REIMBURSEMENT_EXT: Final = (
    f"{_BE}/mycarenet/StructureDefinition/be-ext-mycarenet-item-reimbursement"
)
"""MyCareNet IG 2.1.2 BeExtItemReimbursement (Money, same contexts): the reimbursement per item."""
CLAIM_TYPE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/claim-type"
APP_CLAIM_SYSTEM: Final = f"{p.HUB_SYSTEM_BASE}/NamingSystem/app-claim"
"""The app's own Claim.id (ClaimResponse.request)."""
EFACT_INVOICE_SYSTEM: Final = f"{p.HUB_SYSTEM_BASE}/NamingSystem/efact-invoice-number"
"""The eFact invoice number (record 20) the hub gave the claim; no BE NamingSystem exists."""
EFACT_BATCH_SYSTEM: Final = f"{p.HUB_SYSTEM_BASE}/NamingSystem/efact-batch-reference"
"""The eFact batch reference (record 10, GenericAsync InputReference) the invoice went in."""
EFACT_ERRORS_SYSTEM: Final = f"{p.HUB_SYSTEM_BASE}/CodeSystem/efact-error"
"""eFact refusals: the result file's line error codes and ``BATCH_REFUSED`` (a refused TAck). The
CIN publishes eFact error codes in its flat-file instructions, not as a FHIR CodeSystem, and
be-cs-eattestation-errors is eAttest's own (it defines only MISSING_BUNDLE_ID)."""
MYCARENET_FAULT_SYSTEM: Final = f"{p.HUB_SYSTEM_BASE}/CodeSystem/mycarenet-fault"
"""A MyCareNet refusal that carries no eAttest error code: the SOAP fault's eHealth code (or
faultcode), ``REJECTED`` for a reject message without an issue code."""
MYCARENET_ENDPOINT: Final = "urn:be:fgov:kbo-bce:organization:cbe-number:0820563481"
IDENTIFICATION_EXT: Final = f"{p.HUB_SYSTEM_BASE}/StructureDefinition/video-identification"
"""How the app identified the patient remotely (valueCode itsme|eid-remote|known-patient)."""
ROUTE_EXT: Final = f"{p.HUB_SYSTEM_BASE}/StructureDefinition/billing-route"
"""Optional: the app asks for ``eattest`` or ``efact`` (valueCode)."""

TELECONSULTATION_CODES: Final = frozenset({"101673", "101695", "101710", "101732"})
"""The codes a teleconsultation Claim may carry (video 101673/101695/101710, telephone 101732);
whether one is reimbursable on the serviced date is the tariff table's answer
(services/billing_rules.py), checked before anything is sent."""
IDENTIFICATION_CODES: Final[dict[str, tuple[str, str]]] = {
    "itsme": ("4", "2"),
    "eid-remote": ("4", "1"),
    "known-patient": ("4", "3"),
}
"""App identification method -> (entryType, reasonManual) of be-ext-patientidentitydocument."""
HCPARTY_OF_QUALITY: Final = {
    "doctor": "persphysician",
    "clinical_psychologist": "persclinicalpsychologist",
    "nurse": "persnurse",
    "physiotherapist": "persphysiotherapist",
}


def money(value: Decimal) -> Json:
    return {"value": float(value), "currency": "EUR"}


def find_identifier(node: Any, system: str) -> str | None:
    if not isinstance(node, dict):
        return None
    found = node.get("identifier")
    for ident in found if isinstance(found, list) else [found]:
        if isinstance(ident, dict) and ident.get("system") == system and ident.get("value"):
            return str(ident["value"])
    return None


def ext_code(node: Json, url: str) -> str | None:
    for ext in node.get("extension", []):
        if ext.get("url") == url:
            return str(ext.get("valueCode") or "") or None
    return None


def attestation_type(quality: str) -> str:
    """The be-cs-eattestation-types code of a claim by a provider of ``quality`` (Claim.subType)."""
    return "generalpractice" if quality == "doctor" else "specializedmedicine"
