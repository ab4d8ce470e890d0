"""Psychologist sessions billed as psychologist sessions: recorded on MyCareNet's Mental Health
Care (MHC) platform, behind :class:`~ehealth_hub.core.ports.MentalHealthCarePort`.

A clinical psychologist's Claim names a session of the first-line convention (a hub session key of
:data:`~ehealth_hub.mappings.mhc.SESSION_SYSTEM`); :class:`~.claims.ClaimsService` checks it like
any claim (consent gate, the tariff table's ``mhc`` row for the serviced date, the provider type of
the row, MemberData insurability and BIM status) and enqueues it on the ``mycarenet`` destination
with route ``mhc``. The delivery (:mod:`.claims_delivery`) then calls :func:`record_session`: the
session message (assumed shape, :mod:`ehealth_hub.mappings.mhc`) carries the table's fee and
patient share (EUR 11, or EUR 4 with increased reimbursement; EUR 0 for the first session), and
the platform's answer becomes the ClaimResponse with the same amounts as any claim
(``copay``/``benefit``). MHC unreachable: DownstreamUnavailable, retried by the outbox like eAttest.

ACCEPTANCE-ONLY: ``mycarenet.mhc.shape_verified`` must be set before production starts with MHC
enabled (``bootstrap.mhc.check_mhc``); with ``mycarenet.mhc.enabled`` false, session claims are
refused before anything is sent (422 ``billing.route``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from ehealth_hub.core.mycarenet_types import InsurabilityFacts, TeleconsultationClaim
from ehealth_hub.core.ports import Actor, MentalHealthCarePort
from ehealth_hub.mappings.mhc import MhcOutcome, read_answer, session_message


async def record_session(
    port: MentalHealthCarePort,
    actor: Actor,
    claim: TeleconsultationClaim,
    facts: InsurabilityFacts,
    *,
    message_id: str,
    created: datetime,
    billing: Mapping[str, Any],
) -> MhcOutcome:
    """Record the session on MHC (the same message on every attempt); the platform's outcome."""
    share = billing.get("patient_share")
    message = session_message(
        claim,
        facts,
        message_id=message_id,
        created=created,
        bim=bool(billing.get("bim")),
        patient_share=None if share is None else Decimal(str(share)),
    )
    return read_answer(await port.record_session(actor, dict(message)))
