"""The Therapeutic Link connector against its simulator, through zeep and httpx."""

from __future__ import annotations

from datetime import date

import pytest

from ehealth_hub.connectors.therlink import TherapeuticLinkClient
from ehealth_hub.core.errors import BusinessRejection, DownstreamUnavailable, InvalidInput
from ehealth_hub.core.ports import TherapeuticLink
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.simulate import Simulators
from tests.connectors.conftest import actor

AN = sandbox.patient("an").ssin
NADIA = sandbox.patient("nadia").ssin
SARAH = sandbox.practitioner("sarah").nihii


def nadia_link(proof: str = "eidreading") -> TherapeuticLink:
    return TherapeuticLink(NADIA, SARAH, "gpconsultation", proof, date(2026, 3, 2))


async def test_finds_the_link_between_an_and_the_video_gp(
    therlink_client: TherapeuticLinkClient,
) -> None:
    assert await therlink_client.has_link(AN, actor("sarah")) is True


async def test_finds_no_link_for_nadia(therlink_client: TherapeuticLinkClient) -> None:
    assert await therlink_client.has_link(NADIA, actor("sarah")) is False


async def test_lists_every_active_link_of_a_patient(therlink_client: TherapeuticLinkClient) -> None:
    links = await therlink_client.get_links(AN, actor("sarah"))
    by_nihii = {link.hcparty_nihii: link.link_type for link in links}
    assert by_nihii == {
        SARAH: "gpconsultation",
        sandbox.practitioner("koen").nihii: "consultation",
        sandbox.practitioner("jan").nihii: "gpconsultation",
    }
    only = await therlink_client.get_links(AN, actor("sarah"), hcparty_nihii=SARAH)
    assert [link.hcparty_nihii for link in only] == [SARAH]


async def test_declares_a_link_with_eid_proof_then_refuses_a_duplicate(
    therlink_client: TherapeuticLinkClient,
) -> None:
    await therlink_client.put_link(nadia_link(), actor("sarah"))
    assert await therlink_client.has_link(NADIA, actor("sarah")) is True
    with pytest.raises(BusinessRejection) as refused:
        await therlink_client.put_link(nadia_link(), actor("sarah"))
    assert refused.value.code == "therlink.already.exists"


async def test_revokes_a_link(therlink_client: TherapeuticLinkClient) -> None:
    link = TherapeuticLink(AN, SARAH, "gpconsultation", "eidreading", date(2024, 1, 15))
    await therlink_client.revoke_link(link, actor("sarah"))
    assert await therlink_client.has_link(AN, actor("sarah")) is False
    with pytest.raises(BusinessRejection) as refused:
        await therlink_client.revoke_link(link, actor("sarah"))
    assert refused.value.code == "therlink.not.found"


async def test_refuses_an_unknown_proof_type_before_sending(
    therlink_client: TherapeuticLinkClient, sims: Simulators
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await therlink_client.put_link(nadia_link("a-phone-call"), actor("sarah"))
    assert refused.value.field == "proof_type"
    assert not sims.therlink.soap.received


async def test_the_service_refuses_a_link_declared_for_someone_else(
    therlink_client: TherapeuticLinkClient,
) -> None:
    other = TherapeuticLink(
        NADIA, sandbox.practitioner("jan").nihii, "gpconsultation", "eidreading", date(2026, 3, 2)
    )
    with pytest.raises(BusinessRejection) as refused:
        await therlink_client.put_link(other, actor("sarah"))
    assert refused.value.code == "author.not.hcparty"


async def test_never_retries_a_link_declaration(
    therlink_client: TherapeuticLinkClient, sims: Simulators
) -> None:
    sims.therlink.soap.faults.http_status = 502
    with pytest.raises(DownstreamUnavailable):
        await therlink_client.put_link(nadia_link(), actor("sarah"))
    assert len(sims.therlink.soap.received) == 1
