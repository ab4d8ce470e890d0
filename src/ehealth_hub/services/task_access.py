"""Which delivery Tasks each client may follow (its compartment), and the audit of every read.

A scope says what kind of resource a client may read; the compartment says which ones:

* a client acting for a practitioner (``user/Task.r``): the Tasks that practitioner requested;
* a mutuality (kind ``mutuality``, ``system/Task.r``): the claims addressed to the federations it
  serves (``Task.owner`` = the federation, ``ClientRegistration.serves``);
* GP software (kind ``gp-software``, ``system/Task.r``): the notes addressed to the GPs it serves
  (``Task.owner`` = the GP's NIHII);
* an operator or an auditor (``system/Task.r``): every Task, by role;
* any other client: none (refused as not found, like a Task that does not exist).

A Task names the patient (``Task.for``), so every Task a client reads is audited (``task-read``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import ColumnElement, false, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ehealth_hub.audit.events import AuditRecord
from ehealth_hub.auth.principal import Principal
from ehealth_hub.auth.scopes import TASK_READ, TASK_READ_SYSTEM
from ehealth_hub.core.search import DateBound, Page, PageRequest, mapped
from ehealth_hub.delivery.outbox import OutboxItem, Status
from ehealth_hub.fhir.profiles import INSURANCE_NUMBER_SYSTEM, NIHDI_SYSTEM
from ehealth_hub.services import claims, notes
from ehealth_hub.store.search import date_conditions, fetch_page
from ehealth_hub.store.tables import outbox

ALL_TASKS_KINDS: Final = frozenset({"operator", "auditor"})
"""Client kinds that follow every Task (by role)."""
ADDRESSED_KINDS: Final = {
    "mutuality": (claims.KIND, INSURANCE_NUMBER_SYSTEM),
    "gp-software": (notes.KIND, NIHDI_SYSTEM),
}
"""Client kind -> (the deliveries addressed to it, the naming system of their ``Task.owner``)."""


@dataclass(frozen=True, slots=True)
class TaskCompartment:
    """The Tasks one caller may see."""

    everything: bool = False
    requester: str | None = None
    """The practitioner whose requests these are (``user/Task.r``)."""
    kind: str | None = None
    owner_system: str | None = None
    owners: frozenset[str] = frozenset()
    """Whom the deliveries must be addressed to (``Task.owner.identifier``)."""

    def holds(self, item: OutboxItem) -> bool:
        """True when ``item``'s Task is in the compartment."""
        if self.everything:
            return True
        if self.requester is not None:
            return item.task.requester_id() == self.requester
        owner = (item.task.owner or {}).get("identifier") or {}
        return (
            self.kind is not None
            and item.kind == self.kind
            and isinstance(owner, dict)
            and owner.get("system") == self.owner_system
            and owner.get("value") in self.owners
        )


def compartment(principal: Principal) -> TaskCompartment:
    """The compartment of ``principal`` (empty when its kind follows no Task)."""
    if principal.allows(TASK_READ_SYSTEM):
        if principal.kind in ALL_TASKS_KINDS:
            return TaskCompartment(everything=True)
        if principal.kind in ADDRESSED_KINDS:
            kind, system = ADDRESSED_KINDS[principal.kind]
            return TaskCompartment(kind=kind, owner_system=system, owners=principal.serves)
    if principal.allows(TASK_READ) and principal.practitioner_nihii:
        return TaskCompartment(requester=principal.practitioner_nihii)
    return TaskCompartment()


@dataclass(frozen=True, slots=True)
class TaskFilter:
    """What a Task search asks for (each field ORs its values; fields are ANDed)."""

    statuses: Sequence[Status] = ()
    focus: Sequence[str] = ()
    patient: Sequence[str] = ()
    """``system|value`` of ``Task.for``'s identifier."""
    owner: Sequence[str] = ()
    """``system|value`` of ``Task.owner``'s identifier."""
    last_updated: Sequence[DateBound] = ()
    authored: Sequence[DateBound] = ()


SORTS: Final = {"_lastUpdated": outbox.c.updated_at, "authored-on": outbox.c.created_at}
"""``_sort`` keys of a Task search (the default: newest ``authored-on`` first)."""


def _visible(seen: TaskCompartment) -> list[ColumnElement[bool]]:
    """The compartment as SQL conditions."""
    if seen.everything:
        return []
    if seen.requester is not None:
        return [outbox.c.requester == seen.requester]
    if seen.kind is None or not seen.owners:
        return [false()]
    owners = [f"{seen.owner_system}|{o}" for o in sorted(seen.owners)]
    return [outbox.c.kind == seen.kind, outbox.c.owner.in_(owners)]


def _wanted(filters: TaskFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    for column, values in (
        (outbox.c.status, [s.value for s in filters.statuses]),
        (outbox.c.focus, filters.focus),
        (outbox.c.patient, filters.patient),
        (outbox.c.owner, filters.owner),
    ):
        if values:
            conds.append(column.in_(list(values)))
    conds += date_conditions(filters.last_updated, outbox.c.updated_at)
    conds += date_conditions(filters.authored, outbox.c.created_at)
    return conds


async def search(
    conn: AsyncConnection, seen: TaskCompartment, filters: TaskFilter, page: PageRequest
) -> Page[OutboxItem]:
    """One page of the compartment's Tasks matching ``filters`` (filtered and paged in SQL)."""
    stmt = select(outbox).where(*_visible(seen), *_wanted(filters))
    key = SORTS[page.sort or "authored-on"]
    rows = await fetch_page(
        conn, stmt, key=key, tiebreak=outbox.c.seq, page=page, operation="task.search"
    )
    return mapped(rows, [OutboxItem.from_row(r) for r in rows.items])


def read_audit(principal: Principal, item: OutboxItem, *, operation: str) -> AuditRecord:
    """The AuditEvent of one Task shown to ``principal`` (it names the patient)."""
    patient = ((item.task.for_ or {}).get("identifier") or {}).get("value")
    return AuditRecord(
        id=str(uuid.uuid4()),
        recorded=datetime.now(UTC),
        action="task-read",
        outcome="success",
        patient_ssin=str(patient) if patient else None,
        actor_nihii=principal.practitioner_nihii,
        actor_quality=principal.quality,
        client_id=principal.client_id,
        detail={"task": f"Task/{item.id}", "kind": item.kind, "operation": operation},
    )
