"""A source the consent gate needs is unreachable: the gate fails closed, and the answer says
*unavailable* (503, ``Retry-After``, issue code ``transient``), never *denied* (403). Against the
sandbox hub on a loopback port, the Therapeutic Link simulator's fault injection
(``PUT /_faults/therlink``), with a FHIR client (fhirpy) for the claim, the note and ``$summary``;
raw HTTP where the ``Retry-After`` header must be seen."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import ForbiddenError, OperationOutcome

from ehealth_hub.fhir.profiles import SSIN_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import (
    consultation_consent,
    consultation_note,
    teleconsultation_claim,
)
from tests.journeys import conftest as journeys

hub = journeys.hub
fhir_for = journeys.fhir_for
Hub = journeys.Hub
FhirFactory = journeys.FhirFactory

SARAH = sandbox.practitioner("sarah")
AN = sandbox.patient("an")
FAST_GATE = pytest.mark.parametrize(
    "hub", [{"consent": {"source_timeout_seconds": 1}}], indirect=True
)
"""The gate gives up on a silent source after 1 s instead of 15 (the finding's fresh hub)."""


async def _fault(hub: Hub, spec: dict[str, Any]) -> None:
    simulators = hub.container.connectors.simulators if hub.container.connectors else None
    assert simulators is not None
    transport = httpx.ASGITransport(app=simulators.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://simulators") as sims:
        assert (await sims.put("/_faults/therlink", json=spec)).status_code < 300


def _requests(tag: str) -> dict[str, tuple[str, str, dict[str, Any] | None, dict[str, str]]]:
    now = datetime.now(UTC)
    return {
        "claim": (
            "post",
            "Claim/$submit",
            teleconsultation_claim(tag, AN, SARAH, serviced=now.date().isoformat()),
            {},
        ),
        "note": ("post", "DocumentReference", consultation_note(AN, SARAH, tag, now=now), {}),
        "summary": ("get", "Patient/$summary", None, {"identifier": f"{SSIN_SYSTEM}|{AN.ssin}"}),
    }


async def _app_with_consent(fhir_for: FhirFactory) -> AsyncFHIRClient:
    app = await fhir_for("consult-app", SARAH.nihii)
    await app.resource("Consent", **consultation_consent(AN, SARAH, start=datetime.now(UTC))).save()
    return app


@FAST_GATE
@pytest.mark.parametrize("fault", [{"timeout": True}, {"http_status": 503}], ids=["silent", "5xx"])
async def test_a_therapeutic_link_outage_is_503_not_403_for_claim_note_and_summary(
    fhir_for: FhirFactory, hub: Hub, fault: dict[str, Any]
) -> None:
    app = await _app_with_consent(fhir_for)
    await _fault(hub, fault)
    for name, (method, path, data, params) in _requests(f"outage-{len(fault)}").items():
        with pytest.raises(OperationOutcome) as unavailable:  # not ForbiddenError
            await app.execute(path, method=method, data=data, params=params)
        issues = unavailable.value.resource["issue"]
        assert issues[0]["code"] == "transient", name
        assert "unavailable" in issues[0]["diagnostics"], name
        assert any("therapeutic-link" in i["diagnostics"] for i in issues[1:]), name


@FAST_GATE
async def test_the_outage_answer_carries_retry_after(fhir_for: FhirFactory, hub: Hub) -> None:
    await _app_with_consent(fhir_for)
    await _fault(hub, {"timeout": True})
    token = await hub.app("consult-app", SARAH.nihii).token()
    response = await hub.http.get(
        "/fhir/Patient/$summary",
        params={"identifier": f"{SSIN_SYSTEM}|{AN.ssin}"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0


@FAST_GATE
async def test_an_outage_does_not_hide_a_refusal_that_stands_on_its_own(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    app = await fhir_for("consult-app", SARAH.nihii)  # no consultation consent: refused anyway
    await _fault(hub, {"timeout": True})
    claim = teleconsultation_claim(
        "no-consent", AN, SARAH, serviced=datetime.now(UTC).date().isoformat()
    )
    with pytest.raises(ForbiddenError) as refused:
        await app.execute("Claim/$submit", method="post", data=claim)
    assert "no active consultation consent" in str(refused.value)
    assert "therapeutic-link: source unavailable" in str(refused.value), "the outage named too"


async def test_a_consent_refusal_is_403_with_the_deciding_reasons(
    fhir_for: FhirFactory,
) -> None:
    sofie = sandbox.patient("sofie")  # no national consent for sharing
    app = await fhir_for("consult-app", SARAH.nihii)
    await app.resource(
        "Consent", **consultation_consent(sofie, SARAH, start=datetime.now(UTC))
    ).save()
    with pytest.raises(ForbiddenError) as refused:
        await app.execute(
            "Patient/$summary",
            method="get",
            params={"identifier": f"{SSIN_SYSTEM}|{sofie.ssin}"},
        )
    assert "national-consent" in str(refused.value)
    assert '"code":"forbidden"' in str(refused.value).replace(" ", "")
