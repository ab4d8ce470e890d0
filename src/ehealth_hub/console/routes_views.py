"""Downstreams (health, breakers, queues, the last hour), consent explanations, the audit trail."""

from __future__ import annotations

from typing import get_args

from fastapi import APIRouter, Request
from starlette.responses import Response

from ehealth_hub.console.charts import sparkline
from ehealth_hub.console.web import User, console_of, date_field, field, page
from ehealth_hub.core.errors import AuthorizationError, InvalidInput
from ehealth_hub.core.identifiers import Nihii, Ssin, mask_ssin
from ehealth_hub.core.permit import Action
from ehealth_hub.core.ports import Actor
from ehealth_hub.services.operations import AuditQuery
from ehealth_hub.services.operations_users import ConsoleUser

router = APIRouter()
ACTIONS = get_args(Action)
QUALITIES = ("doctor", "nurse", "clinical_psychologist", "physiotherapist")


@router.get("/downstreams")
async def downstreams(request: Request, user: User) -> Response:
    """Each downstream's health, and each destination's breaker, queue and last hour."""
    ops = console_of(request).operations()
    checks = await ops.downstreams.check()
    views = await ops.history.destinations() if ops.history else []
    return page(
        request,
        "downstreams.html",
        nav="downstreams",
        checks=checks,
        views=views,
        sparkline=sparkline,
    )


@router.get("/consent")
async def consent_form(request: Request, user: User) -> Response:
    """The consent explanation form."""
    return page(request, "consent.html", nav="consent", actions=ACTIONS, qualities=QUALITIES)


@router.post("/consent")
async def consent_explain(request: Request, user: User) -> Response:
    """The gate's decision and reasons now, the patient's consents and their history."""
    ops = console_of(request).operations()
    patient = Ssin.parse(field(request, "patient")).value
    nihii = Nihii.person(field(request, "practitioner")).value
    action, quality = field(request, "action"), field(request, "quality")
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}", field="action", rule="consent-action")
    if quality not in QUALITIES:
        raise InvalidInput(f"unknown quality {quality!r}", field="quality", rule="quality")
    decision_id, decision = await ops.audit.explain(
        user,
        patient,
        Actor(nihii, quality),
        action,  # type: ignore[arg-type]  # checked above
    )
    consents = await ops.audit.patient_consents(user, patient)
    return page(
        request,
        "consent.html",
        nav="consent",
        actions=ACTIONS,
        qualities=QUALITIES,
        values={"action": action, "quality": quality, "practitioner": nihii},
        patient_masked=mask_ssin(patient),
        decision_id=decision_id,
        decision=decision,
        consents=consents,
    )


def _auditor(user: ConsoleUser) -> None:
    if not user.is_auditor:
        raise AuthorizationError(
            "the audit pages are for auditors only", system="console", code="forbidden"
        )


@router.get("/audit")
async def audit(request: Request, user: User) -> Response:
    """The audit page: search form and ``audit verify`` (auditors only)."""
    _auditor(user)
    return page(request, "audit.html", nav="audit", values={})


@router.post("/audit")
async def audit_search(request: Request, user: User) -> Response:
    """AuditEvents matching the form (the search is audited)."""
    _auditor(user)
    patient = field(request, "patient")
    query = AuditQuery(
        patient_ssin=Ssin.parse(patient).value if patient else None,
        action=field(request, "action") or None,
        client_id=field(request, "client") or None,
        since=date_field(request, "since"),
        until=date_field(request, "until"),
    )
    entries = await console_of(request).operations().audit.search(user, query)
    values = {n: field(request, n) for n in ("patient", "action", "client", "since", "until")}
    return page(request, "audit.html", nav="audit", values=values, entries=entries, mask=mask_ssin)


@router.post("/audit/verify")
async def audit_verify(request: Request, user: User) -> Response:
    """Run ``audit verify`` now and show the result and the last signed head."""
    _auditor(user)
    result = await console_of(request).operations().audit.verify(user)
    return page(request, "audit.html", nav="audit", values={}, verified=result)
