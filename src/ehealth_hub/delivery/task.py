"""Outbox items rendered as FHIR R4 (4.0.1) Task resources.

Status mapping (Task.status, value set http://hl7.org/fhir/task-status)::

    waiting      -> requested     (businessStatus "waiting": behind an earlier item of its key)
    pending      -> requested     (businessStatus "queued", or "retry-scheduled" after a failure)
    in-progress  -> in-progress
    completed    -> completed     (output = the downstream's answer)
    failed       -> failed        (businessStatus "rejected"; statusReason = the reason)
    dead         -> failed        (businessStatus "dead-letter"; replay with Task/{id}/$replay)

``meta.versionId`` is the row's version (it changes on every transition); a downstream answer that
is itself a FHIR resource (ClaimResponse) is contained and referenced from ``Task.output``.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from ehealth_hub.delivery.outbox import OutboxItem, Status, TaskInfo
from ehealth_hub.fhir.profiles import HUB_SYSTEM_BASE, OUTBOUND_MESSAGE_ID_SYSTEM

MESSAGE_ID_SYSTEM: Final = OUTBOUND_MESSAGE_ID_SYSTEM
KIND_SYSTEM: Final = f"{HUB_SYSTEM_BASE}/CodeSystem/delivery-kind"
BUSINESS_STATUS_SYSTEM: Final = f"{HUB_SYSTEM_BASE}/CodeSystem/delivery-status"
OUTPUT_SYSTEM: Final = f"{HUB_SYSTEM_BASE}/CodeSystem/delivery-output"

_FHIR_STATUS: Final = {
    Status.WAITING: "requested",
    Status.PENDING: "requested",
    Status.IN_PROGRESS: "in-progress",
    Status.COMPLETED: "completed",
    Status.FAILED: "failed",
    Status.DEAD: "failed",
}


def fhir_statuses(code: str) -> tuple[Status, ...]:
    """The outbox statuses shown as the Task.status ``code`` (for ``GET /fhir/Task?status=``)."""
    return tuple(s for s, fhir in _FHIR_STATUS.items() if fhir == code)


def business_status(item: OutboxItem) -> str:
    """The hub's finer status code."""
    if item.status is Status.PENDING:
        return "retry-scheduled" if item.last_error else "queued"
    return {Status.FAILED: "rejected", Status.DEAD: "dead-letter"}.get(
        item.status, item.status.value
    )


def etag(item: OutboxItem) -> str:
    """The weak ETag of the Task (FHIR http: ``W/"<versionId>"``)."""
    return f'W/"{item.version}"'


def task_resource(item: OutboxItem) -> dict[str, Any]:
    """The Task following ``item``."""
    code = business_status(item)
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": item.id,
        "meta": {"versionId": str(item.version), "lastUpdated": _instant(item.updated_at)},
        "identifier": [{"system": MESSAGE_ID_SYSTEM, "value": item.message_id}],
        "status": _FHIR_STATUS[item.status],
        "businessStatus": {
            "coding": [{"system": BUSINESS_STATUS_SYSTEM, "code": code}],
            "text": code,
        },
        "intent": "order",
        "code": {
            "coding": [{"system": KIND_SYSTEM, "code": item.kind}],
            "text": f"deliver {item.kind} to {item.destination}",
        },
        "authoredOn": _instant(item.created_at),
        "lastModified": _instant(item.updated_at),
        "input": _inputs(item),
    }
    info = item.task
    for key, value in (
        ("focus", _focus(info)),
        ("for", info.for_),
        ("requester", info.requester),
        ("owner", info.owner),
        ("description", info.description),
    ):
        if value:
            task[key] = value
    if item.last_error and item.status is not Status.COMPLETED:
        task["statusReason"] = {"text": str(item.last_error.get("detail", ""))[:1000]}
    if item.status is Status.COMPLETED and item.result is not None:
        _add_output(task, item.result)
    return task


def _focus(info: TaskInfo) -> dict[str, Any] | None:
    if not info.focus:
        return None
    focus: dict[str, Any] = {"reference": info.focus}
    if info.focus_identifier:
        focus["identifier"] = info.focus_identifier
    return focus


def _instant(value: Any) -> str:
    return str(value.isoformat(timespec="milliseconds"))


def _inputs(item: OutboxItem) -> list[dict[str, Any]]:
    entries: dict[str, Any] = {
        "destination": item.destination,
        "attempts": item.attempts,
        **item.task.extra,
    }
    if item.status is Status.PENDING and item.last_error:
        entries["next-attempt"] = _instant(item.next_attempt_at)
    return [_parameter(name, value) for name, value in entries.items()]


def _parameter(name: str, value: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": {"coding": [{"system": OUTPUT_SYSTEM, "code": name}], "text": name}
    }
    if isinstance(value, bool):
        entry["valueBoolean"] = value
    elif isinstance(value, int):
        entry["valueInteger"] = value
    elif isinstance(value, str):
        entry["valueString"] = value
    else:
        entry["valueString"] = orjson.dumps(value).decode()
    return entry


def _add_output(task: dict[str, Any], result: dict[str, Any]) -> None:
    if isinstance(result.get("resourceType"), str):
        contained = {**result, "id": "output"}
        task["contained"] = [contained]
        task["output"] = [
            {
                "type": {"coding": [{"system": OUTPUT_SYSTEM, "code": "answer"}], "text": "answer"},
                "valueReference": {"reference": "#output"},
            }
        ]
        return
    task["output"] = [_parameter(name, value) for name, value in result.items()] or [
        _parameter("answer", "empty")
    ]
