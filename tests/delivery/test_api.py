"""Task routes (read, search, ETag, $replay) and the Idempotency-Key mechanism, over HTTP
in-process, on both backends. The token verifier is a fake; everything else is the real app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from ehealth_hub.api import create_app
from ehealth_hub.bootstrap import Container, build_container
from ehealth_hub.delivery.outbox import Status, TaskInfo, enqueue
from ehealth_hub.delivery.store import Outcome, claim, record
from ehealth_hub.settings import load_settings
from tests.fakes.delivery_tokens import PRACTITIONER, FakeTokens

HUB_URL = "http://127.0.0.1:8000"
"""Where the in-process clients reach the hub: the address `serve` binds by default."""


@pytest.fixture
async def hub(
    database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Container]]:
    settings = load_settings(
        database_url=database_url, data_dir=tmp_path, delivery={"in_process_worker": False}
    )
    container = await build_container(settings, migrate=True)
    container = replace(container, auth=FakeTokens())  # type: ignore[arg-type]  # TokenService.verify
    app: FastAPI = create_app(settings, container=container)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=HUB_URL) as client:
            yield client, container
    await container.aclose()


def auth(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


async def _task(container: Container, requester: str = PRACTITIONER, *, dead: bool = False) -> str:
    async with container.engine.begin() as conn:
        item = await enqueue(
            conn,
            kind="note",
            destination="gp",
            ordering_key=requester,
            payload={},
            task=TaskInfo(
                focus="DocumentReference/1", requester={"identifier": {"value": requester}}
            ),
        )
    if dead:
        async with container.engine.begin() as conn:
            [claimed] = await claim(
                conn,
                owner="w",
                destinations=["gp"],
                now=item.created_at,
                lease=item.created_at - item.created_at,
                limit=1,
            )
            await record(
                conn,
                [Outcome(claimed, Status.DEAD, error={"detail": "gone"})],
                owner="w",
                now=item.created_at,
            )
    return item.id


async def test_task_routes_refuse_anonymous_callers(
    hub: tuple[httpx.AsyncClient, Container],
) -> None:
    client, container = hub
    task_id = await _task(container)
    assert (await client.get(f"/fhir/Task/{task_id}")).status_code == 401
    assert (await client.get("/fhir/Task", headers=auth("forged"))).status_code == 401


async def test_a_task_is_read_with_its_version_as_etag_and_unchanged_is_304(
    hub: tuple[httpx.AsyncClient, Container],
) -> None:
    client, container = hub
    task_id = await _task(container)
    response = await client.get(f"/fhir/Task/{task_id}", headers=auth("operator"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert (body["status"], body["meta"]["versionId"]) == ("requested", "1")
    assert response.headers["etag"] == 'W/"1"'
    again = await client.get(
        f"/fhir/Task/{task_id}", headers=auth("operator", **{"If-None-Match": 'W/"1"'})
    )
    assert again.status_code == 304


async def test_a_practitioner_sees_only_the_tasks_they_requested(
    hub: tuple[httpx.AsyncClient, Container],
) -> None:
    client, container = hub
    mine = await _task(container)
    theirs = await _task(container, requester="10000000000")
    assert (
        await client.get(f"/fhir/Task/{theirs}", headers=auth("consult-app"))
    ).status_code == 404
    bundle = (await client.get("/fhir/Task", headers=auth("consult-app"))).json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == [mine]


async def test_search_by_status_finds_dead_letters_as_failed(
    hub: tuple[httpx.AsyncClient, Container],
) -> None:
    client, container = hub
    dead = await _task(container, dead=True)
    await _task(container, requester="x")
    bundle = (await client.get("/fhir/Task?status=failed", headers=auth("operator"))).json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == [dead]
    assert bundle["entry"][0]["resource"]["businessStatus"]["text"] == "dead-letter"
    bad = await client.get("/fhir/Task?status=bogus", headers=auth("operator"))
    assert bad.status_code == 400


async def test_replay_needs_the_operator_scope_and_requeues_a_dead_letter(
    hub: tuple[httpx.AsyncClient, Container],
) -> None:
    client, container = hub
    dead = await _task(container, dead=True)
    refused = await client.post(f"/fhir/Task/{dead}/$replay", headers=auth("gp-software"))
    assert refused.status_code == 403
    replayed = await client.post(f"/fhir/Task/{dead}/$replay", headers=auth("operator"))
    assert replayed.status_code == 200
    assert replayed.json()["status"] == "requested"
    twice = await client.post(f"/fhir/Task/{dead}/$replay", headers=auth("operator"))
    assert twice.status_code == 400, "only failed or dead deliveries are replayed"


async def test_the_same_idempotency_key_and_request_get_the_stored_answer_without_rerunning(
    hub: tuple[httpx.AsyncClient, Container],
) -> None:
    client, container = hub
    await _task(container, dead=True)
    headers = auth("operator", **{"Idempotency-Key": "k-1"})
    first = await client.post("/fhir/Task/$replay?destination=gp", headers=headers)
    second = await client.post("/fhir/Task/$replay?destination=gp", headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content, "the stored answer, byte for byte"
    assert second.headers["idempotent-replayed"] == "true"
    count = {p["name"]: p.get("valueInteger") for p in second.json()["parameter"]}["count"]
    assert count == 1, "had the route run again it would have found nothing to replay"


async def test_the_same_idempotency_key_with_another_request_is_a_conflict(
    hub: tuple[httpx.AsyncClient, Container],
) -> None:
    client, _ = hub
    headers = auth("operator", **{"Idempotency-Key": "k-2"})
    assert (
        await client.post("/fhir/Task/$replay?destination=a", headers=headers)
    ).status_code == 200
    conflict = await client.post("/fhir/Task/$replay?destination=b", headers=headers)
    assert conflict.status_code == 409
    issue = conflict.json()["issue"][0]
    assert (issue["code"], issue["details"]["text"]) == ("conflict", "idempotency-key-reused")


async def test_idempotency_keys_are_scoped_per_client(
    hub: tuple[httpx.AsyncClient, Container],
) -> None:
    client, container = hub
    await _task(container, dead=True)
    one = await client.post(
        "/fhir/Task/$replay?destination=gp", headers=auth("operator", **{"Idempotency-Key": "same"})
    )
    other = await client.post(
        "/fhir/Task/$replay?destination=gp",
        headers=auth("operator-2", **{"Idempotency-Key": "same"}),
    )
    assert "idempotent-replayed" not in other.headers
    counts = [
        {p["name"]: p.get("valueInteger") for p in r.json()["parameter"]}["count"]
        for r in (one, other)
    ]
    assert counts == [1, 0]


async def test_a_failed_request_releases_its_idempotency_key(
    hub: tuple[httpx.AsyncClient, Container],
) -> None:
    client, container = hub
    dead = await _task(container, dead=True)
    headers = auth("operator", **{"Idempotency-Key": "retry-me"})
    missing = await client.post("/fhir/Task/nope/$replay", headers=headers)
    assert missing.status_code == 404
    retried = await client.post("/fhir/Task/nope/$replay", headers=headers)
    assert retried.status_code == 404
    assert "idempotent-replayed" not in retried.headers
    assert dead
