"""The GP-system adapter (FHIR R4 + OAuth2 client credentials over httpx) against its simulator."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from ehealth_hub.api.responses import FHIR_JSON
from ehealth_hub.connectors.gp import GpSystemClient, GpSystemConfig
from ehealth_hub.core.errors import (
    AuthenticationError,
    BusinessRejection,
    ConsentDenied,
    DownstreamProtocolError,
    DownstreamUnavailable,
    NotFound,
)
from ehealth_hub.core.xml import KMEHR_NS, parse_xml
from ehealth_hub.fhir.profiles import SSIN_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.simulate import Simulators
from ehealth_hub.transport.network import DirectClient
from ehealth_hub.transport.resilience import Resilience
from tests.connectors.conftest import FAST, Clock, actor, permit

AN = sandbox.patient("an")
Edit = Callable[[dict[str, Any]], None]


class EditedSearch(httpx.AsyncBaseTransport):
    """The simulators, with each DocumentReference of a search answer edited on its way back:
    a GP system answering what the simulator never would."""

    def __init__(self, sims: Simulators, edit: Edit) -> None:
        self.inner, self.edit = httpx.ASGITransport(app=sims.app), edit

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method != "GET" or not request.url.path.endswith("/fhir/DocumentReference"):
            return response
        bundle = json.loads(await response.aread())
        for entry in bundle.get("entry", []):
            self.edit(entry["resource"])
        return httpx.Response(
            response.status_code, json=bundle, headers={"Content-Type": FHIR_JSON}
        )


def gp_with_edited_search(
    sims: Simulators, config: GpSystemConfig, clock: Clock, edit: Edit
) -> GpSystemClient:
    direct = DirectClient(EditedSearch(sims, edit), httpx.Timeout(5))
    return GpSystemClient(direct, config, Resilience("gp", FAST), clock=clock)


def note(value: str = "note-1", ssin: str = AN.ssin) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{value}"}],
        "status": "current",
        "subject": {"identifier": {"system": SSIN_SYSTEM, "value": ssin}},
        "description": "Video consultation",
        "content": [{"attachment": {"contentType": "text/plain", "data": "bm90ZQ=="}}],
    }


async def test_reads_the_gp_summary_of_a_patient(gp_client: GpSystemClient, clock: Clock) -> None:
    bundle = await gp_client.read_summary(permit("an", now=clock()), actor("sarah"))
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "document")
    patient = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    assert patient["identifier"][0]["value"] == AN.ssin


async def test_lists_and_reads_the_gp_s_kmehr_exports(
    gp_client: GpSystemClient, clock: Clock
) -> None:
    granted = permit("an", now=clock())
    refs = await gp_client.list_transactions(
        granted, actor("sarah"), types=("sumehr", "vaccination")
    )
    assert sorted(r.type for r in refs) == ["sumehr", "vaccination"]
    assert {r.author_nihii for r in refs} == {sandbox.practitioner("jan").nihii}
    kmehr = parse_xml(await gp_client.get_transaction(granted, actor("sarah"), refs[0]))
    assert kmehr.tag == f"{{{KMEHR_NS}}}kmehrmessage"


async def test_reads_each_document_with_one_call(
    gp_client: GpSystemClient, sims: Simulators, clock: Clock
) -> None:
    granted = permit("an", now=clock())
    refs = await gp_client.list_transactions(
        granted, actor("sarah"), types=("sumehr", "vaccination")
    )
    sims.gp.requests.clear()
    for ref in refs:
        kmehr = parse_xml(await gp_client.get_transaction(granted, actor("sarah"), ref))
        assert kmehr.tag == f"{{{KMEHR_NS}}}kmehrmessage"
    assert sims.gp.requests == ["binary", "binary"]


async def test_lists_documents_with_their_version(
    gp_client: GpSystemClient, sims: Simulators, clock: Clock
) -> None:
    granted = permit("an", now=clock())
    (first,) = await gp_client.list_transactions(granted, actor("sarah"), types=("sumehr",))
    assert first.version == "1"
    amended = sims.gp.exports[first.transaction_id].kmehr + b"\n<!-- amended -->"
    clock.advance(timedelta(minutes=1))
    sims.gp.revise(first.transaction_id, amended)
    (again,) = await gp_client.list_transactions(granted, actor("sarah"), types=("sumehr",))
    assert (again.transaction_id, again.version) == (first.transaction_id, "2")
    assert await gp_client.get_transaction(granted, actor("sarah"), again) == amended


async def test_a_document_s_version_changes_with_its_attachment_hash(
    sims: Simulators, gp_config: GpSystemConfig, clock: Clock
) -> None:
    def with_hash(document: dict[str, Any]) -> None:
        document["content"][0]["attachment"]["hash"] = "2jmj7l5rSw0yVb/vlWAYkK/YBwk="

    client = gp_with_edited_search(sims, gp_config, clock, with_hash)
    refs = await client.list_transactions(
        permit("an", now=clock()), actor("sarah"), types=("sumehr",)
    )
    assert [r.version for r in refs] == ["1#2jmj7l5rSw0yVb/vlWAYkK/YBwk="]


async def test_versions_a_document_by_its_last_update_when_it_has_no_version_id(
    sims: Simulators, gp_config: GpSystemConfig, clock: Clock
) -> None:
    def without_version_id(document: dict[str, Any]) -> None:
        del document["meta"]["versionId"]
        document["meta"]["lastUpdated"] = "2026-03-01T10:00:00+01:00"

    client = gp_with_edited_search(sims, gp_config, clock, without_version_id)
    refs = await client.list_transactions(
        permit("an", now=clock()), actor("sarah"), types=("sumehr",)
    )
    assert [r.version for r in refs] == ["2026-03-01T10:00:00+01:00"]


async def test_refuses_a_listed_document_about_another_patient(
    sims: Simulators, gp_config: GpSystemConfig, clock: Clock
) -> None:
    def about_sofie(document: dict[str, Any]) -> None:
        document["subject"]["identifier"]["value"] = sandbox.patient("sofie").ssin

    client = gp_with_edited_search(sims, gp_config, clock, about_sofie)
    with pytest.raises(DownstreamProtocolError) as refused:
        await client.list_transactions(permit("an", now=clock()), actor("sarah"), types=("sumehr",))
    assert "another patient" in refused.value.detail
    assert sandbox.patient("sofie").ssin not in str(refused.value)


async def test_falls_back_to_reading_the_document_when_the_listing_has_no_url(
    sims: Simulators, gp_config: GpSystemConfig, clock: Clock
) -> None:
    def without_content(document: dict[str, Any]) -> None:
        del document["content"]

    granted = permit("an", now=clock())
    client = gp_with_edited_search(sims, gp_config, clock, without_content)
    (ref,) = await client.list_transactions(granted, actor("sarah"), types=("sumehr",))
    assert ref.location is None
    sims.gp.requests.clear()
    kmehr = parse_xml(await client.get_transaction(granted, actor("sarah"), ref))
    assert kmehr.tag == f"{{{KMEHR_NS}}}kmehrmessage"
    assert sims.gp.requests == ["read", "binary"]


async def test_reports_a_patient_unknown_to_the_practice_as_not_found(
    gp_client: GpSystemClient, clock: Clock
) -> None:
    with pytest.raises(NotFound):
        await gp_client.read_summary(permit("sofie", now=clock()), actor("sarah"))


async def test_delivers_a_note_once_even_when_sent_twice(
    gp_client: GpSystemClient, sims: Simulators, clock: Clock
) -> None:
    granted = permit("an", action="write-note", now=clock())
    first = await gp_client.send_note(granted, actor("sarah"), note())
    again = await gp_client.send_note(granted, actor("sarah"), note())
    assert first == again == "note-1"
    assert [n["patient"] for n in sims.gp.inspect()["notes"]] == ["*******2362"]


async def test_relays_the_gp_system_s_refusal_of_an_invalid_note(
    gp_client: GpSystemClient, clock: Clock
) -> None:
    broken = {**note(), "content": []}
    with pytest.raises(BusinessRejection) as refused:
        await gp_client.send_note(
            permit("an", action="write-note", now=clock()), actor("sarah"), broken
        )
    assert "content" in refused.value.detail


async def test_sends_nothing_without_a_permit_for_the_action(
    gp_client: GpSystemClient, sims: Simulators, clock: Clock
) -> None:
    with pytest.raises(ConsentDenied):
        await gp_client.send_note(permit("an", now=clock()), actor("sarah"), note())
    with pytest.raises(ConsentDenied):
        await gp_client.read_summary(permit("an", action="write-note", now=clock()), actor("sarah"))
    assert sims.gp.requests == []


async def test_refuses_wrong_client_credentials(
    direct: DirectClient, gp_config: GpSystemConfig, clock: Clock
) -> None:
    wrong = GpSystemConfig(
        gp_config.name,
        gp_config.base_url,
        gp_config.token_url,
        gp_config.client_id,
        "not-the-secret",
    )
    client = GpSystemClient(direct, wrong, Resilience("gp", FAST), clock=clock)
    with pytest.raises(AuthenticationError):
        await client.read_summary(permit("an", now=clock()), actor("sarah"))


async def test_reuses_a_token_then_fetches_a_new_one_when_it_expires(
    gp_client: GpSystemClient, sims: Simulators, clock: Clock
) -> None:
    await gp_client.ping()
    await gp_client.read_summary(permit("an", now=clock()), actor("sarah"))
    assert sims.gp.requests.count("token") == 1
    clock.advance(timedelta(minutes=10))
    await gp_client.read_summary(permit("an", now=clock()), actor("sarah"))
    assert sims.gp.requests.count("token") == 2


async def test_fetches_a_new_token_once_when_the_gp_system_forgot_it(
    gp_client: GpSystemClient, sims: Simulators, clock: Clock
) -> None:
    await gp_client.read_summary(permit("an", now=clock()), actor("sarah"))
    sims.gp.tokens.clear()
    await gp_client.read_summary(permit("an", now=clock()), actor("sarah"))
    assert sims.gp.requests.count("token") == 2


async def test_retries_a_search_after_a_server_error(
    gp_client: GpSystemClient, sims: Simulators, clock: Clock
) -> None:
    sims.gp.faults.http_status, sims.gp.faults.times, sims.gp.faults.operation = 503, 1, "search"
    refs = await gp_client.list_transactions(
        permit("an", now=clock()), actor("sarah"), types=("sumehr",)
    )
    assert len(refs) == 1
    assert sims.gp.requests.count("search") == 2


async def test_never_retries_a_note_delivery(
    gp_client: GpSystemClient, sims: Simulators, clock: Clock
) -> None:
    sims.gp.faults.http_status, sims.gp.faults.operation = 503, "create"
    with pytest.raises(DownstreamUnavailable):
        await gp_client.send_note(
            permit("an", action="write-note", now=clock()), actor("sarah"), note()
        )
    assert sims.gp.requests.count("create") == 1


async def test_refuses_a_malformed_answer(
    gp_client: GpSystemClient, sims: Simulators, clock: Clock
) -> None:
    sims.gp.faults.malformed, sims.gp.faults.operation = True, "summary"
    with pytest.raises(DownstreamProtocolError):
        await gp_client.read_summary(permit("an", now=clock()), actor("sarah"))
    assert sims.gp.requests.count("summary") == 1


async def test_gives_up_on_a_gp_system_that_does_not_answer(
    direct: DirectClient, gp_config: GpSystemConfig, sims: Simulators, clock: Clock
) -> None:
    quick = Resilience(
        "gp",
        type(FAST)(
            timeout=0.05,
            retry=type(FAST.retry)(base_delay=0.0, max_delay=0.0, jitter=0.0, max_attempts=2),
        ),
    )
    client = GpSystemClient(direct, gp_config, quick, clock=clock)
    sims.gp.faults.timeout, sims.gp.faults.operation = True, "summary"
    with pytest.raises(DownstreamUnavailable) as unavailable:
        await client.read_summary(permit("an", now=clock()), actor("sarah"))
    assert unavailable.value.code == "timeout"
    assert sims.gp.requests.count("summary") == 2
