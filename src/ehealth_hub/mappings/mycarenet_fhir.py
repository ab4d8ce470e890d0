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
