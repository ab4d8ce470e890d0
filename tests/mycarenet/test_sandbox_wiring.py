"""The composition root wires journey 3: the container's ClaimsService reaches the in-process
MyCareNet simulator through the connector stack (sandbox PKI, STS, ETK depot, SOAP)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ehealth_hub.bootstrap import Parts, build_container
from ehealth_hub.bootstrap.lazy_ports import LazyPorts
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.services.claims import DESTINATION
from ehealth_hub.settings import Settings, load_settings
from tests.fakes.gate import SandboxFactsGate
from tests.mycarenet.claims_data import app_claim, recently
from tests.mycarenet.conftest import FEDERATION_ROUTE_RULES, actor


@pytest.fixture
def settings(tmp_path: Path, sandbox_pki: SandboxPki) -> Settings:
    """The sandbox on a fresh SQLite database, with the session's PKI."""
    return load_settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        data_dir=tmp_path / "var",
        log={"level": "warning", "json_output": True},
        trust={"pki_dir": sandbox_pki.directory},
        mycarenet={"billing_rules_file": FEDERATION_ROUTE_RULES},
    )


async def test_the_sandbox_container_bills_a_claim_through_the_simulators(
    settings: Settings,
) -> None:
    # the consent gate's own tests cover it
    container = await build_container(settings, parts=Parts(gate=SandboxFactsGate()))
    try:
        assert DESTINATION in container.delivery.destinations
        submitted = await container.claims.submit(
            app_claim("c-1", serviced=recently(), route="eattest"), actor("sarah"), client_id="app"
        )
        container.delivery.wake()
        done = await container.claims.wait(submitted, 20.0)
        assert done.claim_response is not None
        assert done.claim_response["outcome"] == "complete"
        simulators = container.connectors.simulators
        assert len(simulators.mycarenet.book.attestations) == 1
    finally:
        await container.aclose()


async def test_claims_and_the_ehealth_connectors_share_one_sts_token_cache(
    settings: Settings,
) -> None:
    # the consent gate's own tests cover it
    container = await build_container(settings, parts=Parts(gate=SandboxFactsGate()))
    try:
        sarah = actor("sarah")
        await LazyPorts(container.connectors).consent.get_consent(sandbox.patient("an").ssin, sarah)
        simulators = container.connectors.simulators
        assert simulators.sts.issued == 1
        submitted = await container.claims.submit(
            app_claim("c-2", serviced=recently(), route="eattest"), sarah, client_id="app"
        )
        container.delivery.wake()
        done = await container.claims.wait(submitted, 20.0)
        assert done.claim_response is not None
        assert simulators.sts.issued == 1  # the token fetched for Consent served MyCareNet too
    finally:
        await container.aclose()
