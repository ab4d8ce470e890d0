"""The teleconsultation Claim the video app sends (FHIR R4 Claim, one item), validated.

Rules: ``Claim.id`` (the app's id, anchor of idempotency), the patient's SSIN identifier, the
provider's NIHII identifier, exactly one item with a teleconsultation code (101673, 101695,
101710, 101732) or a psychologist session (:data:`~ehealth_hub.mappings.mhc.SESSION_SYSTEM`; the
tariff table decides which is reimbursable when), its servicedDate and net fee (>= 0, 2
decimals), an optional supplement (the eAttestation supplement extension), the hub's
``video-identification`` and ``billing-route`` extensions. Every refusal is a MappingError naming
the field and the rule.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from ehealth_hub.core.errors import MappingError
from ehealth_hub.core.mycarenet_types import CareReceiver, TeleconsultationClaim
from ehealth_hub.fhir import profiles as p
from ehealth_hub.fhir.builders import Json
from ehealth_hub.mappings.mhc import SESSION_SYSTEM, is_session_code
from ehealth_hub.mappings.mycarenet_fhir import (
    IDENTIFICATION_CODES,
    IDENTIFICATION_EXT,
    ROUTE_EXT,
    SUPPLEMENT_EXT,
    TELECONSULTATION_CODES,
    ext_code,
    find_identifier,
)


def _decimal(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise MappingError(f"{field} must be an amount", field=field, rule="amount") from exc
    if amount < 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]  # finite here
        raise MappingError(f"{field} must be >= 0 with 2 decimals", field=field, rule="amount")
    return amount


def _required(value: Any, field: str, rule: str, detail: str) -> Any:
    if value in (None, "", [], {}):
        raise MappingError(detail, field=field, rule=rule)
    return value


def read_app_claim(claim: Json) -> TeleconsultationClaim:
    """Validate the app's Claim; MappingError names the field and the rule."""
    if claim.get("resourceType") != "Claim":
        raise MappingError("expected a Claim", field="resourceType", rule="claim.type")
    claim_id = _required(claim.get("id"), "Claim.id", "claim.id", "Claim.id is required")
    ssin = _required(
        find_identifier(claim.get("patient"), p.SSIN_SYSTEM),
        "Claim.patient.identifier",
        "claim.patient-ssin",
        "Claim.patient must carry the SSIN identifier",
    )
    nihii = _required(
        find_identifier(claim.get("provider"), p.NIHDI_SYSTEM),
        "Claim.provider.identifier",
        "claim.provider-nihii",
        "Claim.provider must carry the NIHII identifier",
    )
    items = _required(claim.get("item"), "Claim.item", "claim.item", "Claim.item is required")
    if len(items) != 1:
        raise MappingError(
            "a teleconsultation claim has one item", field="Claim.item", rule="claim.one-item"
        )
    item = items[0]
    codings = item.get("productOrService", {}).get("coding", [])
    code = next(
        (
            str(c.get("code"))
            for c in codings
            if c.get("code") in TELECONSULTATION_CODES
            or is_session_code(c.get("system"), c.get("code"))
        ),
        None,
    )
    if code is None:
        raise MappingError(
            f"nomenclature code must be one of {sorted(TELECONSULTATION_CODES)}, or a "
            f"psychologist session of {SESSION_SYSTEM}",
            field="Claim.item[0].productOrService",
            rule="claim.teleconsultation-code",
        )
    serviced = _required(
        item.get("servicedDate"),
        "Claim.item[0].servicedDate",
        "claim.serviced-date",
        "Claim.item[0].servicedDate is required",
    )
    try:
        serviced_on = date.fromisoformat(str(serviced))
    except ValueError as exc:
        raise MappingError(
            "servicedDate must be YYYY-MM-DD", field="Claim.item[0].servicedDate", rule="date"
        ) from exc
    fee = _decimal(
        _required(
            item.get("net", {}).get("value"),
            "Claim.item[0].net",
            "claim.fee",
            "Claim.item[0].net is required",
        ),
        "Claim.item[0].net",
    )
    supplement = Decimal("0")
    for ext in claim.get("extension", []):
        if ext.get("url") == SUPPLEMENT_EXT:
            supplement = _decimal(
                ext.get("valueMoney", {}).get("value"), "Claim.extension.supplement"
            )
    how = ext_code(claim, IDENTIFICATION_EXT) or "itsme"
    if how not in IDENTIFICATION_CODES:
        raise MappingError(
            f"identification must be one of {sorted(IDENTIFICATION_CODES)}",
            field="Claim.extension.video-identification",
            rule="claim.identification",
        )
    route = ext_code(claim, ROUTE_EXT)
    if route not in (None, "eattest", "efact"):
        raise MappingError(
            "billing-route must be eattest or efact",
            field="Claim.extension.billing-route",
            rule="claim.route",
        )
    names = [*claim.get("patient", {}).get("display", "").split(" ", 1), ""]
    receiver = CareReceiver(str(ssin), names[0], names[1])
    return TeleconsultationClaim(
        str(claim_id),
        receiver,
        str(nihii),
        code,
        serviced_on,
        fee,
        supplement,
        how,  # type: ignore[arg-type]  # checked against IDENTIFICATION_CODES above
        route,  # type: ignore[arg-type]  # checked above
    )
