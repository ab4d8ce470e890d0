"""The ClaimResponses the claim delivery stores and answers, taken from real runs against the
MyCareNet simulator (eAttest accepted and refused, eFact accepted and line-refused), validated by
the independent validators (FHIR.js and @medplum/core, tests.mappings.independent_validator)
against the BE profiles they claim: 0 errors, and the right profile, identifier, amounts and error
code systems on each path."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from ehealth_hub.mappings.claim_amounts import ADJUDICATION
from ehealth_hub.mappings.mycarenet_claimresponse import BASE_PROFILE
from ehealth_hub.mappings.mycarenet_fhir import (
    EATTEST_CLAIMRESPONSE,
    EATTEST_ID_SYSTEM,
    EFACT_BATCH_SYSTEM,
    EFACT_ERRORS_SYSTEM,
    EFACT_INVOICE_SYSTEM,
    ERRORS_SYSTEM,
    ITEM_PATIENTFEE_EXT,
    ITEM_REIMBURSEMENT_EXT,
)
from tests.mappings.independent_validator import unavailable, validate
from tests.mycarenet.claims_data import app_claim
from tests.mycarenet.conftest import Claims, actor

SARAH = actor("sarah")
FHIR = "{http://hl7.org/fhir}"
IG = "be-fhir-examples/examples/hl7.fhir.be.eattestation"
_LISTS = {"profile", "identifier", "coding", "addItem", "adjudication", "itemSequence", "provider"}
_MONEY = {"unitPrice", "net", "quantity"}


@pytest.fixture
def packages(shared_dir: Path) -> Path:
    root = shared_dir / "be-fhir-examples" / "packages"
    if reason := unavailable(root):
        pytest.skip(reason)
    return root


async def _answer(claims: Claims, claim: dict[str, Any]) -> dict[str, Any]:
    submitted = await claims.service.submit(claim, SARAH, client_id="video-app")  # type: ignore[attr-defined]
    await claims.worker.run_once()  # type: ignore[attr-defined]
    done = await claims.service.wait(submitted, 0)  # type: ignore[attr-defined]
    assert done.claim_response is not None
    response: dict[str, Any] = done.claim_response
    return response


def _systems(response: dict[str, Any]) -> dict[str, str]:
    return {i["system"]: i["value"] for i in response.get("identifier", [])}


def _totals(response: dict[str, Any]) -> dict[str, Decimal]:
    return {
        t["category"]["coding"][0]["code"]: Decimal(str(t["amount"]["value"]))
        for t in response.get("total", [])
        if t["category"]["coding"][0]["system"] == ADJUDICATION
    }


def _item_amounts(response: dict[str, Any]) -> dict[str, Decimal]:
    return {
        e["url"]: Decimal(str(e["valueMoney"]["value"]))
        for e in response["addItem"][0].get("extension", [])
    }


async def test_every_claim_response_the_delivery_stores_passes_the_validators(
    claims: Claims, packages: Path
) -> None:
    answers = {
        "eattest-accepted": await _answer(claims, app_claim("p-1", route="eattest")),
        "eattest-refused": await _answer(
            # the same patient, code and date attested again: DUPLICATE_ATTESTATION
            claims,
            app_claim("p-2", route="eattest"),
        ),
        "efact-accepted": await _answer(claims, app_claim("p-3", patient="thomas", code="101710")),
        "efact-refused": await _answer(claims, app_claim("p-4", patient="luc")),
    }
    accepted, refused = answers["eattest-accepted"], answers["eattest-refused"]
    assert accepted["meta"]["profile"] == [EATTEST_CLAIMRESPONSE]
    assert accepted["outcome"] == "complete"
    assert EATTEST_ID_SYSTEM in _systems(accepted)
    assert refused["outcome"] == "error"
    assert refused["meta"]["profile"] == [BASE_PROFILE]
    assert refused["error"][0]["code"]["coding"][0] == {
        "system": ERRORS_SYSTEM,
        "code": "DUPLICATE_ATTESTATION",
    }
    efact, line = answers["efact-accepted"], answers["efact-refused"]
    assert efact["meta"]["profile"] == [BASE_PROFILE]
    assert {EFACT_INVOICE_SYSTEM, EFACT_BATCH_SYSTEM} <= set(_systems(efact))
    totals = _totals(efact)
    assert totals["submitted"] == totals["copay"] + totals["benefit"] == Decimal("25.40")
    assert _item_amounts(efact) == {
        ITEM_PATIENTFEE_EXT: totals["copay"],
        ITEM_REIMBURSEMENT_EXT: totals["benefit"],
    }
    assert line["error"][0]["code"]["coding"][0]["system"] == EFACT_ERRORS_SYSTEM
    resources = list(answers.values())
    outcome = validate(resources, packages)
    errors = [f"{resources[i]['id']}: {x}" for i, x in outcome.of("error")]
    assert errors == []


def _typed(node: etree._Element, parent: str = "") -> dict[str, Any]:
    """A ClaimResponse of the IG's XML as FHIR JSON (the few numbers it holds typed)."""
    out: dict[str, list[Any]] = {}
    for child in node:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        value: Any = child.get("value")
        if any(isinstance(c.tag, str) for c in child):
            value = _typed(child, name)
        elif name == "itemSequence" or (name == "value" and parent in _MONEY):
            value = float(value) if name == "value" else int(value)
        out.setdefault(name, []).append(value)
    return {k: (v if k in _LISTS else v[0]) for k, v in out.items()}


def test_the_igs_own_claim_responses_pass_the_same_validators(
    shared_dir: Path, packages: Path
) -> None:
    found = []
    for path in sorted((shared_dir / IG).glob("*Response*.xml")):
        for node in etree.parse(str(path)).getroot().iter(f"{FHIR}ClaimResponse"):
            found.append({"resourceType": "ClaimResponse", **_typed(node)})
    assert len(found) == 9
    assert {r["meta"]["profile"][0] for r in found} == {EATTEST_CLAIMRESPONSE}
    outcome = validate(found, packages)
    assert [str(x) for _, x in outcome.of("error")] == []
