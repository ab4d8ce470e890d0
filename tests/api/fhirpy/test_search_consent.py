"""``GET /fhir/Consent`` with fhirpy over HTTP: each search parameter, paging, ``_count``,
``_sort``, unknown parameters (400, or ignored under ``Prefer: handling=lenient``), fullUrls."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome

from ehealth_hub.fhir.profiles import SSIN_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import consultation_consent
from tests.api.fhirpy.conftest import LENIENT, NOW, Hub

SARAH = sandbox.practitioner("sarah")
AN, THOMAS = sandbox.patient("an"), sandbox.patient("thomas")
DAYS = 7


async def _seeded(hub: Hub) -> tuple[AsyncFHIRClient, list[str]]:
    """Seven consents of An (one a day, the last two revoked) and one of Thomas; their ids."""
    app = await hub.fhir("consult-app", SARAH.nihii)
    ids = []
    for day in range(DAYS):
        start = NOW - timedelta(days=DAYS - day)
        saved = await app.resource("Consent", **consultation_consent(AN, SARAH, start=start)).save()
        ids.append(saved["id"])
    for consent_id in ids[-2:]:
        response = await hub.http.delete(f"/fhir/Consent/{consent_id}", headers=await _auth(hub))
        assert response.status_code == 200
    await app.resource("Consent", **consultation_consent(THOMAS, SARAH, start=NOW)).save()
    return app, ids


def _ids(resources: list[Any]) -> list[str]:
    return [r["id"] for r in resources]


async def test_status_finds_only_consents_in_that_status(hub: Hub) -> None:
    app, ids = await _seeded(hub)
    consents = app.resources("Consent").search(patient=AN.ssin)
    active = await consents.search(status="active").fetch_all()
    inactive = await consents.search(status="inactive").fetch_all()
    assert sorted(_ids(active)) == sorted(ids[:-2])
    assert sorted(_ids(inactive)) == sorted(ids[-2:])
    assert {r["status"] for r in active} == {"active"}
    either = await consents.search(status="active,inactive").fetch_all()
    assert len(either) == DAYS


async def test_patient_takes_the_ssin_bare_or_with_its_system(hub: Hub) -> None:
    app, ids = await _seeded(hub)
    bare = await app.resources("Consent").search(patient=AN.ssin).fetch_all()
    system = await app.resources("Consent").search(patient=f"{SSIN_SYSTEM}|{AN.ssin}").fetch_all()
    assert sorted(_ids(bare)) == sorted(_ids(system)) == sorted(ids)
    thomas = await app.resources("Consent").search(patient=THOMAS.ssin).fetch_all()
    assert len(thomas) == 1


async def test_count_pages_and_fetch_all_follows_next_through_every_page(hub: Hub) -> None:
    app, ids = await _seeded(hub)
    search = app.resources("Consent").search(patient=AN.ssin).limit(2)
    first = await search.fetch_raw()
    assert first["total"] == DAYS
    assert len(first["entry"]) == 2
    relations = {link["relation"] for link in first["link"]}
    assert relations == {"self", "next"}
    every = await search.fetch_all()  # 4 pages of at most 2
    assert _ids(every) == list(reversed(ids))  # newest period first, none twice, none missed


async def test_previous_goes_back_to_the_same_page(hub: Hub) -> None:
    app, _ = await _seeded(hub)
    first = await app.resources("Consent").search(patient=AN.ssin).limit(3).fetch_raw()
    links = {link["relation"]: link["url"] for link in first["link"]}
    second = (await hub.http.get(links["next"], headers=await _auth(hub))).json()
    back = {link["relation"]: link["url"] for link in second["link"]}["previous"]
    again = (await hub.http.get(back, headers=await _auth(hub))).json()
    assert [e["resource"]["id"] for e in again["entry"]] == [
        e["resource"]["id"] for e in first["entry"]
    ]
    assert "previous" not in {link["relation"] for link in again["link"]}


async def test_a_page_does_not_drift_when_consents_are_added_meanwhile(hub: Hub) -> None:
    app, ids = await _seeded(hub)
    first = await app.resources("Consent").search(patient=AN.ssin).limit(3).fetch_raw()
    newer = consultation_consent(AN, SARAH, start=NOW + timedelta(days=1))
    await app.resource("Consent", **newer).save()  # sorts before the first page
    following = {link["relation"]: link["url"] for link in first["link"]}["next"]
    second = (await hub.http.get(following, headers=await _auth(hub))).json()
    assert [e["resource"]["id"] for e in second["entry"]] == list(reversed(ids))[3:6]


async def test_count_zero_answers_the_total_only(hub: Hub) -> None:
    app, _ = await _seeded(hub)
    bundle = await app.resources("Consent").search(patient=AN.ssin).limit(0).fetch_raw()
    assert bundle["total"] == DAYS
    assert not bundle.get("entry")


async def test_period_ranges_by_repetition(hub: Hub) -> None:
    app, ids = await _seeded(hub)
    since = (NOW - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = await app.resources("Consent").search(patient=AN.ssin, period=f"ge{since}").fetch_all()
    assert sorted(_ids(recent)) == sorted(ids[-3:])
    window = app.resources("Consent").search(patient=AN.ssin, period=[f"ge{since}", f"lt{until}"])
    assert sorted(_ids(await window.fetch_all())) == sorted(ids[-3:-1])


async def test_date_finds_consents_by_when_they_were_given(hub: Hub) -> None:
    app, ids = await _seeded(hub)  # each given (dateTime) at the start of its period
    consents = app.resources("Consent").search(patient=AN.ssin)
    day = (NOW - timedelta(days=2)).date().isoformat()
    assert _ids(await consents.search(date=day).fetch_all()) == [ids[-2]]  # that whole day
    since = (NOW - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = await consents.search(date=f"ge{since}").fetch_all()
    assert sorted(_ids(recent)) == sorted(ids[-3:])
    window = await consents.search(date=[f"ge{since}", f"lt{day}"]).fetch_all()
    assert _ids(window) == [ids[-3]]
    assert await consents.search(date="lt2000").fetch_all() == []

    day_only = consultation_consent(AN, SARAH, start=NOW - timedelta(days=30))
    day_only["dateTime"] = (NOW - timedelta(days=30)).date().isoformat()  # a date, no time
    given = await app.resource("Consent", **day_only).save()
    undated = consultation_consent(AN, SARAH, start=NOW - timedelta(days=30))
    del undated["dateTime"]
    await app.resource("Consent", **undated).save()
    month = (NOW - timedelta(days=30)).strftime("%Y-%m")
    found = await consents.search(date=day_only["dateTime"]).fetch_all()
    assert _ids(found) == [given["id"]]  # the undated one matches no date search
    assert given["id"] in _ids(await consents.search(date=month).fetch_all())
    noon = f"{day_only['dateTime']}T12:00:00Z"  # a minute does not hold a whole day
    assert await consents.search(date=noon).fetch_all() == []
    with pytest.raises(OperationOutcome, match="date"):
        await consents.search(date="yesterday").fetch()


async def test_last_updated_finds_the_revocations(hub: Hub) -> None:
    app, _ = await _seeded(hub)
    recently = (NOW - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    changed = app.resources("Consent").search(patient=AN.ssin, _lastUpdated=f"ge{recently}")
    assert len(await changed.fetch_all()) == DAYS  # all were written during the test
    old = app.resources("Consent").search(patient=AN.ssin, _lastUpdated="lt2000-01-01")
    assert await old.fetch_all() == []


async def test_sort_by_period_either_way(hub: Hub) -> None:
    app, ids = await _seeded(hub)
    search = app.resources("Consent").search(patient=AN.ssin).limit(3)
    assert _ids(await search.sort("period").fetch_all()) == ids
    assert _ids(await search.sort("-period").fetch_all()) == list(reversed(ids))
    with pytest.raises(OperationOutcome) as refused:
        await search.sort("status").fetch_raw()
    assert "_sort" in str(refused.value)


async def test_an_unknown_parameter_is_refused_naming_it(hub: Hub) -> None:
    app, _ = await _seeded(hub)
    response = await hub.http.get(
        "/fhir/Consent",
        params={"patient": AN.ssin, "colour": "red"},
        headers=await _auth(hub),
    )
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["colour"]
    assert "search.unknown-parameter" in str(response.json())
    with pytest.raises(OperationOutcome):
        await app.resources("Consent").search(patient=AN.ssin, colour="red").fetch_raw()


async def test_lenient_handling_ignores_and_reports_the_unknown_parameter(hub: Hub) -> None:
    app = await hub.fhir("consult-app", SARAH.nihii, **LENIENT)
    await app.resource("Consent", **consultation_consent(AN, SARAH, start=NOW)).save()
    bundle = await app.resources("Consent").search(patient=AN.ssin, colour="red").fetch_raw()
    assert bundle["total"] == 1
    modes = [e["search"]["mode"] for e in bundle["entry"]]
    assert modes == ["match", "outcome"]
    assert "colour" in bundle["entry"][1]["resource"]["issue"][0]["diagnostics"]
    self_link = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    assert "colour" not in self_link


async def test_full_urls_and_links_are_absolute_on_this_servers_port(hub: Hub) -> None:
    app, _ = await _seeded(hub)
    bundle = await app.resources("Consent").search(patient=AN.ssin).limit(2).fetch_raw()
    for entry in bundle["entry"]:
        assert entry["fullUrl"] == f"{hub.url}/fhir/Consent/{entry['resource']['id']}"
    assert all(link["url"].startswith(f"{hub.url}/fhir/Consent?") for link in bundle["link"])


async def test_the_patient_is_required(hub: Hub) -> None:
    response = await hub.http.get("/fhir/Consent", headers=await _auth(hub))
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["patient"]


async def _auth(hub: Hub) -> dict[str, str]:
    return {"Authorization": f"Bearer {await hub.token('consult-app', SARAH.nihii)}"}
