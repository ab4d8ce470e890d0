"""Deliveries: search, one delivery's timeline and bodies, replay one or many, export, replays.

A search that names a patient is a POST (the SSIN travels in the body, never in a URL); results
show SSINs masked. Replays and exports are the operator's; bodies are the auditor's.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from ehealth_hub.console.web import User, console_of, date_field, field, form, page
from ehealth_hub.core.errors import AuthorizationError, InvalidInput
from ehealth_hub.core.identifiers import Ssin, mask_ssin
from ehealth_hub.services.operations import DeliveryQuery, ReplayResult, Status
from ehealth_hub.services.operations_users import ConsoleUser

router = APIRouter()
PAGE_SIZE = 100


def _query(request: Request) -> DeliveryQuery:
    """The search form as a query (every field checked; errors name the field)."""
    status = field(request, "status")
    if status and status not in Status.__members__.values():
        raise InvalidInput(f"unknown status {status!r}", field="status", rule="delivery-status")
    patient = field(request, "patient")
    return DeliveryQuery(
        destination=field(request, "destination") or None,
        statuses=(Status(status),) if status else (),
        patient_ssin=Ssin.parse(patient).value if patient else None,
        since=date_field(request, "since"),
        until=date_field(request, "until"),
        message_id=field(request, "message_id") or None,
    )


def _operator(user: ConsoleUser) -> None:
    if user.role != "operator":
        raise AuthorizationError("replays and exports are for operators", system="console")


async def _listing(
    request: Request, query: DeliveryQuery, replay: ReplayResult | None = None
) -> Response:
    ops = console_of(request).operations()
    before = field(request, "before")
    result = await ops.deliveries.search(
        query, limit=PAGE_SIZE, before=int(before) if before.isdigit() else None
    )
    values = {name: field(request, name) for name in ("destination", "status", "since", "until")}
    values["message_id"] = field(request, "message_id")
    values["patient"] = field(request, "patient")
    return page(
        request,
        "deliveries.html",
        nav="deliveries",
        result=result,
        values=values,
        statuses=[s.value for s in Status],
        mask=mask_ssin,
        replay=replay,
    )


@router.get("/deliveries")
async def deliveries(request: Request, user: User) -> Response:
    """The newest deliveries."""
    return await _listing(request, DeliveryQuery())


@router.post("/deliveries")
async def search_deliveries(request: Request, user: User) -> Response:
    """Deliveries matching the form."""
    return await _listing(request, _query(request))


@router.post("/deliveries/replay")
async def replay_many(request: Request, user: User) -> Response:
    """Replay the ticked deliveries, or the failed/dead ones matching the filter (dry run)."""
    _operator(user)
    ops = console_of(request).operations()
    ids = tuple(i for i in form(request).get("id", []) if i)
    query = None if ids else _query(request)
    dry_run = field(request, "mode") != "replay"
    result = await ops.deliveries.replay(user, ids=ids, query=query, dry_run=dry_run)
    return await _listing(request, query or DeliveryQuery(), replay=result)


@router.post("/deliveries/export")
async def export(request: Request, user: User) -> Response:
    """The matching deliveries as CSV (patients masked; audited)."""
    _operator(user)
    text = await console_of(request).operations().deliveries.export_csv(user, _query(request))
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="deliveries.csv"'},
    )


@router.get("/deliveries/{delivery_id}")
async def delivery(request: Request, delivery_id: str, user: User) -> Response:
    """One delivery and its timeline."""
    detail = await console_of(request).operations().deliveries.detail(delivery_id)
    return page(request, "delivery.html", nav="deliveries", d=detail)


@router.post("/deliveries/{delivery_id}/bodies")
async def bodies(request: Request, delivery_id: str, user: User) -> Response:
    """The request and answer as sent: auditors, with a reason (audited)."""
    ops = console_of(request).operations()
    shown = await ops.deliveries.bodies(user, delivery_id, field(request, "reason"))
    detail = await ops.deliveries.detail(delivery_id)
    return page(request, "delivery.html", nav="deliveries", d=detail, bodies=shown)


@router.post("/deliveries/{delivery_id}/replay")
async def replay_one(request: Request, delivery_id: str, user: User) -> Response:
    """Replay one failed or dead delivery; back to its page."""
    _operator(user)
    result = await console_of(request).operations().deliveries.replay(user, ids=(delivery_id,))
    if not result.ids:
        raise InvalidInput(
            "only failed or dead deliveries are replayed", field="id", rule="replay-finished-only"
        )
    return RedirectResponse(f"/console/deliveries/{delivery_id}", status_code=303)


@router.get("/replays")
async def replays(request: Request, user: User) -> Response:
    """The replays made from the console."""
    entries = await console_of(request).operations().deliveries.replays()
    return page(request, "replays.html", nav="replays", entries=entries)
