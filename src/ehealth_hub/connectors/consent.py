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

from ehealth_hub.connectors.hubservices_xml import BRUSSELS, HCPARTY_QUALITY
from ehealth_hub.core.errors import BusinessRejection, DownstreamProtocolError
from ehealth_hub.core.ports import Actor, NationalConsent
from ehealth_hub.trust.protected import ProtectedSoap

SYSTEM = "consent"


def kmehr_id(scheme: str, value: str, sv: str = "1.0") -> dict[str, str]:
    """A KMEHR ``id``/``cd`` value as zeep takes it."""
    return {"_value_1": value, "S": scheme, "SV": sv}


def patient_id(ssin: str) -> dict[str, Any]:
    return {"id": [kmehr_id("ID-PATIENT", ssin)]}


def author(actor: Actor) -> dict[str, Any]:
    quality = HCPARTY_QUALITY.get(actor.quality, actor.quality)
    party = {
        "id": [kmehr_id("ID-HCPARTY", actor.nihii)],
        "cd": [kmehr_id("CD-HCPARTY", quality, "1.1")],
    }
    return {"hcparty": [party]}


def request_header(actor: Actor, *, now: datetime, request_id: str) -> dict[str, Any]:
    """The hubservices ``request`` element (zeep form)."""
    local = now.astimezone(BRUSSELS)
    return {
        "id": kmehr_id("ID-KMEHR", f"{actor.nihii}.{request_id}"),
        "author": author(actor),
        "date": local.date(),
        "time": local.time().replace(microsecond=0, tzinfo=None),
    }


def check_acknowledge(answer: Any, *, system: str, operation: str) -> None:
    """Raise BusinessRejection when the service answered ``iscomplete = false``."""
    ack = getattr(answer, "acknowledge", None)
    if ack is None:
        raise DownstreamProtocolError(
            "answer without acknowledge", system=system, operation=operation
        )
    if ack.iscomplete:
        return
    errors = list(ack.error or [])
    code = errors[0].cd._value_1 if errors else "unknown"
    detail = "; ".join(str(e.description) for e in errors) or "refused without reason"
    raise BusinessRejection(detail, system=system, operation=operation, code=code)


class ConsentClient:
    """A :class:`~ehealth_hub.core.ports.ConsentPort` over the national Consent service."""

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
