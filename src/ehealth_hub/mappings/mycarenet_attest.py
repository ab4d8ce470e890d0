"""eAttest v3: the app's teleconsultation Claim -> the be-eattestation request message, and the
mutuality's answer message -> the hub's outcome and the ClaimResponse the app receives.

Standard: HL7 Belgium eAttestation IG 1.0.0 (FHIR 4.0.1; profiles be-eattestation-request,
be-eattestation-claim, be-eattestation-response, be-eattestation-claimresponse), MyCareNet IG 2.1.2
(be-messageheader, message-events, be-operationoutcome), NIHDI terminology 1.0.0
(be-ext-patientidentitydocument). Structure checked against the IG examples ex01, ex03, ex11, ex12,
ex17 (``../shared/be-fhir-examples/examples/hl7.fhir.be.eattestation``).

Request Bundle (type ``message``): MessageHeader (event ``eattest-create`` or ``eattest-cancel``,
destination MyCareNet ``urn:be:fgov:kbo-bce:organization:cbe-number:0820563481``, source the
provider's ``...:nihii11:<nihii>`` endpoint, focus the Claim), PractitionerRole, Practitioner,
Patient (SSIN and the membership number assigned by the mutuality), Location (the video
consultation: physical type ``vi`` virtual), Claim (subType ``generalpractice``, careTeam with the
NIHII, one item per nomenclature code with servicedDate, fee, the supplement extension and the
patient-identity-document extension saying how the patient was identified remotely).

Not verified: the NIHDI id-doc code systems ship without displays, so the mapping of the app's
identification method (itsme, remote eID, known patient) to ``entryType``/``reasonManual`` codes
in :data:`IDENTIFICATION_CODES` is the hub's reading; it is data, replaceable without code changes.

Pure: ids come from the message id (uuid5), ``now`` is passed in.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from ehealth_hub.core.errors import MappingError
from ehealth_hub.core.mycarenet_types import (
    CareProvider,
    CareReceiver,
    InsurabilityFacts,
    TeleconsultationClaim,
)
from ehealth_hub.fhir import profiles as p
from ehealth_hub.fhir.builders import Json, coding, concept, full_url, identifier, ref, resource
from ehealth_hub.mappings.mycarenet_attest_answer import read_response
from ehealth_hub.mappings.mycarenet_claim import read_app_claim
from ehealth_hub.mappings.mycarenet_claimresponse import claim_response
from ehealth_hub.mappings.mycarenet_fhir import (
    CANCEL_REASON_SYSTEM,
    DECISION_VALUES,
    EATTEST_CLAIMRESPONSE,
    EATTEST_ID_SYSTEM,
    EATTEST_REQUEST,
    EATTEST_RESPONSE,
    ERRORS_SYSTEM,
    HCPARTY_OF_QUALITY,
    ID_DOC_EXT,
    ID_DOC_INPUT,
    ID_DOC_MANUAL,
    ID_DOC_MEDIA,
    ID_DOC_MEDIUM_MANUAL,
    IDENTIFICATION_CODES,
    IDENTIFICATION_EXT,
    ITEM_SUPPLEMENT_EXT,
    MESSAGE_EVENTS,
    MESSAGEHEADER,
    MYCARENET_ENDPOINT,
    NOMENCLATURE_SYSTEM,
    OPERATIONOUTCOME,
    ROUTE_EXT,
    SUPPLEMENT_EXT,
    TELECONSULTATION_CODES,
    TYPES_SYSTEM,
    attestation_type,
    money,
)

__all__ = [
    "CANCEL_REASON_SYSTEM",
    "DECISION_VALUES",
    "EATTEST_CLAIMRESPONSE",
    "EATTEST_ID_SYSTEM",
    "EATTEST_REQUEST",
    "EATTEST_RESPONSE",
    "ERRORS_SYSTEM",
    "HCPARTY_OF_QUALITY",
    "IDENTIFICATION_CODES",
    "IDENTIFICATION_EXT",
    "ID_DOC_EXT",
    "ID_DOC_INPUT",
    "ID_DOC_MANUAL",
    "ITEM_SUPPLEMENT_EXT",
    "MESSAGEHEADER",
    "MESSAGE_EVENTS",
    "MYCARENET_ENDPOINT",
    "NOMENCLATURE_SYSTEM",
    "OPERATIONOUTCOME",
    "ROUTE_EXT",
    "SUPPLEMENT_EXT",
    "TELECONSULTATION_CODES",
    "TYPES_SYSTEM",
    "cancel_request",
    "claim_response",
    "create_request",
    "read_app_claim",
    "read_response",
]


class _Ids:
    """Deterministic entry ids: uuid5 of the message id and the entry's role."""

    def __init__(self, message_id: str) -> None:
        self.base = (
            uuid.UUID(message_id)
            if _is_uuid(message_id)
            else uuid.uuid5(uuid.NAMESPACE_URL, message_id)
        )

    def __call__(self, role: str) -> str:
        return str(uuid.uuid5(self.base, role))


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _header(
    event: str, message_id: str, provider: CareProvider, role_id: str, claim_id: str
) -> Json:
    return resource(
        "MessageHeader",
        message_id,
        MESSAGEHEADER,
        eventCoding=coding(MESSAGE_EVENTS, event),
        destination=[{"name": "MyCareNet", "endpoint": MYCARENET_ENDPOINT}],
        sender=ref(role_id),
        source={
            "endpoint": (
                f"urn:be:fgov:person:ssin:ehealth:1.0:{provider.quality}:nihii11:{provider.nihii}"
            )
        },
        focus=[ref(claim_id)],
    )


