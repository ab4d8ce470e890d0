"""The ClaimResponses the hub gives the app on every path of the claim delivery (eAttest accepted,
with the tariff table's or the mutuality's amounts, refused by the mutuality, refused by a SOAP
fault; eFact accepted, line refused, batch refused), built by the same mappings as the delivery."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from ehealth_hub.core.mycarenet_types import (
    AttestedItem,
    AttestError,
    AttestOutcome,
    CareProvider,
)
from ehealth_hub.fhir.builders import Json
from ehealth_hub.mappings import mycarenet_attest as m
from ehealth_hub.mappings.claim_amounts import with_amounts
from ehealth_hub.mappings.mycarenet_claimresponse import EfactNumbers
from ehealth_hub.mappings.mycarenet_fhir import EFACT_ERRORS_SYSTEM, MYCARENET_FAULT_SYSTEM
from tests.mycarenet.claims_data import app_claim

SARAH = CareProvider("11530231003", "doctor", "Sarah", "Vermeulen")
ATTESTATION = "134-1-261123-0000001-58"
TARIFF = {
    "patient_share": "4.00",
    "bim": False,
    "source": "https://webappsa.riziv-inami.fgov.be/Nomen/fr/101673",
}
EFACT = EfactNumbers(12345678901234, 123456789012)


def every_path(now: datetime) -> dict[str, Json]:
    """Path name -> the ClaimResponse the app receives on it."""
    claim = m.read_app_claim(app_claim("c-paths", fee=25.40))
    answered = AttestedItem(
        "101673",
        date(2026, 11, 23),
        Decimal(1),
        Decimal("25.40"),
        Decimal("25.40"),
        "agreement",
        Decimal("4.00"),
        Decimal("21.40"),
    )
    outcomes = {
        "eattest-accepted-tariff": (AttestOutcome(True, ATTESTATION, "134"), TARIFF, None),
        "eattest-accepted-answer": (
            AttestOutcome(True, ATTESTATION, "134", items=(answered,)),
            None,
            None,
        ),
        "eattest-refused": (
            AttestOutcome(False, None, "134", errors=(AttestError("DUPLICATE_ATTESTATION"),)),
            TARIFF,
            None,
        ),
        "eattest-soap-fault": (
            AttestOutcome(
                False,
                None,
                "134",
                errors=(AttestError("SOA-02001", system=MYCARENET_FAULT_SYSTEM),),
            ),
            TARIFF,
            None,
        ),
        "efact-accepted": (AttestOutcome(True, None, "900"), TARIFF, EFACT),
        "efact-line-refused": (
            AttestOutcome(
                False, None, "900", errors=(AttestError("MHOUSE", "ssin", "", EFACT_ERRORS_SYSTEM),)
            ),
            TARIFF,
            EFACT,
        ),
        "efact-batch-refused": (
            AttestOutcome(
                False,
                None,
                "900",
                errors=(AttestError("BATCH_REFUSED", system=EFACT_ERRORS_SYSTEM),),
            ),
            TARIFF,
            EFACT,
        ),
    }
    out = {}
    for name, (outcome, billing, efact) in outcomes.items():
        built = m.claim_response(
            claim, outcome, rid=f"cr-{name}", now=now, provider=SARAH, efact=efact
        )
        out[name] = with_amounts(built, claim, billing, outcome)
    return out
