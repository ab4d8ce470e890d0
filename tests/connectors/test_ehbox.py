"""The eHealthBox connector against the eHealthBox simulator: sealed sends with receipts, the hub's
own box (list, read and unseal, move, delete), refusals, no retried writes."""

from __future__ import annotations

import base64

import pytest

from ehealth_hub.connectors import ehbox
from ehealth_hub.connectors.ehbox import BoxId, EhboxClient, digest, publication_id
from ehealth_hub.core.errors import BusinessRejection, ConsentDenied, DownstreamUnavailable
from ehealth_hub.core.ports import OutgoingMessage, ProviderEntry
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.pki import HUB_CBE
from ehealth_hub.fixtures.simulate import Simulators
from tests.connectors.conftest import Clock, actor, permit

AN = sandbox.patient("an")
JAN = sandbox.practitioner("jan")
HUB = ProviderEntry(HUB_CBE, "ehealth", "hub", "INSTITUTION", "CBE", HUB_CBE)
HUB_BOX = BoxId(HUB_CBE, "CBE", "INSTITUTION")
NOTE = b"<kmehrmessage>consultation note</kmehrmessage>"


def message(to: ProviderEntry, message_id: str = "note-1") -> OutgoingMessage:
    return OutgoingMessage(message_id, to, "Video consultation", NOTE, "text/xml", AN.ssin)


def jan_entry() -> ProviderEntry:
    return ProviderEntry(JAN.nihii, JAN.given, JAN.family, "doctor", "NIHII", JAN.nihii)


async def test_sends_a_sealed_note_to_the_gp_with_receipts(
    ehbox_client: EhboxClient, sims: Simulators, clock: Clock
) -> None:
    receipt = await ehbox_client.send_message(
        permit("an", action="write-note", now=clock()), actor("sarah"), message(jan_entry())
    )
    inbox = sims.ehbox.inspect()["boxes"][f"NIHII/{JAN.nihii}/DOCTOR"]["INBOX"]
    assert [m["id"] for m in inbox] == [receipt.ehbox_message_id]
    assert inbox[0]["patient"] == "*******2362"
    assert inbox[0]["receipts"] == {"publication": clock().isoformat()}
    stored = sims.ehbox.boxes[("NIHII", JAN.nihii, "DOCTOR")]["INBOX"][0]
    sealed = stored.content.findtext("Content/Document/EncryptableTextContent") or ""
    assert NOTE not in sealed.encode()
    assert stored.content.findtext("Content/Document/Digest") == digest(base64.b64decode(sealed))
    assert stored.publication_id == publication_id("note-1")


async def test_the_box_refuses_a_document_whose_digest_is_not_its_content(
    ehbox_client: EhboxClient, sims: Simulators, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ehbox, "digest", lambda content: digest(content + b"tampered"))
    with pytest.raises(BusinessRejection) as refused:
        await ehbox_client.send_message(
            permit("an", action="write-note", now=clock()), actor("sarah"), message(jan_entry())
        )
    assert refused.value.code == "digest.mismatch"
    assert not sims.ehbox.boxes[("NIHII", JAN.nihii, "DOCTOR")]["INBOX"]


async def test_a_resend_of_the_same_note_is_stored_once(
    ehbox_client: EhboxClient, sims: Simulators, clock: Clock
) -> None:
    granted = permit("an", action="write-note", now=clock())
    first = await ehbox_client.send_message(granted, actor("sarah"), message(jan_entry()))
    again = await ehbox_client.send_message(granted, actor("sarah"), message(jan_entry()))
    assert first.ehbox_message_id == again.ehbox_message_id
    assert len(sims.ehbox.boxes[("NIHII", JAN.nihii, "DOCTOR")]["INBOX"]) == 1