def _parties(
    ids: _Ids, provider: CareProvider, patient: CareReceiver, facts: InsurabilityFacts
) -> list[Json]:
    role = resource(
        "PractitionerRole",
        ids("role"),
        p.BE_PRACTITIONER_ROLE,
        practitioner=ref(ids("practitioner")),
        organization={"identifier": identifier(p.CBE_SYSTEM, provider.payment_cbe)}
        if provider.payment_cbe
        else None,
        code=[
            concept(
                [
                    coding(
                        p.CD_HCPARTY_SYSTEM,
                        HCPARTY_OF_QUALITY.get(provider.quality, "persphysician"),
                    )
                ]
            )
        ],
    )
    practitioner = resource(
        "Practitioner",
        ids("practitioner"),
        p.BE_PRACTITIONER,
        identifier=[identifier(p.NIHDI_SYSTEM, provider.nihii)],
        name=[{"family": provider.family, "given": [provider.given]}],
    )
    idents = [identifier(p.SSIN_SYSTEM, patient.ssin)]
    if facts.membership:
        member = identifier(p.INSURANCE_MEMBERSHIP_SYSTEM, facts.membership)
        member["assigner"] = {"identifier": identifier(p.INSURANCE_NUMBER_SYSTEM, facts.mutuality)}
        idents.append(member)
    person = resource(
        "Patient",
        ids("patient"),
        p.BE_PATIENT,
        identifier=idents,
        name=[{"family": patient.family, "given": [patient.given]}] if patient.family else None,
        gender=patient.gender,
    )
    return [role, practitioner, person]


def _entries(resources: list[Json]) -> list[Json]:
    return [{"fullUrl": full_url(r["id"]), "resource": r} for r in resources]


def _bundle(bid: str, now: datetime, resources: list[Json]) -> Json:
    return {
        "resourceType": "Bundle",
        "id": bid,
        "meta": {"profile": [EATTEST_REQUEST]},
        "type": "message",
        "timestamp": now.isoformat(),
        "entry": _entries(resources),
    }


def _claim_shell(ids: _Ids, created: datetime, provider: CareProvider, **fields: Any) -> Json:
    return resource(
        "Claim",
        ids("claim"),
        p.BE_EATTESTATION_CLAIM,
        status="active",
        type=concept([coding("http://terminology.hl7.org/CodeSystem/claim-type", "professional")]),
        subType=concept([coding(TYPES_SYSTEM, attestation_type(provider.quality))]),
        use="claim",
        patient=ref(ids("patient")),
        created=created.isoformat(),
        enterer=ref(ids("role")),
        provider=ref(ids("role")),
        priority=concept([coding("http://terminology.hl7.org/CodeSystem/processpriority", "stat")]),
        insurance=[
            {
                "sequence": 1,
                "focal": True,
                "coverage": {
                    "display": (
                        "use of mandatory insurance coverage, no further details provided here."
                    )
                },
            }
        ],
        **fields,
    )


