"""``GET /fhir/Patient?identifier=`` on the search framework, with fhirpy against the sandbox hub
(simulators in-process): the identifier bare or with its system, ``_include``, ``_count=0``,
unknown parameters, and the CapabilityStatement listing the same."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome

from ehealth_hub.fhir.profiles import SSIN_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import consultation_consent
from tests.api.fhirpy.conftest import NOW, Hub, hub_settings, serving

SARAH, AN = sandbox.practitioner("sarah"), sandbox.patient("an")
INCLUDE = "Patient:general-practitioner"


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pki")


@pytest.fixture
async def sandbox_hub(tmp_path: Path, pki_dir: Path) -> AsyncIterator[Hub]:
    settings = hub_settings(
        f"sqlite:///{tmp_path / 'hub.db'}", tmp_path, trust={"pki_dir": pki_dir}
    )
    async with serving(settings) as hub:
        assert hub.container.connectors is not None
        await hub.container.connectors.get()  # the sandbox PKI and simulators
        yield hub


async def _consented(hub: Hub) -> AsyncFHIRClient:
    app = await hub.fhir("consult-app", SARAH.nihii)
    await app.resource("Consent", **consultation_consent(AN, SARAH, start=NOW)).save()
    return app


async def test_the_patient_search_on_the_framework(sandbox_hub: Hub) -> None:
    app = await _consented(sandbox_hub)
    patients = app.resources("Patient")
    bare = await patients.search(identifier=AN.ssin).fetch_raw()
    full = await patients.search(identifier=f"{SSIN_SYSTEM}|{AN.ssin}").fetch_raw()
    assert bare["total"] == full["total"] == 1
    assert [e["search"]["mode"] for e in bare["entry"]] == ["match"]
    self_link = bare["link"][0]
    assert self_link["relation"] == "self"
    assert self_link["url"].startswith(f"{sandbox_hub.url}/fhir/Patient?identifier=")
    included = patients.search(identifier=AN.ssin).include("Patient", "general-practitioner")
    modes = {e["search"]["mode"] for e in (await included.fetch_raw())["entry"]}
    assert modes == {"match", "include"}
    total_only = await patients.search(identifier=AN.ssin).limit(0).fetch_raw()
    assert total_only["total"] == 1
    assert not total_only["entry"]
    for params in ({"identifier": AN.ssin, "name": "An"}, {"_include": INCLUDE}):
        with pytest.raises(OperationOutcome):
            await patients.search(**params).fetch_raw()
    with pytest.raises(OperationOutcome) as refused:
        await patients.search(identifier=AN.ssin, _include="Patient:organization").fetch_raw()
    assert "search.include" in str(refused.value)


async def test_the_capability_statement_lists_the_patient_search(sandbox_hub: Hub) -> None:
    statement = (await sandbox_hub.http.get("/fhir/metadata")).json()
    entry = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    assert {p["name"] for p in entry["searchParam"]} == {"identifier", "_count"}
    assert entry["searchInclude"] == [INCLUDE]
