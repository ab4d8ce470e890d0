"""``GET /fhir/AuditEvent`` with fhirpy over HTTP, for an auditor: paging through a long trail
with ``fetch_all()``, ``patient``, ``date`` ranges, ``agent``, ``subtype``, ``outcome``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ehealth_hub.fixtures import sandbox
from tests.api.fhirpy.conftest import NOW, Hub, seed_audit

SARAH, KOEN = sandbox.practitioner("sarah"), sandbox.practitioner("koen")
AN, THOMAS = sandbox.patient("an"), sandbox.patient("thomas")
START = NOW - timedelta(days=2)
"""The first seeded record; An's 40 follow one a minute, then Thomas's and the refusals."""


async def _seeded(hub: Hub) -> None:
    await seed_audit(hub, AN.ssin, 40, action="read-dossier", start=START, actor_nihii=SARAH.nihii)
    later = START + timedelta(hours=2)
    await seed_audit(hub, THOMAS.ssin, 3, action="write-note", start=later, actor_nihii=KOEN.nihii)
    await seed_audit(
        hub, AN.ssin, 2, action="read-dossier", start=later, actor_nihii=KOEN.nihii,
        outcome="deny", client_id="other-app",
    )  # fmt: skip


def _recorded(events: list[Any]) -> list[str]:
    return [e["recorded"] for e in events]


async def test_fetch_all_pages_through_the_whole_trail_newest_first(hub: Hub) -> None:
    await _seeded(hub)
    auditor = await hub.fhir("auditor")
    search = auditor.resources("AuditEvent").search(patient=AN.ssin).limit(5)
    first = await search.fetch_raw()
    assert first["total"] == 42
    assert len(first["entry"]) == 5
    events = await search.fetch_all()  # 9 pages; each page's own audit-read comes after it
    assert len(events) == 43 == len({e["id"] for e in events})  # with the first search's read
    assert events[0]["subtype"][0]["code"] == "audit-read"
    assert _recorded(events) == sorted(_recorded(events), reverse=True)


async def test_date_ranges_by_repetition(hub: Hub) -> None:
    await _seeded(hub)
    auditor = await hub.fhir("auditor")
    since = (START + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (START + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    window = auditor.resources("AuditEvent").search(
        patient=AN.ssin, date=[f"ge{since}", f"lt{until}"]
    )
    assert len(await window.fetch_all()) == 10
    day = (START + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")  # minute precision: one minute
    minute = auditor.resources("AuditEvent").search(date=day)
    assert len(await minute.fetch_all()) == 2  # Thomas's first note and the first refusal


async def test_agent_subtype_and_outcome(hub: Hub) -> None:
    await _seeded(hub)
    events = (await hub.fhir("auditor")).resources("AuditEvent")
    assert len(await events.search(agent=KOEN.nihii).fetch_all()) == 5
    assert len(await events.search(agent="other-app").fetch_all()) == 2
    assert len(await events.search(subtype="write-note").fetch_all()) == 3
    refused = await events.search(patient=AN.ssin, outcome="4").fetch_all()
    assert len(refused) == 2
    assert {e["outcome"] for e in refused} == {"4"}
    assert await events.search(outcome="12").fetch_all() == []


async def test_the_auditors_search_is_itself_audited(hub: Hub) -> None:
    await _seeded(hub)
    events = (await hub.fhir("auditor")).resources("AuditEvent")
    await events.search(patient=THOMAS.ssin).fetch_raw()
    reads = await events.search(patient=THOMAS.ssin, subtype="audit-read").fetch_all()
    assert len(reads) == 1
    sorted_up = await events.search(patient=THOMAS.ssin).sort("date").limit(2).fetch_all()
    assert _recorded(sorted_up) == sorted(_recorded(sorted_up))


async def test_absolute_full_urls_and_a_consent_scope_is_not_enough(hub: Hub) -> None:
    await _seeded(hub)
    bundle = await (await hub.fhir("auditor")).resources("AuditEvent").limit(1).fetch_raw()
    entry = bundle["entry"][0]
    assert entry["fullUrl"] == f"{hub.url}/fhir/AuditEvent/{entry['resource']['id']}"
    response = await hub.get("operator", "/fhir/AuditEvent")
    assert response.status_code == 403


async def test_paging_over_equal_instants_neither_repeats_nor_skips(hub: Hub) -> None:
    await _seeded(hub)  # Thomas's notes and the refusals were recorded at the same instants
    events = (await hub.fhir("auditor")).resources("AuditEvent")
    window = [f"ge{(START + timedelta(hours=2)).isoformat()}", f"lt{NOW.isoformat()}"]
    expected = {e["id"] for e in await events.search(date=window).limit(100).fetch_all()}
    assert len(expected) == 5
    for order in ("date", "-date"):
        paged = await events.search(date=window).sort(order).limit(2).fetch_all()
        assert len(paged) == 5
        assert {e["id"] for e in paged} == expected
