"""Reliable delivery: a transactional outbox, competing workers, retries, dead letters, replay.

Notes go to the GP's eHealthBox and claims to MyCareNet through this package, exactly once in
effect: accepted work is committed with the business record, delivered by workers that may crash
at any point, retried per destination with backoff, and sent with a deterministic message id so
that the receiver de-duplicates a redelivery. Patterns: transactional outbox (C. Richardson,
*Microservices Patterns*), competing consumers with ``SELECT ... FOR UPDATE SKIP LOCKED``
(PostgreSQL >= 9.5), circuit breaker (M. Nygard, *Release It!*); tasks are FHIR R4 (4.0.1) Task.

Enqueue, in the CALLER's transaction (business record + outbox row + AuditEvent commit together;
answer 202 with the Task only after the commit)::

    from ehealth_hub.delivery import TaskInfo, enqueue, task_resource

    async with container.engine.begin() as conn:
        await conn.execute(insert(notes).values(...))                    # the business record
        item = await enqueue(
            conn,
            kind="note",                       # what it is (Task.code)
            destination="ehbox",               # a registered destination name
            ordering_key=patient_ssin,         # same key = delivered in order (stored hashed)
            payload={"note_id": note_id},      # JSON the destination handler receives
            task=TaskInfo(focus=f"DocumentReference/{note_id}",
                          requester={"identifier": {"system": NIHDI_SYSTEM, "value": nihii}}),
            dedup_key=note_id,                 # optional: enqueue at most once per key
        )
        await container.audit_log.record(conn, ...)                       # the AuditEvent
    container.delivery.wake()                  # optional: skip the in-process worker's poll wait
    return FhirResponse(task_resource(item), status_code=202,
                        headers={"Location": f"{base}/fhir/Task/{item.id}"})

Register a destination (in ``bootstrap.build_container``)::

    async def send_note(payload: Mapping[str, Any], message_id: str) -> Mapping[str, Any]:
        ...  # send downstream with message_id as the message's id; return the receipt as JSON
        # raise DownstreamUnavailable (retried with backoff) or BusinessRejection (parked as
        # failed with its reason, never retried); any HubError's ``retryable`` decides.

    container.delivery.register("ehbox", send_note)          # policy from delivery.policies

The worker calls ``handler(payload, message_id)``; ``message_id`` is
``uuid5(namespace, destination | kind | dedup_key or item id)``, the same on every attempt and
replay. The answer becomes ``Task.output`` (a FHIR resource answer, e.g. ClaimResponse, is
contained). Task states: requested (waiting / queued / retry-scheduled), in-progress, completed,
failed (rejected, or dead-letter after ``max_attempts`` / ``max_age``).

A handler may run up to ``delivery.handler_timeout_seconds``: the worker renews its leases every
``lease_seconds / 3`` while it runs (heartbeat, fenced by owner and attempt), so a slow downstream
is neither cut off nor sent to twice; a worker that loses a lease does not record its outcome.

Run: ``ehealth-hub worker`` (any number on PostgreSQL; one on SQLite), or the in-process worker
the API starts when ``delivery.in_process_worker`` is true (default: on SQLite). Replay:
``POST /fhir/Task/{id}/$replay``, ``POST /fhir/Task/$replay?destination=&status=&since=&_dryRun=``,
``ehealth-hub replay --id ID | --destination D --status dead --since T [--dry-run]``; a replayed
item goes to the tail of its ordering key (behind the key's unfinished later items).
Operations: ``ehealth-hub outbox stats`` (depth per destination and status, oldest age: the
queries behind ``/metrics``), ``ehealth-hub outbox purge [--dry-run]``. Retention
(``delivery.retention``): completed / failed / dead items and their Tasks are purged after their
retention, expired Idempotency-Keys too, by every worker in small batches; waiting / pending /
in-progress items never; AuditEvents never (they are the legal record).
Circuit breakers: per destination; on PostgreSQL their verdict is shared by every worker process
(one trial when half-open), on SQLite they live in the one worker.
Settings: ``EHEALTH_HUB_DELIVERY__*`` (:class:`ehealth_hub.settings.DeliverySettings`).

Modules: :mod:`.outbox` (enqueue, ids), :mod:`.store` (claim/renew/record/replay SQL),
:mod:`.worker`, :mod:`.engine` (registry, breakers), :mod:`.policy` (backoff, breaker),
:mod:`.breakers` (shared verdicts), :mod:`.retention` (purge), :mod:`.task` (FHIR Task),
:mod:`.metrics`, :mod:`.webhook` (the generic HTTP destination), :mod:`.cli`.
"""

from ehealth_hub.delivery.outbox import OutboxItem, Status, TaskInfo, enqueue, message_id_for
from ehealth_hub.delivery.task import task_resource

__all__ = ["OutboxItem", "Status", "TaskInfo", "enqueue", "message_id_for", "task_resource"]
