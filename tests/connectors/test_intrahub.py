"""The regional hubs' TransactionService connector and the cross-hub aggregator, against the hub
simulators, through zeep and httpx."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from ehealth_hub.connectors.intrahub import HubExclusions, IntraHubClient
from ehealth_hub.core.errors import BusinessRejection, ConsentDenied, DownstreamUnavailable
from ehealth_hub.core.xml import KMEHR_NS, parse_xml
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.simulate import Simulators
from tests.connectors.conftest import Clock, actor, permit

HubClient = Callable[[str], IntraHubClient]
TYPES = ("sumehr", "medicationscheme", "vaccination")


async def test_lists_and_reads_an_s_records_on_rsw(hub_client: HubClient, clock: Clock) -> None:
    rsw = hub_client("rsw")
    granted = permit("an", now=clock())
    refs = await rsw.list_transactions(granted, actor("sarah"), types=TYPES)
    assert sorted(r.type for r in refs) == sorted(TYPES)
    assert {r.source for r in refs} == {"rsw"}
    assert {r.author_nihii for r in refs} == {sandbox.practitioner("jan").nihii}
    sumehr = next(r for r in refs if r.type == "sumehr")
    kmehr = parse_xml(await rsw.get_transaction(granted, actor("sarah"), sumehr))
    assert kmehr.tag == f"{{{KMEHR_NS}}}kmehrmessage"
    patient_ids = kmehr.findall(f".//{{{KMEHR_NS}}}folder/{{{KMEHR_NS}}}patient/{{{KMEHR_NS}}}id")
    assert sandbox.patient("an").ssin in [i.text for i in patient_ids]


async def test_filters_the_list_by_transaction_type_and_date(
    hub_client: HubClient, clock: Clock
) -> None:
    rsw = hub_client("rsw")
    refs = await rsw.list_transactions(permit("an", now=clock()), actor("sarah"), types=("sumehr",))
    assert [r.type for r in refs] == ["sumehr"]
    later = await rsw.list_transactions(
        permit("an", now=clock()), actor("sarah"), types=TYPES, since=date(2027, 1, 1)
    )
    assert later == []


async def test_the_hub_refuses_a_care_provider_the_patient_excluded(
    hub_client: HubClient, clock: Clock
) -> None:
    with pytest.raises(BusinessRejection) as refused:
        await hub_client("rsw").list_transactions(
            permit("marc", now=clock()), actor("sarah"), types=TYPES
        )
    assert refused.value.code == "therapeutic.exclusion"


async def test_the_hub_refuses_without_link_but_not_when_breaking_the_glass(
    hub_client: HubClient, clock: Clock
) -> None:
    abrumet = hub_client("abrumet")
    with pytest.raises(BusinessRejection) as refused:
        await abrumet.list_transactions(permit("nadia", now=clock()), actor("sarah"), types=TYPES)
    assert refused.value.code == "therapeutic.link.missing"
    glass = permit("nadia", now=clock(), break_the_glass=True)
    assert len(await abrumet.list_transactions(glass, actor("sarah"), types=TYPES)) == 3


async def test_refuses_to_read_without_a_read_permit_and_sends_nothing(
    hub_client: HubClient, sims: Simulators, clock: Clock
) -> None:
    with pytest.raises(ConsentDenied):
        await hub_client("rsw").list_transactions(
            permit("an", action="write-note", now=clock()), actor("sarah"), types=TYPES
        )
    assert not sims.hubs["rsw"].soap.received


async def test_reports_an_unknown_transaction_as_a_business_refusal(
    hub_client: HubClient, clock: Clock
) -> None:
    rsw = hub_client("rsw")
    refs = await rsw.list_transactions(permit("an", now=clock()), actor("sarah"), types=("sumehr",))
    gone = type(refs[0])("rsw", "rsw-000000000000", "sumehr", refs[0].date)
    with pytest.raises(BusinessRejection) as refused:
        await rsw.get_transaction(permit("an", now=clock()), actor("sarah"), gone)
    assert refused.value.code == "transaction.not.found"


async def test_reads_a_patient_s_exclusions_from_the_hubs(hub_client: HubClient) -> None:
    exclusions = HubExclusions([hub_client(k) for k in ("rsw", "abrumet")])
    found = await exclusions.get_exclusions(sandbox.patient("marc").ssin, actor("sarah"))
    assert [(e.hcparty_nihii, e.since) for e in found] == [
        (sandbox.practitioner("sarah").nihii, date(2024, 1, 15))
    ]
    assert await exclusions.get_exclusions(sandbox.patient("an").ssin, actor("sarah")) == []


async def test_exclusions_fail_closed_when_a_hub_cannot_answer(
    hub_client: HubClient, sims: Simulators
) -> None:
    sims.hubs["abrumet"].soap.faults.http_status = 503
    with pytest.raises(DownstreamUnavailable):
        await HubExclusions([hub_client(k) for k in ("rsw", "abrumet")]).get_exclusions(
            sandbox.patient("marc").ssin, actor("sarah")
        )
