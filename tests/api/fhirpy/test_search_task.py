"""``GET /fhir/Task`` with fhirpy over HTTP: status, focus, patient, owner, ``_lastUpdated``,
``authored-on``, ``_sort``, ``_count`` and paging, within each client's compartment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fhirpy.base.exceptions import OperationOutcome
from sqlalchemy import update

from ehealth_hub.fhir.profiles import NIHDI_SYSTEM, SSIN_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.store.tables import outbox
from tests.api.fhirpy.conftest import NOW, Hub, seed_task

SARAH, KOEN = sandbox.practitioner("sarah"), sandbox.practitioner("koen")
JAN, PIETER = sandbox.practitioner("jan"), sandbox.practitioner("pieter")
AN, THOMAS = sandbox.patient("an"), sandbox.patient("thomas")


async def _seeded(hub: Hub) -> dict[str, str]:
    """Sarah's eight notes (An's to Jan, Thomas's to Pieter, one an hour), Koen's one; the ids
    by label ``an0..an3``, ``th0..th3``, ``koen``. ``an3`` failed, ``th3`` completed."""
    ids: dict[str, str] = {}
    for hour in range(4):
        at = NOW - timedelta(hours=8 - 2 * hour)
        ids[f"an{hour}"] = await seed_task(
            hub, patient=AN.ssin, requester=SARAH.nihii, owner=JAN.nihii,
            focus=f"DocumentReference/an-{hour}", at=at,
        )  # fmt: skip
        ids[f"th{hour}"] = await seed_task(
            hub, patient=THOMAS.ssin, requester=SARAH.nihii, owner=PIETER.nihii,
            focus=f"DocumentReference/th-{hour}", at=at + timedelta(hours=1),
        )  # fmt: skip
    ids["koen"] = await seed_task(
        hub, patient=AN.ssin, requester=KOEN.nihii, owner=JAN.nihii,
        focus="DocumentReference/koen", at=NOW,
    )  # fmt: skip
    async with hub.container.engine.begin() as conn:
        for label, status in (("an3", "dead"), ("th3", "completed")):
            await conn.execute(
                update(outbox).where(outbox.c.id == ids[label]).values(status=status)
            )
    return ids


def _ids(resources: list[Any]) -> list[str]:
    return [r["id"] for r in resources]


async def test_a_practitioner_pages_through_their_own_tasks_newest_first(hub: Hub) -> None:
    ids = await _seeded(hub)
    app = await hub.fhir("consult-app", SARAH.nihii)
    search = app.resources("Task").limit(3)
    first = await search.fetch_raw()
    assert first["total"] == 8
    assert len(first["entry"]) == 3
    every = await search.fetch_all()  # 3 pages
    newest_first = [f"{k}{h}" for h in (3, 2, 1, 0) for k in ("th", "an")]
    assert _ids(every) == [ids[label] for label in newest_first]
    assert ids["koen"] not in _ids(every)


async def test_status_focus_patient_and_owner_filter_in_the_database(hub: Hub) -> None:
    ids = await _seeded(hub)
    app = await hub.fhir("consult-app", SARAH.nihii)
    tasks = app.resources("Task")
    assert _ids(await tasks.search(status="failed").fetch_all()) == [ids["an3"]]
    completed = await tasks.search(status="completed,failed").fetch_all()
    assert sorted(_ids(completed)) == sorted([ids["an3"], ids["th3"]])
    assert len(await tasks.search(status="requested").fetch_all()) == 6
    focus = await tasks.search(focus="DocumentReference/th-1").fetch_all()
    assert _ids(focus) == [ids["th1"]]
    an = await tasks.search(patient=AN.ssin).fetch_all()
    assert sorted(_ids(an)) == sorted(ids[f"an{h}"] for h in range(4))
    assert len(await tasks.search(patient=f"{SSIN_SYSTEM}|{THOMAS.ssin}").fetch_all()) == 4
    pieter = await tasks.search(owner=f"{NIHDI_SYSTEM}|{PIETER.nihii}").fetch_all()
    assert sorted(_ids(pieter)) == sorted(ids[f"th{h}"] for h in range(4))
    both = await tasks.search(patient=AN.ssin, status="requested").fetch_all()
    assert len(both) == 3


async def test_authored_on_and_last_updated_take_ranges(hub: Hub) -> None:
    ids = await _seeded(hub)
    app = await hub.fhir("consult-app", SARAH.nihii)
    since = (NOW - timedelta(hours=4, minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (NOW - timedelta(hours=1, minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = await app.resources("Task").search(**{"authored-on": f"ge{since}"}).fetch_all()
    assert sorted(_ids(recent)) == sorted(ids[k] for k in ("an2", "th2", "an3", "th3"))
    window = app.resources("Task").search(**{"authored-on": [f"ge{since}", f"lt{until}"]})
    assert sorted(_ids(await window.fetch_all())) == sorted([ids["an2"], ids["th2"], ids["an3"]])
    updated = app.resources("Task").search(_lastUpdated=f"lt{since}")
    assert sorted(_ids(await updated.fetch_all())) == sorted(
        ids[k] for k in ("an0", "th0", "an1", "th1")
    )


async def test_sort_oldest_first(hub: Hub) -> None:
    ids = await _seeded(hub)
    app = await hub.fhir("consult-app", SARAH.nihii)
    oldest = await app.resources("Task").sort("authored-on").limit(3).fetch_all()
    assert _ids(oldest)[:3] == [ids["an0"], ids["th0"], ids["an1"]]
    by_change = await app.resources("Task").sort("-_lastUpdated").limit(5).fetch_all()
    assert len(by_change) == 8


async def test_gp_software_sees_the_notes_to_its_gps_and_the_total_counts_only_those(
    hub: Hub,
) -> None:
    ids = await _seeded(hub)
    gp = await hub.fhir("gp-software")
    bundle = await gp.resources("Task").limit(2).fetch_raw()
    assert bundle["total"] == 5  # An's four notes and Koen's, all to Jan
    every = await gp.resources("Task").limit(2).fetch_all()
    assert sorted(_ids(every)) == sorted([*(ids[f"an{h}"] for h in range(4)), ids["koen"]])


async def test_full_urls_name_this_servers_port(hub: Hub) -> None:
    await _seeded(hub)
    operator = await hub.fhir("operator")
    bundle = await operator.resources("Task").limit(4).fetch_raw()
    assert bundle["total"] == 9
    for entry in bundle["entry"]:
        assert entry["fullUrl"] == f"{hub.url}/fhir/Task/{entry['resource']['id']}"


async def test_bad_values_are_refused_naming_the_parameter(hub: Hub) -> None:
    app = await hub.fhir("consult-app", SARAH.nihii)
    for params, name in (
        ({"status": "lost"}, "status"),
        ({"owner": PIETER.nihii}, "owner"),
        ({"_lastUpdated": "yesterday"}, "_lastUpdated"),
        ({"_sort": "status"}, "_sort"),
        ({"requester": SARAH.nihii}, "requester"),
    ):
        with pytest.raises(OperationOutcome) as refused:
            await app.resources("Task").search(**params).fetch_raw()
        assert name in str(refused.value)
