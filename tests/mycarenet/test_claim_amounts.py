"""Where the ClaimResponse's money comes from: the tariff table when the claim's row has a patient
share, else the mutuality's answer (the MyCareNet item extensions), one figure derived from the
other when the answer gives only one; and where it goes (R4 totals, item adjudication, the
MyCareNet extensions on the claimed service)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from ehealth_hub.core.mycarenet_types import AttestedItem, AttestOutcome
from ehealth_hub.fhir.builders import Json
from ehealth_hub.mappings import mycarenet_attest as m
from ehealth_hub.mappings.claim_amounts import SOURCE_EXT, figures, with_amounts
from ehealth_hub.mappings.mycarenet_fhir import ITEM_PATIENTFEE_EXT, ITEM_REIMBURSEMENT_EXT
from tests.mycarenet.claims_data import app_claim

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
CLAIM = m.read_app_claim(app_claim("c-money", fee=25.40))
TARIFF = {"patient_share": "4.00", "bim": False, "source": "https://example.org/row"}
D = Decimal


def _answer(patient_fee: str | None, reimbursement: str | None, code: str = "101673") -> Any:
    item = AttestedItem(
        code,
        date(2026, 11, 23),
        D(1),
        D("25.40"),
        D("25.40"),
        "agreement",
        D(patient_fee) if patient_fee else None,
        D(reimbursement) if reimbursement else None,
    )
    return AttestOutcome(True, "134-1-261123-0000001-58", "134", items=(item,))


@pytest.mark.parametrize(
    ("billing", "answer", "expected"),
    [
        (TARIFF, _answer("9.00", "16.40"), (D("4.00"), D("21.40"), True)),
        (None, _answer("9.00", "16.40"), (D("9.00"), D("16.40"), False)),
        (None, _answer(None, "20.40"), (D("5.00"), D("20.40"), False)),
        (None, _answer("6.00", None), (D("6.00"), D("19.40"), False)),
        ({**TARIFF, "patient_share": None}, _answer("6.00", None), (D("6.00"), D("19.40"), False)),
        (None, _answer("6.00", None, code="101695"), (None, None, False)),
        (None, None, (None, None, False)),
    ],
    ids=[
        "tariff-first",
        "answer",
        "share-from-reimbursement",
        "reimbursement-from-share",
        "row-without-share",
        "answer-for-another-service",
        "nobody-says",
    ],
)
def test_the_figures_come_from_the_tariff_table_else_the_answer(
    billing: Any, answer: Any, expected: tuple[Any, ...]
) -> None:
    assert figures(CLAIM, billing, answer) == expected


def _amounts(response: Json) -> dict[str, Decimal]:
    return {
        t["category"]["coding"][0]["code"]: D(str(t["amount"]["value"])) for t in response["total"]
    }


def test_the_amounts_go_to_the_totals_and_the_mycarenet_item_extensions() -> None:
    answer = _answer("9.00", "16.40")
    built = m.claim_response(CLAIM, answer, rid="r", now=NOW)
    out = with_amounts(built, CLAIM, TARIFF, answer)
    assert _amounts(out) == {"submitted": D("25.40"), "copay": D("4.00"), "benefit": D("21.40")}
    assert out["item"][0]["adjudication"] == out["total"]
    # the tariff's figures replace the answer's on the claimed service, once each
    assert out["addItem"][0]["extension"] == [
        {"url": ITEM_PATIENTFEE_EXT, "valueMoney": {"value": 4.0, "currency": "EUR"}},
        {"url": ITEM_REIMBURSEMENT_EXT, "valueMoney": {"value": 21.4, "currency": "EUR"}},
    ]
    assert {"url": SOURCE_EXT, "valueUri": "https://example.org/row"} in out["extension"]


def test_without_any_figure_only_the_fee_is_stated_and_a_refusal_gets_nothing() -> None:
    bare = AttestOutcome(True, "134-1-261123-0000001-58", "134")
    out = with_amounts(m.claim_response(CLAIM, bare, rid="r", now=NOW), CLAIM, None, bare)
    assert _amounts(out) == {"submitted": D("25.40")}
    assert "extension" not in out["addItem"][0]
    refused = AttestOutcome(False, None, "134")
    built = m.claim_response(CLAIM, refused, rid="r", now=NOW)
    assert with_amounts(built, CLAIM, TARIFF, refused) == built


def test_the_answers_amount_extensions_are_read_per_service() -> None:
    money = {"value": 25.4, "currency": "EUR"}
    response = {
        "resourceType": "ClaimResponse",
        "identifier": [{"system": m.EATTEST_ID_SYSTEM, "value": "134-1-261123-0000001-58"}],
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/claim-type",
                    "code": "professional",
                }
            ]
        },
        "subType": {"coding": [{"system": m.TYPES_SYSTEM, "code": "generalpractice"}]},
        "outcome": "complete",
        "addItem": [
            {
                "itemSequence": [1],
                "extension": [
                    {"url": ITEM_PATIENTFEE_EXT, "valueMoney": {"value": 4, "currency": "EUR"}},
                    {
                        "url": ITEM_REIMBURSEMENT_EXT,
                        "valueMoney": {"value": 21.4, "currency": "EUR"},
                    },
                ],
                "productOrService": {
                    "coding": [{"system": m.NOMENCLATURE_SYSTEM, "code": "101673"}]
                },
                "servicedDate": "2026-11-23",
                "quantity": {"value": 1},
                "unitPrice": money,
                "net": money,
                "adjudication": [
                    {"category": {"coding": [{"system": m.DECISION_VALUES, "code": "agreement"}]}}
                ],
            }
        ],
    }
    header = {"resourceType": "MessageHeader", "eventCoding": {"code": "eattestresponse-create"}}
    bundle = {
        "resourceType": "Bundle",
        "type": "message",
        "entry": [{"resource": header}, {"resource": response}],
    }
    outcome = m.read_response(bundle)
    assert (outcome.patient_fee, outcome.reimbursed, outcome.charged) == (
        D("4"),
        D("21.4"),
        D("25.4"),
    )
    assert figures(CLAIM, None, outcome) == (D("4"), D("21.4"), False)