def create_request(
    claim: TeleconsultationClaim,
    provider: CareProvider,
    facts: InsurabilityFacts,
    *,
    message_id: str,
    now: datetime,
) -> Json:
    """The ``eattest-create`` message Bundle for ``claim`` (deterministic for a message id)."""
    ids = _Ids(message_id)
    entry_type, reason = IDENTIFICATION_CODES[claim.identification]
    identity = {
        "url": ID_DOC_EXT,
        "extension": [
            {"url": "readingDate", "valueDate": claim.serviced.isoformat()},
            {
                "url": "entryType",
                "valueCodeableConcept": concept([coding(ID_DOC_INPUT, entry_type)]),
            },
            {
                "url": "reasonManual",
                "valueCodeableConcept": concept([coding(ID_DOC_MANUAL, reason)]),
            },
            {
                "url": "medium",
                "valueCodeableConcept": concept([coding(ID_DOC_MEDIA, ID_DOC_MEDIUM_MANUAL)]),
            },
        ],
    }
    item = {
        "extension": [identity],
        "sequence": 1,
        "careTeamSequence": [1],
        "productOrService": concept([coding(NOMENCLATURE_SYSTEM, claim.code)]),
        "servicedDate": claim.serviced.isoformat(),
        "locationReference": ref(ids("location")),
        "quantity": {"value": 1},
        "unitPrice": money(claim.fee),
        "net": money(claim.fee),
    }
    fields: dict[str, Any] = {
        "payee": {
            "type": concept(
                [coding("http://terminology.hl7.org/CodeSystem/payeetype", "subscriber")]
            ),
            "party": ref(ids("patient")),
        },
        "careTeam": [
            {
                "sequence": 1,
                "provider": {"identifier": identifier(p.NIHDI_SYSTEM, provider.nihii)},
                "role": concept(
                    [coding("http://terminology.hl7.org/CodeSystem/claimcareteamrole", "primary")]
                ),
                "qualification": concept(
                    [
                        coding(
                            p.CD_HCPARTY_SYSTEM,
                            HCPARTY_OF_QUALITY.get(provider.quality, "persphysician"),
                        )
                    ]
                ),
            }
        ],
        "item": [item],
        "total": money(claim.fee + claim.supplement),
    }
    if claim.supplement:
        fields["extension"] = [{"url": SUPPLEMENT_EXT, "valueMoney": money(claim.supplement)}]
    location = {
        "resourceType": "Location",
        "id": ids("location"),
        "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/Location"]},
        "name": "video consultation",
        "mode": "instance",
        "physicalType": concept(
            [
                coding(
                    "http://terminology.hl7.org/CodeSystem/location-physical-type", "vi", "Virtual"
                )
            ]
        ),
    }
    claim_res = _claim_shell(ids, now, provider, **fields)
    header = _header("eattest-create", message_id, provider, ids("role"), claim_res["id"])
    return _bundle(
        ids("bundle"),
        now,
        [header, *_parties(ids, provider, claim.patient, facts), location, claim_res],
    )


def cancel_request(
    attestation_id: str,
    reason: str,
    provider: CareProvider,
    patient: CareReceiver,
    facts: InsurabilityFacts,
    *,
    message_id: str,
    now: datetime,
) -> Json:
    """The ``eattest-cancel`` message for an accepted attestation (reason: the cancel codes)."""
    if reason not in {"A", "B", "C", "D", "E", "F", "G"}:
        raise MappingError(
            "cancel reason must be A..G", field="reason", rule="eattest.cancel-reason"
        )
    ids = _Ids(message_id)
    claim_res = _claim_shell(
        ids,
        now,
        provider,
        identifier=[identifier(EATTEST_ID_SYSTEM, attestation_id)],
        supportingInfo=[
            {
                "sequence": 1,
                "category": concept(
                    [
                        coding(
                            "http://terminology.hl7.org/CodeSystem/claiminformationcategory", "info"
                        )
                    ]
                ),
                "code": concept([coding(CANCEL_REASON_SYSTEM, reason)]),
            }
        ],
    )
    header = _header("eattest-cancel", message_id, provider, ids("role"), claim_res["id"])
    return _bundle(
        ids("bundle"), now, [header, *_parties(ids, provider, patient, facts), claim_res]
    )
