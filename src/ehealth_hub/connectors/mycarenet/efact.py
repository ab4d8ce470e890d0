"""eFact through MyCareNet GenericAsync v1 (``urn:be:cin:nip:async:generic``): post, get, confirm.

``post`` sends one 920000 batch (Detail sealed, MessageName 920000, InputReference = the batch's
reference, the care provider's XAdES-BES in ``Xades-t``) and returns the TAck; ``fetch`` gets
the waiting messages (931000 acknowledgements, 920099 results, 920098 rejections), each unsealed
and verified; ``confirm`` names them by hash so MyCareNet removes them. A post whose TAck was
lost is found again by its reference among the TAcks ``fetch`` returns before anything is posted
again (see services/claims.py).
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import structlog

from ehealth_hub.connectors.mycarenet.base import MyCareNetService
from ehealth_hub.core.mycarenet_types import AsyncMessage, PostReceipt
from ehealth_hub.core.ports import Actor

log = structlog.get_logger(__name__)
SUCCESS: Final = "urn:nip:tack:result:major:success"
MESSAGE_NAMES: Final = ("931000", "920098", "920099")


class EfactClient(MyCareNetService):
    """Implements :class:`~ehealth_hub.core.ports.EfactPort`."""

    async def post(self, actor: Actor, batch: str, *, reference: str) -> PostReceipt:
        """Post one batch; the TAck says whether MyCareNet took it."""
        detail = await self.envelope.detail(
            batch.encode("latin-1"), content_type="text/plain", message_name="920000"
        )
        signature = await self.envelope.xades(detail, await self.care_provider_key(actor))
        tack = await self.call(
            actor,
            "post",
            CommonInput=self.envelope.common_input(actor, reference),
            Detail=detail,
            **{"Xades-t": signature},  # not a Python identifier
        )
        return _receipt(tack, reference)

    async def fetch(self, actor: Actor) -> list[AsyncMessage]:
        """Messages and TAcks waiting for ``actor``'s package."""
        answer = await self.call(
            actor,
            "get",
            Origin=self.envelope.origin(actor),
            MsgQuery={"Include": True, "Max": 100, "MessageNames": {"Value": list(MESSAGE_NAMES)}},
            TAckQuery={"Include": True, "Max": 100},
        )
        out = []
        for message in answer.MsgResponse or []:
            content = await self.envelope.open(message.Detail)
            out.append(
                AsyncMessage(
                    str(message.Detail.MessageName or ""),
                    str(message.CommonOutput.InputReference or ""),
                    content,
                    hashlib.sha256(content).digest(),
                )
            )
        log.info("mycarenet.genasync.get", messages=len(out), tacks=len(answer.TAckResponse or []))
        return out

    async def tacks(self, actor: Actor) -> list[PostReceipt]:
        """The TAcks waiting for ``actor`` (to find a post whose answer was lost)."""
        answer = await self.call(
            actor,
            "get",
            Origin=self.envelope.origin(actor),
            MsgQuery={"Include": False, "MessageNames": {"Value": []}},
            TAckQuery={"Include": True, "Max": 100},
        )
        return [_receipt(t.TAck, str(t.TAck.AppliesTo)) for t in answer.TAckResponse or []]

    async def confirm(self, actor: Actor, messages: list[AsyncMessage]) -> None:
        """Confirm fetched messages so MyCareNet removes them."""
        if messages:
            await self.call(
                actor,
                "confirm",
                Origin=self.envelope.origin(actor),
                MsgHashValues={"Value": [m.hash_value.hex() for m in messages]},
            )


def _receipt(tack: Any, reference: str) -> PostReceipt:
    major = str(tack.ResultMajor)
    detail = " ".join(str(x) for x in (major, tack.ResultMinor, tack.ResultMessage) if x)
    return PostReceipt(str(tack.AppliesTo or reference), major == SUCCESS, detail)
