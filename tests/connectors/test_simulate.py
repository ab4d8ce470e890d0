"""The combined simulator app (``ehealth-hub simulate``) and the connectors' composition in the
sandbox container: index of WSDLs, inspection, fault plans over HTTP, readiness per downstream."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ehealth_hub.bootstrap import build_container
from ehealth_hub.bootstrap.lazy_ports import LazyPorts
from ehealth_hub.core.errors import ConfigurationError
from ehealth_hub.core.ports import Actor
from ehealth_hub.core.xml import parse_xml
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.fixtures.simulate import Simulators
from ehealth_hub.settings import load_settings

SERVICES = {
    "sts",
    "etkdepot",
    "consent",
    "therlink",
    "intrahub",
    "addressbook",
    "ehbox",
    "gp",
    "mycarenet",
}


async def test_the_index_names_every_service_and_each_wsdl_is_served(
    http: httpx.AsyncClient,
) -> None:
    index = (await http.get("/")).json()
    assert set(index) >= SERVICES
    assert {f"intrahub.{h.key}" for h in sandbox.HUBS} <= set(index)
    for name, url in index.items():
        response = await http.get(url)
        assert response.status_code == 200, name
        if name != "gp":
            assert parse_xml(response.content).tag.endswith("definitions"), name
    imported = await http.get("/intrahub/rsw/v3/hubservices_core_v3.xsd")
    assert imported.status_code == 200
    assert parse_xml(imported.content).tag.endswith("schema")


async def test_inspection_is_read_only_and_shows_what_each_simulator_holds(
    http: httpx.AsyncClient,
) -> None:
    hub = (await http.get("/_inspect/intrahub.rsw")).json()
    assert hub["hub"]["id"] == "1990000035"
    assert {t["type"] for t in hub["transactions"]} == {"sumehr", "medicationscheme", "vaccination"}
    assert all(t["patient"].startswith("*") for t in hub["transactions"])
    consents = (await http.get("/_inspect/consent")).json()["consents"]
    assert len(consents) == sum(p.national_consent for p in sandbox.PATIENTS)
    assert (await http.post("/_inspect/consent")).status_code == 405
    assert (await http.get("/_inspect/nothing")).status_code == 404


async def test_a_fault_plan_set_over_http_applies_and_clears(
    http: httpx.AsyncClient, sims: Simulators
) -> None:
    assert (
        await http.put("/_faults/intrahub.cozo", json={"http_status": 503, "times": 2})
    ).status_code == 204
    assert (sims.hubs["cozo"].soap.faults.http_status, sims.hubs["cozo"].soap.faults.times) == (
        503,
        2,
    )
    refused = await http.put("/_faults/intrahub.cozo", json={"explode": True})
    assert refused.status_code == 400
    assert "explode" in refused.json()["error"]
    assert (await http.delete("/_faults/intrahub.cozo")).status_code == 204
    assert sims.hubs["cozo"].soap.faults.http_status is None


async def test_the_sandbox_container_reaches_every_downstream_in_process(
    tmp_path: Path, sandbox_pki: SandboxPki
) -> None:
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        data_dir=tmp_path / "var",
        trust={"pki_dir": str(sandbox_pki.directory)},
        log={"level": "warning", "json_output": True},
    )
    container = await build_container(settings)
    try:
        downstream = {n for n in container.readiness if n.startswith("downstream.")}
        assert downstream == {
            "downstream.consent",
            "downstream.therlink",
            "downstream.addressbook",
            "downstream.ehbox",
            *(f"downstream.hub.{h.key}" for h in sandbox.HUBS),
            "downstream.gp.gp",
        }
        for name in sorted(downstream):
            await container.readiness[name]()
        ports = LazyPorts(container.connectors)  # the ports the container's gate is given
        sarah = sandbox.practitioner("sarah")
        consent = await ports.consent.get_consent(
            sandbox.patient("an").ssin, Actor(sarah.nihii, sarah.quality)
        )
        assert consent is not None
        assert consent.status == "active"
        marc = sandbox.patient("marc").ssin
        excluded = await ports.exclusions.get_exclusions(marc, Actor(sarah.nihii, sarah.quality))
        assert [e.hcparty_nihii for e in excluded] == [sarah.nihii]
    finally:
        await container.aclose()


def test_outside_the_sandbox_simulator_endpoints_are_refused() -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(env="acceptance", database_url="postgresql://db/hub")
    for name in (
        "endpoints.consent",
        "endpoints.hubs.rsw",
        "endpoints.gp_systems.gp.client_secret",
    ):
        assert name in refused.value.detail
