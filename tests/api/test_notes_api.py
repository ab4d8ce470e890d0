"""POST /fhir/DocumentReference: 202 + Task, the note delivered to the GP's eHealthBox."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime

import httpx
import pytest

from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import consultation_note
from tests.api.conftest import HUB_URL, TokenFactory
from tests.fakes.mailbox import MemoryMailbox

SARAH = sandbox.practitioner("sarah")
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


@pytest.fixture
async def writer(token_for: TokenFactory) -> dict[str, str]:
    token = await token_for(
        "consult-app", "user/DocumentReference.c", "user/Task.r", practitioner=SARAH.nihii
    )
    return {"Authorization": f"Bearer {token}"}


async def _wait_completed(
    client: httpx.AsyncClient, location: str, headers: dict[str, str]
) -> dict:
    for _ in range(100):
        task = (await client.get(location, headers=headers)).json()
        if task["status"] in ("completed", "failed"):
            return task
        await asyncio.sleep(0.05)
    raise AssertionError(f"task still {task['status']}")


async def test_note_is_accepted_with_a_task_and_reaches_the_gp(
    client: httpx.AsyncClient, writer: dict[str, str], mailbox: MemoryMailbox
) -> None:
    an = sandbox.patient("an")
    note = consultation_note(an, SARAH, "Video consultation: mild fever, paracetamol.", now=NOW)
    response = await client.post("/fhir/DocumentReference", json=note, headers=writer)
    assert response.status_code == 202, response.text
    task = response.json()
    assert task["resourceType"] == "Task"
    assert response.headers["location"] == f"{HUB_URL}/fhir/Task/{task['id']}"
    done = await _wait_completed(client, response.headers["location"], writer)
    assert done["status"] == "completed"
    gp = sandbox.practitioner(an.gp).nihii
    delivered = mailbox.boxes[gp]
    assert len(delivered) == 1
    assert b"mild fever" in delivered[0].document
    assert b"<kmehrmessage" in delivered[0].document


async def test_the_same_note_twice_is_one_delivery(
    client: httpx.AsyncClient, writer: dict[str, str]
) -> None:
    note = consultation_note(sandbox.patient("an"), SARAH, "Same note.", now=NOW)
    first = await client.post("/fhir/DocumentReference", json=note, headers=writer)
    second = await client.post("/fhir/DocumentReference", json=note, headers=writer)
    assert first.json()["id"] == second.json()["id"]


async def test_a_note_without_consent_is_403(
    client: httpx.AsyncClient, writer: dict[str, str]
) -> None:
    note = consultation_note(sandbox.patient("sofie"), SARAH, "No consent.", now=NOW)
    response = await client.post("/fhir/DocumentReference", json=note, headers=writer)
    assert response.status_code == 403


async def test_a_note_by_another_author_is_refused(
    client: httpx.AsyncClient, writer: dict[str, str]
) -> None:
    note = consultation_note(
        sandbox.patient("an"), sandbox.practitioner("koen"), "Not mine.", now=NOW
    )
    response = await client.post("/fhir/DocumentReference", json=note, headers=writer)
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["DocumentReference.author"]
    assert issue["details"]["coding"][0]["code"] == "note.author-is-actor"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"[1, 2]", "body"),
        (b'{"resourceType": "Observation"}', "resourceType"),
    ],
)
async def test_a_malformed_note_is_400_naming_the_field(
    client: httpx.AsyncClient, writer: dict[str, str], body: bytes, field: str
) -> None:
    headers = {**writer, "Content-Type": "application/fhir+json"}
    response = await client.post("/fhir/DocumentReference", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == [field]


async def test_a_note_without_text_content_is_refused_naming_the_path(
    client: httpx.AsyncClient, writer: dict[str, str]
) -> None:
    note = consultation_note(sandbox.patient("an"), SARAH, "x", now=NOW)
    note["content"][0]["attachment"]["data"] = base64.b64encode(b"\xff\xfe").decode()
    response = await client.post("/fhir/DocumentReference", json=note, headers=writer)
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"][0].startswith("DocumentReference.content")


async def test_reading_records_scope_cannot_write_notes(
    client: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    token = await token_for("consult-app", "user/Patient.r", practitioner=SARAH.nihii)
    note = consultation_note(sandbox.patient("an"), SARAH, "x", now=NOW)
    response = await client.post(
        "/fhir/DocumentReference", json=note, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403
