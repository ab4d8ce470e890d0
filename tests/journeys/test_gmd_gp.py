"""The patient's GP from the global medical file (GMD), over HTTP with fhirpy against the sandbox
hub: ``GET /fhir/Patient?identifier=`` (with and without GMD, MyCareNet down) and the note sent to
the GMD holder when the app names no GP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome

from ehealth_hub.fhir.profiles import NIHDI_SYSTEM, SSIN_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import consultation_consent, consultation_note
from ehealth_hub.mappings.gmd_fhir import EHEALTHBOX_SYSTEM, GMD_PERIOD_EXT
from tests.journeys.conftest import FhirFactory, Hub

SARAH = sandbox.practitioner("sarah")
AN, THOMAS = sandbox.patient("an"), sandbox.patient("thomas")


async def _consented(fhir_for: FhirFactory, *patients: sandbox.Patient) -> AsyncFHIRClient:
    app = await fhir_for("consult-app", SARAH.nihii)
    for patient in patients:
        consent = consultation_consent(patient, SARAH, start=datetime.now(UTC))
        await app.resource("Consent", **consent).save()
    return app


async def _gp_search(app: AsyncFHIRClient, ssin: str) -> dict[str, Any]:
    search = app.resources("Patient").search(identifier=f"{SSIN_SYSTEM}|{ssin}")
    bundle: dict[str, Any] = await search.include("Patient", "general-practitioner").fetch_raw()
    return bundle


def _by_type(bundle: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for entry in bundle.get("entry", []):
        out.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return out


async def _faults(hub: Hub, name: str, plan: dict[str, Any] | None) -> None:
    simulators = hub.container.connectors.simulators if hub.container.connectors else None
    assert simulators is not None
    transport = httpx.ASGITransport(app=simulators.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://simulators.sandbox") as sims:
        if plan is None:
            await sims.delete(f"/_faults/{name}")
        else:
            assert (await sims.put(f"/_faults/{name}", json=plan)).status_code < 300


async def _task(app: AsyncFHIRClient, task_id: str) -> dict[str, Any]:
    for _ in range(200):
        task = await app.reference("Task", task_id).to_resource()
        if task["status"] in ("completed", "failed"):
            return dict(task)
        await asyncio.sleep(0.1)
    raise AssertionError(f"Task/{task_id} still {task['status']}")


def _input(task: dict[str, Any], name: str) -> Any:
    for entry in task.get("input", []):
        if entry["type"]["text"] == name:
            return next(v for k, v in entry.items() if k.startswith("value"))
    return None


async def test_the_gp_lookup_names_the_gmd_holder_with_the_ehealthbox(
    fhir_for: FhirFactory,
) -> None:
    app = await _consented(fhir_for, AN)
    bundle = await _gp_search(app, AN.ssin)
    assert bundle["type"] == "searchset"
    found = _by_type(bundle)
    gp = found["Patient"][0]["generalPractitioner"][0]
    jan = sandbox.practitioner(AN.gp)
    assert gp["identifier"] == {"system": NIHDI_SYSTEM, "value": jan.nihii}
    period = next(e["valuePeriod"] for e in gp["extension"] if e["url"] == GMD_PERIOD_EXT)
    assert period["start"] <= datetime.now(UTC).date().isoformat() <= period["end"]
    practitioner = found["Practitioner"][0]
    assert practitioner["identifier"][0]["value"] == jan.nihii
    assert practitioner["name"][0]["family"] == jan.family
    boxes = [
        i for i in found["PractitionerRole"][0]["identifier"] if i["system"] == EHEALTHBOX_SYSTEM
    ]
    assert [b["value"] for b in boxes] == [jan.nihii]
    assert gp["reference"] == f"urn:uuid:{practitioner['id']}"


async def test_a_patient_without_gmd_has_no_general_practitioner(fhir_for: FhirFactory) -> None:
    app = await _consented(fhir_for, THOMAS)
    found = _by_type(await _gp_search(app, THOMAS.ssin))
    assert "generalPractitioner" not in found["Patient"][0]
    assert "Practitioner" not in found
    assert "global medical file" in found["OperationOutcome"][0]["issue"][0]["diagnostics"]


async def test_the_gp_lookup_without_consent_is_refused(fhir_for: FhirFactory) -> None:
    app = await fhir_for("consult-app", SARAH.nihii)
    sofie = sandbox.patient("sofie")  # no national consent
    await app.resource(
        "Consent", **consultation_consent(sofie, SARAH, start=datetime.now(UTC))
    ).save()
    with pytest.raises(Exception, match="national-consent"):
        await _gp_search(app, sofie.ssin)


async def test_when_mycarenet_is_down_the_gp_lookup_answers_503_with_an_outcome(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    app = await _consented(fhir_for, AN)
    await _faults(hub, "mycarenet.gmd", {"http_status": 503})
    try:
        with pytest.raises(OperationOutcome) as failed:
            await _gp_search(app, AN.ssin)
        raw = await hub.app("consult-app", SARAH.nihii).get(
            "/fhir/Patient", identifier=f"{SSIN_SYSTEM}|{AN.ssin}"
        )
    finally:
        await _faults(hub, "mycarenet.gmd", None)
    assert failed.value.resource["resourceType"] == "OperationOutcome"
    assert raw.status_code == 503
    assert raw.headers["Retry-After"]
    assert raw.json()["issue"][0]["severity"] == "error"


async def test_a_note_naming_no_gp_reaches_the_gmd_holder(fhir_for: FhirFactory, hub: Hub) -> None:
    app = await _consented(fhir_for, AN)
    now = datetime.now(UTC)
    note = consultation_note(AN, SARAH, "Sore throat; no antibiotics.", now=now, name_gp=False)
    task = await app.execute("DocumentReference", method="post", data=note)
    done = await _task(app, task["id"])
    assert done["status"] == "completed", done
    jan = sandbox.practitioner(AN.gp)
    assert done["owner"]["identifier"]["value"] == jan.nihii
    assert _input(done, "recipient-rule") == "note.recipient.gmd-holder"
    simulators = hub.container.connectors.simulators if hub.container.connectors else None
    assert simulators is not None
    assert any(jan.nihii in box for box in simulators.inspect("ehbox")["boxes"])


async def test_a_note_naming_another_gp_goes_where_it_says(fhir_for: FhirFactory, hub: Hub) -> None:
    marie, jan = sandbox.practitioner("marie"), sandbox.practitioner(AN.gp)
    app = await fhir_for("consult-app", SARAH.nihii)
    consent = consultation_consent(AN, SARAH, start=datetime.now(UTC))
    consent["provision"]["actor"][1]["reference"]["identifier"]["value"] = marie.nihii
    await app.resource("Consent", **consent).save()
    note = consultation_note(AN, SARAH, "Seen for a rash.", now=datetime.now(UTC), gp=marie)
    task = await app.execute("DocumentReference", method="post", data=note)
    done = await _task(app, task["id"])
    assert done["status"] == "completed", done
    assert done["owner"]["identifier"]["value"] == marie.nihii != jan.nihii
    assert _input(done, "recipient-rule") == "note.recipient.named"


async def test_a_note_naming_no_gp_for_a_patient_without_gmd_is_a_422_naming_the_rule(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    app = await _consented(fhir_for, THOMAS)
    note = consultation_note(THOMAS, SARAH, "x", now=datetime.now(UTC), name_gp=False)
    with pytest.raises(OperationOutcome) as refused:
        await app.execute("DocumentReference", method="post", data=note)
    issue = refused.value.resource["issue"][0]
    assert issue["details"]["text"] == "note.recipient.gmd-holder"
    assert issue["expression"] == ["Patient.generalPractitioner"]
    raw = await hub.app("consult-app", SARAH.nihii).post("/fhir/DocumentReference", note)
    assert raw.status_code == 422
