"""A note sent by the app reads back as FHIR (issue 20): the DocumentReference with its delivery,
and, for its sender only, the KMEHR message the GP's eHealthBox received, as a Binary. Over real
HTTP with fhirpy against the sandbox hub (simulators in-process, the delivery worker running)."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import ForbiddenError as Refused
from fhirpy.base.exceptions import OperationOutcome, ResourceNotFound

from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import consultation_consent, consultation_note
from ehealth_hub.fixtures.sim_ehbox import BOX_QUALITY
from ehealth_hub.services.note_reads import DELIVERY_STATUS
from tests.api.fhirpy.conftest import Hub, SandboxFhir

SARAH, KOEN = sandbox.practitioner("sarah"), sandbox.practitioner("koen")
AN = sandbox.patient("an")
JAN = sandbox.practitioner(AN.gp)
TEXT = "Sore throat for 3 days; no fever; gargle, call back if worse."


async def _completed(fhir: AsyncFHIRClient, task_id: str) -> dict[str, Any]:
    for _ in range(300):
        task = await fhir.reference("Task", task_id).to_resource()
        if task["status"] in ("completed", "failed"):
            return dict(task)
        await asyncio.sleep(0.1)
    raise AssertionError(f"Task/{task_id} still {task['status']}")


async def _sent_note(sandbox_fhir: SandboxFhir) -> tuple[AsyncFHIRClient, str, dict[str, Any]]:
    """Sarah's note to An's GP, delivered: (her client, the note's id, the Task)."""
    app = await sandbox_fhir("consult-app", SARAH.nihii)
    now = datetime.now(UTC)
    await app.resource("Consent", **consultation_consent(AN, SARAH, start=now)).save()
    task = await app.execute(
        "DocumentReference", method="post", data=consultation_note(AN, SARAH, TEXT, now=now)
    )
    done = await _completed(app, task["id"])
    assert done["status"] == "completed", done
    kind, _, note_id = done["focus"]["reference"].partition("/")
    assert kind == "DocumentReference"
    return app, note_id, done


def _received_by_gp(sandbox_hub: Hub) -> bytes:
    """The document of the last message in Jan's eHealthBox INBOX, unsealed with his key."""
    simulators = (
        sandbox_hub.container.connectors.simulators if sandbox_hub.container.connectors else None
    )
    assert simulators is not None
    assert simulators.ehbox.opener is not None
    box = ("NIHII", JAN.nihii, BOX_QUALITY[JAN.quality])
    message = simulators.ehbox.boxes[box]["INBOX"][-1]
    sealed = message.content.findtext("Content/Document/EncryptableTextContent") or ""
    document: bytes = simulators.ehbox.opener(box, base64.b64decode(sealed))
    return document


async def test_the_sender_reads_the_note_back_and_the_kmehr_the_gp_received(
    sandbox_fhir: SandboxFhir, sandbox_hub: Hub
) -> None:
    app, note_id, task = await _sent_note(sandbox_fhir)

    note = await app.reference("DocumentReference", note_id).to_resource()
    assert note["id"] == note_id
    assert note["status"] == "current"
    assert note["docStatus"] == "final"
    assert base64.b64decode(note["content"][0]["attachment"]["data"]).decode() == TEXT
    delivery = next(e for e in note["extension"] if e["url"] == DELIVERY_STATUS)
    assert delivery["valueCoding"]["code"] == "completed"
    related = note["context"]["related"]  # fhirpy sees a Reference it can follow
    assert [r.reference for r in related] == [f"Task/{task['id']}"]
    assert (await related[0].to_resource())["status"] == "completed"
    kmehr_link = note["content"][-1]["attachment"]
    assert kmehr_link["url"] == f"Binary/{note_id}"
    assert kmehr_link["contentType"] == "text/xml"

    binary = await app.reference(reference=kmehr_link["url"]).to_resource()
    sent = base64.b64decode(binary["data"])
    assert binary["contentType"] == "text/xml"
    assert binary["securityContext"].reference == f"DocumentReference/{note_id}"
    assert sent == _received_by_gp(sandbox_hub)
    assert b"<kmehrmessage" in sent
    assert JAN.nihii.encode() in sent
    assert kmehr_link["size"] == len(sent)

    token = await sandbox_hub.token("consult-app", SARAH.nihii)
    raw = await sandbox_hub.http.get(
        f"/fhir/Binary/{note_id}",
        headers={"Authorization": f"Bearer {token}", "Accept": "text/xml"},
    )
    assert raw.status_code == 200, raw.text
    assert raw.headers["content-type"].startswith("text/xml")
    assert raw.headers["x-security-context"] == f"DocumentReference/{note_id}"
    assert raw.content == sent


async def test_other_clients_see_the_note_only_as_their_compartment_says(
    sandbox_fhir: SandboxFhir, sandbox_hub: Hub
) -> None:
    _, note_id, _ = await _sent_note(sandbox_fhir)

    koen = await sandbox_fhir("consult-app", KOEN.nihii)  # another practitioner, same app
    with pytest.raises(ResourceNotFound):
        await koen.reference("DocumentReference", note_id).to_resource()
    with pytest.raises(ResourceNotFound):
        await koen.reference("Binary", note_id).to_resource()

    gp_software = await sandbox_fhir("gp-software")  # serves Jan, the recipient: the note, no KMEHR
    seen = await gp_software.reference("DocumentReference", note_id).to_resource()
    assert all(not c["attachment"].get("url") for c in seen["content"])
    for who in ("gp-software", "mutuality-cm", "auditor", "operator"):
        other = await sandbox_fhir(who)
        with pytest.raises(Refused) as refused:
            await other.reference("Binary", note_id).to_resource()
        assert "user/Binary.r" in str(refused.value), who
    for who in ("mutuality-cm", "auditor", "operator"):
        other = await sandbox_fhir(who)
        with pytest.raises(Refused, match="DocumentReference"):
            await other.reference("DocumentReference", note_id).to_resource()


async def test_every_note_read_is_audited_with_its_reader(
    sandbox_fhir: SandboxFhir, sandbox_hub: Hub
) -> None:
    app, note_id, _ = await _sent_note(sandbox_fhir)
    await app.reference("DocumentReference", note_id).to_resource()
    await app.reference("Binary", note_id).to_resource()
    gp_software = await sandbox_fhir("gp-software")
    await gp_software.reference("DocumentReference", note_id).to_resource()

    auditor = await sandbox_fhir("auditor")
    trail = await auditor.execute(
        "AuditEvent", method="get", params={"patient": AN.ssin, "_count": 1000}
    )
    readers = [
        agent["who"]["identifier"]["value"]
        for event in (e["resource"] for e in trail["entry"])
        if event["subtype"][0]["code"] == "note-read"
        for agent in event["agent"]
        if agent["who"].get("identifier", {}).get("system", "").endswith("/client-id")
    ]
    assert sorted(readers) == ["consult-app", "consult-app", "gp-software"]


async def test_a_wrong_accept_on_a_binary_is_406_and_a_bad_id_is_refused(
    sandbox_fhir: SandboxFhir, sandbox_hub: Hub
) -> None:
    _, note_id, _ = await _sent_note(sandbox_fhir)
    token = await sandbox_hub.token("consult-app", SARAH.nihii)
    auth = {"Authorization": f"Bearer {token}"}
    pdf = await sandbox_hub.http.get(
        f"/fhir/Binary/{note_id}", headers={**auth, "Accept": "application/pdf"}
    )
    assert pdf.status_code == 406
    async with httpx.AsyncClient(base_url=sandbox_hub.url) as http:
        bad = await http.get("/fhir/Binary/not_an_id!", headers=auth)
    assert bad.status_code in (400, 422)


async def test_the_notes_search_pages_through_the_senders_notes(sandbox_fhir: SandboxFhir) -> None:
    app, first_id, _ = await _sent_note(sandbox_fhir)
    now = datetime.now(UTC)
    for text in ("Second note.", "Third note."):
        await app.execute(
            "DocumentReference", method="post", data=consultation_note(AN, SARAH, text, now=now)
        )
    notes = app.resources("DocumentReference").search(patient=AN.ssin).limit(1)
    every = await notes.fetch_all()  # follows the Bundle's next links, one note per page
    assert len(every) == 3
    assert len({n["id"] for n in every}) == 3
    assert every[-1]["id"] == first_id  # newest first
    bundle = await app.execute(
        "DocumentReference", method="get", params={"patient": AN.ssin, "_count": 1}
    )
    assert bundle["total"] == 3
    assert {link["relation"] for link in bundle["link"]} == {"self", "next"}
    assert bundle["entry"][0]["fullUrl"].startswith("http://127.0.0.1:")

    delivered = (
        await app.resources("DocumentReference")
        .search(patient=AN.ssin, **{"delivery-status": "completed"})
        .fetch_all()
    )
    assert first_id in {n["id"] for n in delivered}
    assert await app.resources("DocumentReference").search(status="superseded").fetch_all() == []

    koen = await sandbox_fhir("consult-app", KOEN.nihii)
    assert await koen.resources("DocumentReference").search(patient=AN.ssin).fetch_all() == []
    gp_software = await sandbox_fhir("gp-software")
    seen = await gp_software.resources("DocumentReference").search(patient=AN.ssin).fetch_all()
    assert {n["id"] for n in seen} == {n["id"] for n in every}
    with pytest.raises(OperationOutcome, match="delivery-status"):
        await app.resources("DocumentReference").search(**{"delivery-status": "lost"}).fetch()
    with pytest.raises(OperationOutcome, match="colour"):
        await app.resources("DocumentReference").search(colour="blue").fetch()


async def test_a_note_and_its_kmehr_read_again_unchanged_are_304_not_modified(
    sandbox_fhir: SandboxFhir, sandbox_hub: Hub
) -> None:
    app, note_id, task = await _sent_note(sandbox_fhir)
    note = await app.reference("DocumentReference", note_id).to_resource()
    assert note["meta"]["versionId"] == task["meta"]["versionId"]  # the delivery's version
    before = dict(note)
    await note.refresh()  # fhirpy sends If-None-Match: <versionId>; 304 leaves it as it was
    assert dict(note) == before

    token = await sandbox_hub.token("consult-app", SARAH.nihii)
    auth = {"Authorization": f"Bearer {token}"}
    for path in (f"/fhir/DocumentReference/{note_id}", f"/fhir/Binary/{note_id}"):
        first = await sandbox_hub.http.get(path, headers=auth)
        assert first.status_code == 200, first.text
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        held = await sandbox_hub.http.get(path, headers={**auth, "If-None-Match": etag})
        assert (held.status_code, held.content, held.headers["etag"]) == (304, b"", etag), path
        since = await sandbox_hub.http.get(path, headers={**auth, "If-Modified-Since": modified})
        assert since.status_code == 304, path
        stale = await sandbox_hub.http.get(path, headers={**auth, "If-None-Match": 'W/"0"'})
        assert stale.status_code == 200, path
    xml = await sandbox_hub.http.get(
        f"/fhir/Binary/{note_id}", headers={**auth, "Accept": "text/xml", "If-None-Match": 'W/"1"'}
    )
    assert xml.status_code == 304  # the message as sent: one version, whatever its format
