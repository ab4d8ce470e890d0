"""An in-memory eHealthBox (``MailboxPort``): keeps what was sent, per recipient."""

from __future__ import annotations

from datetime import UTC, datetime

from ehealth_hub.core.permit import Permit, require
from ehealth_hub.core.ports import Actor, OutgoingMessage, SendReceipt


class MemoryMailbox:
    """Checks the write-note permit, then files the message under the recipient's NIHII."""

    def __init__(self) -> None:
        self.boxes: dict[str, list[OutgoingMessage]] = {}

    async def send_message(
        self, permit: Permit, actor: Actor, message: OutgoingMessage
    ) -> SendReceipt:
        require(
            permit, action="write-note", patient_ssin=message.patient_ssin, now=datetime.now(UTC)
        )
        box = self.boxes.setdefault(message.recipient.nihii, [])
        if all(m.message_id != message.message_id for m in box):
            box.append(message)
        return SendReceipt(message.message_id, f"ehbox-{len(box)}", datetime.now(UTC))
