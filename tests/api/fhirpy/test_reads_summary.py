"""``POST Patient/$summary`` with a Parameters body answers what ``GET`` answers (issue 20: it was
405), and a malformed Parameters is refused naming the parameter. Over real HTTP with fhirpy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome

from ehealth_hub.fhir.profiles import SSIN_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import consultation_consent
from tests.api.fhirpy.conftest import Hub, SandboxFhir

SARAH = sandbox.practitioner("sarah")
AN = sandbox.patient("an")
VOLATILE = ("id", "timestamp", "meta", "date", "recorded", "fullUrl", "policy")
"""What differs between two answers to the same question: ids and instants of each answer, and
the gate's decision each one rests on (Provenance.policy); the Bundle's identifier too."""


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


async def _app(sandbox_fhir: SandboxFhir) -> AsyncFHIRClient:
    app = await sandbox_fhir("consult-app", SARAH.nihii)
    await app.resource("Consent", **consultation_consent(AN, SARAH, start=datetime.now(UTC))).save()
    return app


@pytest.mark.parametrize(
    "patient",
    [
        {"name": "identifier", "valueIdentifier": {"system": SSIN_SYSTEM, "value": AN.ssin}},
        {"name": "patient", "valueString": f"{SSIN_SYSTEM}|{AN.ssin}"},
    ],
    ids=["identifier-as-Identifier", "patient-as-string"],
)
async def test_post_summary_with_parameters_answers_what_get_answers(
    sandbox_fhir: SandboxFhir, patient: dict[str, Any]
) -> None:
    app = await _app(sandbox_fhir)
    got = await app.execute(
        "Patient/$summary", method="get", params={"identifier": f"{SSIN_SYSTEM}|{AN.ssin}"}
    )
    posted = await app.execute(
        "Patient/$summary",
        method="post",
        data={
            "resourceType": "Parameters",
            "parameter": [patient, {"name": "purpose", "valueCode": "treatment"}],
        },
    )
    assert posted["type"] == "document"
    assert len(posted["entry"]) == len(got["entry"]) > 3
    assert posted["identifier"]["system"] == got["identifier"]["system"]
    assert _stable({**posted, "identifier": None}) == _stable({**got, "identifier": None})


MALFORMED: list[tuple[list[dict[str, Any]], str]] = [
    ([], "Parameters.parameter[patient]"),  # no patient
    ([{"name": "identifier", "valueInteger": 3}], "Parameters.parameter[identifier]"),
    (
        [{"name": "patient", "valueString": f"{SSIN_SYSTEM}|{AN.ssin}"}, {"name": "colour"}],
        "Parameters.parameter[colour]",
    ),
    ([{"name": "patient", "valueString": AN.ssin}], "Parameters.parameter[patient]"),  # no system
    (
        [
            {"name": "patient", "valueString": f"{SSIN_SYSTEM}|{AN.ssin}"},
            {"name": "purpose", "valueCode": "curiosity"},
        ],
        "Parameters.parameter[purpose]",
    ),
]


async def test_a_malformed_parameters_is_400_naming_the_parameter(
    sandbox_fhir: SandboxFhir, sandbox_hub: Hub
) -> None:
    app = await sandbox_fhir("consult-app", SARAH.nihii)
    token = await sandbox_hub.token("consult-app", SARAH.nihii)
    status = await sandbox_hub.http.post(
        "/fhir/Patient/$summary",
        json={"resourceType": "Parameters", "parameter": MALFORMED[0][0]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert status.status_code == 400, status.text
    for parameters, named in MALFORMED:
        with pytest.raises(OperationOutcome) as refused:
            await app.execute(
                "Patient/$summary",
                method="post",
                data={"resourceType": "Parameters", "parameter": parameters},
            )
        issue = refused.value.resource["issue"][0]
        assert issue["expression"] == [named], issue
    with pytest.raises(OperationOutcome, match="Parameters"):
        await app.execute("Patient/$summary", method="post", data={"resourceType": "Patient"})
