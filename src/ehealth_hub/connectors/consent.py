"""The national Consent service: the patient's informed consent to the exchange of health data.

Contract: eHealth Consent, hubservices v3 messages (XSD specification 3.5: PutPatientConsent,
GetPatientConsent, RevokePatientConsent; ``CD-CONSENTTYPE`` retrospective), SOAP 1.1
document/literal, signed with the actor's SAML holder-of-key token. Own WSDL
``wsdl/consent_v3.wsdl``. Reads are retried (idempotent); Put and Revoke are attempted once.
Refusals (``acknowledge/iscomplete = false``) become BusinessRejection with the CD-ERROR code, e.g.
``consent.already.exists`` or ``consent.not.found``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ehealth_hub.connectors.intrahub import (
    author,
    check_acknowledge,
    kmehr_id,
    patient_id,
    request_header,
)
from ehealth_hub.connectors.ports import Actor, NationalConsent
from ehealth_hub.connectors.resilience import ProtectedSoap
from ehealth_hub.errors import DownstreamProtocolError

SYSTEM = "consent"


class ConsentClient:
    """A :class:`~ehealth_hub.connectors.ports.ConsentPort` over the national Consent service."""

    def __init__(
        self,
        endpoint: ProtectedSoap,
        *,
        clock: Callable[[], datetime],
        ids: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.endpoint, self.clock, self.ids = endpoint, clock, ids

    def _request(self, actor: Actor) -> dict[str, Any]:
        return request_header(actor, now=self.clock(), request_id=self.ids())

    async def get_consent(self, patient_ssin: str, actor: Actor) -> NationalConsent | None:
        """The patient's consent (active or revoked), or None when never registered."""
        answer = await self.endpoint.call(
            actor,
            "GetPatientConsent",
            idempotent=True,
            request=self._request(actor),
            select={"patient": patient_id(patient_ssin)},
        )
        check_acknowledge(answer, system=SYSTEM, operation="GetPatientConsent")
        consent = answer.consent
        if consent is None:
            return None
        kinds = [str(c._value_1) for c in consent.cd if c.S == "CD-CONSENTTYPE"]
        if not kinds:
            raise DownstreamProtocolError(
                "consent without CD-CONSENTTYPE", system=SYSTEM, operation="GetPatientConsent"
            )
        return NationalConsent(
            patient_ssin=patient_ssin,
            status="revoked" if consent.revokedate is not None else "active",
            signed=consent.signdate,
            revoked=consent.revokedate,
            consent_type=kinds[0],
        )

    async def put_consent(self, consent: NationalConsent, actor: Actor) -> None:
        """Register the patient's consent (a write: attempted once)."""
        body = {
            "patient": patient_id(consent.patient_ssin),
            "cd": [kmehr_id("CD-CONSENTTYPE", consent.consent_type)],
            "signdate": consent.signed or self.clock().date(),
            "author": author(actor),
        }
        answer = await self.endpoint.call(
            actor, "PutPatientConsent", idempotent=False, request=self._request(actor), consent=body
        )
        check_acknowledge(answer, system=SYSTEM, operation="PutPatientConsent")

    async def revoke_consent(self, patient_ssin: str, actor: Actor) -> None:
        """Revoke the patient's consent today (a write: attempted once)."""
        body = {
            "patient": patient_id(patient_ssin),
            "cd": [kmehr_id("CD-CONSENTTYPE", "retrospective")],
            "revokedate": self.clock().date(),
            "author": author(actor),
        }
        answer = await self.endpoint.call(
            actor,
            "RevokePatientConsent",
            idempotent=False,
            request=self._request(actor),
            consent=body,
        )
        check_acknowledge(answer, system=SYSTEM, operation="RevokePatientConsent")
