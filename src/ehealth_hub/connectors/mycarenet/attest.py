"""MyCareNet eAttest v3 adapter: sends the be-eattestation request message, returns the answer.

The Detail is the FHIR message Bundle as JSON (``application/fhir+json``), sealed; Routing names
the patient's mutuality and membership number from the insurability answer, so MyCareNet routes
the message to that mutuality; ``Xades`` carries the care provider's XAdES-BES. The
InputReference is the message id: the same message presented again is recognised by MyCareNet as
the same attestation (how the hub asks for the outcome of a send whose answer was lost, never
minting a second attestation).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import structlog

from ehealth_hub.connectors.mycarenet.base import MyCareNetService
from ehealth_hub.core.errors import DownstreamProtocolError
from ehealth_hub.core.mycarenet_types import InsurabilityFacts
from ehealth_hub.core.ports import Actor

log = structlog.get_logger(__name__)
FHIR_JSON = "application/fhir+json"


class AttestClient(MyCareNetService):
    """Implements :class:`~ehealth_hub.core.ports.AttestPort`."""

    async def send(
        self, actor: Actor, message: dict[str, Any], *, facts: InsurabilityFacts, on: date
    ) -> dict[str, Any]:
        """Send an eattest-create message."""
        return await self._exchange("sendAttestation", actor, message, facts, on)

    async def cancel(
        self, actor: Actor, message: dict[str, Any], *, facts: InsurabilityFacts, on: date
    ) -> dict[str, Any]:
        """Send an eattest-cancel message."""
        return await self._exchange("cancelAttestation", actor, message, facts, on)

    async def _exchange(
        self,
        operation: str,
        actor: Actor,
        message: dict[str, Any],
        facts: InsurabilityFacts,
        on: date,
    ) -> dict[str, Any]:
        message_id = _header_id(message)
        content = json.dumps(message, separators=(",", ":"), sort_keys=True).encode()
        detail = await self.envelope.detail(content, content_type=FHIR_JSON)
        signature = await self.envelope.xades(detail, await self.care_provider_key(actor))
        answer = await self.call(
            actor,
            operation,
            **self.request_attributes(),
            CommonInput=self.envelope.common_input(actor, message_id),
            Routing=self.envelope.routing(
                reference_date=on,
                mutuality=facts.mutuality,
                membership=facts.membership,
                ssin=facts.ssin,
            ),
            Detail=detail,
            Xades=signature,
        )
        raw = await self.envelope.open(answer.Return.Detail)
        try:
            bundle = json.loads(raw)
        except ValueError as exc:
            raise DownstreamProtocolError(
                "eAttest answer is not JSON", system=self.system, operation=operation
            ) from exc
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise DownstreamProtocolError(
                "eAttest answer is not a Bundle", system=self.system, operation=operation
            )
        log.info(
            "mycarenet.attest",
            operation=operation,
            message_id=message_id,
            mutuality=facts.mutuality,
        )
        return bundle


def _header_id(message: dict[str, Any]) -> str:
    for entry in message.get("entry", []):
        resource = entry.get("resource", {})
        if resource.get("resourceType") == "MessageHeader":
            return str(resource["id"])
    raise DownstreamProtocolError(
        "message without MessageHeader", system="mycarenet", operation="attest"
    )