async def test_reads_unseals_moves_and_deletes_in_the_hub_s_own_box(
    ehbox_client: EhboxClient, sims: Simulators, clock: Clock
) -> None:
    sent = await ehbox_client.send_message(
        permit("an", action="write-note", now=clock()), actor("jan"), message(HUB, "reply-1")
    )
    listed = await ehbox_client.list_messages(actor("sarah"), box=HUB_BOX)
    assert [(m.message_id, m.sender.id, m.title, m.encrypted) for m in listed] == [
        (sent.ehbox_message_id, JAN.nihii, "Video consultation", True)
    ]
    assert listed[0].custom_meta == {"hub-message-id": "reply-1"}
    full = await ehbox_client.get_full_message(actor("sarah"), sent.ehbox_message_id, box=HUB_BOX)
    assert (full.document, full.patient_ssin) == (NOTE, AN.ssin)
    assert (
        "read"
        in sims.ehbox.inspect()["boxes"][f"CBE/{HUB_CBE}/INSTITUTION"]["INBOX"][0]["receipts"]
    )
    await ehbox_client.move_messages(
        actor("sarah"), [sent.ehbox_message_id], source="INBOX", destination="BININBOX", box=HUB_BOX
    )
    assert await ehbox_client.list_messages(actor("sarah"), box=HUB_BOX) == []
    await ehbox_client.delete_messages(
        actor("sarah"), [sent.ehbox_message_id], source="BININBOX", box=HUB_BOX
    )
    assert await ehbox_client.list_messages(actor("sarah"), box=HUB_BOX, source="BININBOX") == []


async def test_refuses_a_recipient_box_that_does_not_exist(
    ehbox_client: EhboxClient, clock: Clock
) -> None:
    as_nurse = ProviderEntry(JAN.nihii, JAN.given, JAN.family, "nurse", "NIHII", JAN.nihii)
    with pytest.raises(BusinessRejection) as refused:
        await ehbox_client.send_message(
            permit("an", action="write-note", now=clock()), actor("sarah"), message(as_nurse)
        )
    assert refused.value.code == "recipient.unknown"


async def test_sends_nothing_to_a_recipient_without_an_etk(
    ehbox_client: EhboxClient, sims: Simulators, clock: Clock
) -> None:
    stranger = ProviderEntry("10000007003", "No", "Body", "doctor", "NIHII", "10000007003")
    with pytest.raises(BusinessRejection) as refused:
        await ehbox_client.send_message(
            permit("an", action="write-note", now=clock()), actor("sarah"), message(stranger)
        )
    assert refused.value.system == "etkdepot"
    assert not sims.ehbox.soap.received


async def test_refuses_a_message_id_that_is_not_in_the_box(ehbox_client: EhboxClient) -> None:
    with pytest.raises(BusinessRejection) as refused:
        await ehbox_client.get_full_message(actor("sarah"), "0000009999", box=HUB_BOX)
    assert refused.value.code == "message.not.found"


async def test_refuses_a_box_the_caller_holds_no_mandate_for(ehbox_client: EhboxClient) -> None:
    with pytest.raises(BusinessRejection) as refused:
        await ehbox_client.list_messages(actor("sarah"), box=BoxId(JAN.nihii, "NIHII", "DOCTOR"))
    assert refused.value.code == "box.access.denied"


async def test_sends_nothing_without_a_write_permit_for_this_patient(
    ehbox_client: EhboxClient, sims: Simulators, clock: Clock
) -> None:
    with pytest.raises(ConsentDenied):
        await ehbox_client.send_message(
            permit("luc", action="write-note", now=clock()), actor("sarah"), message(jan_entry())
        )
    with pytest.raises(ConsentDenied):
        await ehbox_client.send_message(
            permit("an", now=clock()), actor("sarah"), message(jan_entry())
        )
    assert not sims.ehbox.soap.received


async def test_never_retries_a_send(
    ehbox_client: EhboxClient, sims: Simulators, clock: Clock
) -> None:
    sims.ehbox.soap.faults.http_status = 503
    with pytest.raises(DownstreamUnavailable):
        await ehbox_client.send_message(
            permit("an", action="write-note", now=clock()), actor("sarah"), message(jan_entry())
        )
    assert [r.operation for r in sims.ehbox.soap.received] == ["SendMessageRequest"]


async def test_retries_a_message_list_after_a_server_fault(
    ehbox_client: EhboxClient, sims: Simulators
) -> None:
    sims.ehbox.soap.faults.http_status, sims.ehbox.soap.faults.times = 500, 2
    assert await ehbox_client.list_messages(actor("sarah"), box=HUB_BOX) == []
    assert len(sims.ehbox.soap.received) == 3
