"""Reading the teleconsultation claims and their answers (``GET /fhir/Claim``, ``GET
/fhir/ClaimResponse``), each within the caller's compartment, every one shown audited
(``claim-read``).

Both are what ``Claim/$submit`` stored (:mod:`.claims`, table ``mycarenet_claims``): the Claim as
the app submitted it and, once the mutuality answered, the ClaimResponse the app received (built
by :mod:`ehealth_hub.services.claims_delivery`, served unchanged). A claim has one id on the hub:
its outbound message id, already the ClaimResponse's id; the Claim is served under it, the app's
own claim id kept as an identifier of the ``app-claim`` naming system (the one the
ClaimResponse's ``request`` names; the claim's Task names the Claim as served, ``focus``
``Claim/<hub id>``, with the app's id as ``focus.identifier``, and a Task search's ``focus`` takes
either: :mod:`.tasks`). Who sees which claim
(anything else is answered 404):

* a client acting for a practitioner (``user/Claim.r``/``.s``, ``user/ClaimResponse.r``/``.s``):
  the claims that practitioner submitted (the same rule as their Tasks, :mod:`.task_access`);
* a mutuality (kind ``mutuality``, ``system/Claim.*``, ``system/ClaimResponse.*``): the claims
  addressed to the federations it serves (its registry ``serves``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Final, Literal

from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit.events import AuditRecord
from ehealth_hub.audit.log import AuditLog
from ehealth_hub.auth import scopes
from ehealth_hub.auth.principal import Principal
from ehealth_hub.core.errors import NotFound
from ehealth_hub.core.search import Page, PageRequest, mapped
from ehealth_hub.fhir.builders import Json
from ehealth_hub.fhir.profiles import HUB_SYSTEM_BASE
from ehealth_hub.services.claims_store import ClaimFilter, ClaimRow, find_claims

APP_CLAIM_SYSTEM: Final = f"{HUB_SYSTEM_BASE}/NamingSystem/app-claim"
"""The app's own claim ids (also ``ClaimResponse.request.identifier``)."""
Kind = Literal["Claim", "ClaimResponse"]
_SCOPES: Final[dict[tuple[Kind, bool], tuple[str, str]]] = {
    ("Claim", False): (scopes.CLAIM_READ, scopes.CLAIM_READ_SYSTEM),
    ("Claim", True): (scopes.CLAIM_SEARCH, scopes.CLAIM_SEARCH_SYSTEM),
    ("ClaimResponse", False): (scopes.CLAIM_RESPONSE_READ, scopes.CLAIM_RESPONSE_READ_SYSTEM),
    ("ClaimResponse", True): (scopes.CLAIM_RESPONSE_SEARCH, scopes.CLAIM_RESPONSE_SEARCH_SYSTEM),
}


def compartment(principal: Principal, kind: Kind, *, search: bool = False) -> ClaimFilter:
    """The claims (or answers) ``principal`` may see (none when its kind reads no claim)."""
    user, system = _SCOPES[(kind, search)]
    # a Claim is served once stored (0004), a ClaimResponse once the mutuality answered
    answered, submitted = kind == "ClaimResponse", kind == "Claim"
    if principal.allows(system) and principal.kind == "mutuality":
        return ClaimFilter(federations=principal.serves, answered=answered, submitted=submitted)
    if principal.allows(user) and principal.practitioner_nihii:
        nihii = frozenset({principal.practitioner_nihii})
        return ClaimFilter(practitioners=nihii, answered=answered, submitted=submitted)
    return ClaimFilter(practitioners=frozenset(), federations=frozenset())


def claim_resource(row: ClaimRow) -> Json:
    """The Claim the app submitted, under the hub's id (see the module docstring)."""
    claim = dict(row.claim or {})
    app_id = row.claim_key.split("|", 1)[1]
    own = {"system": APP_CLAIM_SYSTEM, "value": app_id}
    identifiers = [i for i in claim.get("identifier", []) if i != own]
    # stored once at $submit, never changed: one version (the claim's status lives in its Task)
    meta = {**claim.get("meta", {}), "versionId": "1", "lastUpdated": row.created_at.isoformat()}
    return {**claim, "id": row.message_id, "meta": meta, "identifier": [*identifiers, own]}


def response_resource(row: ClaimRow) -> Json:
    """The ClaimResponse the app received, as stored with its one version (written once, with
    the claim's terminal status: :mod:`.claims_delivery`); answers stored before they carried
    it get the same: version 1, as old as that last change of the row."""
    answer = row.claim_response or {}
    version = {"versionId": "1", "lastUpdated": row.updated_at.isoformat()}
    return {**answer, "id": row.message_id, "meta": {**version, **answer.get("meta", {})}}


def _render(kind: Kind, row: ClaimRow) -> Json:
    return claim_resource(row) if kind == "Claim" else response_resource(row)


class ClaimReads:
    """Read and search claims and their answers (see the module docstring)."""

    def __init__(self, engine: AsyncEngine, audit: AuditLog) -> None:
        self.engine, self.audit = engine, audit

    async def read(self, kind: Kind, claim_id: str, principal: Principal) -> Json:
        """The Claim or ClaimResponse ``claim_id`` (NotFound outside the compartment)."""
        seen = compartment(principal, kind)
        query = ClaimFilter(
            practitioners=seen.practitioners,
            federations=seen.federations,
            message_id=claim_id,
            answered=seen.answered,
            submitted=seen.submitted,
        )
        rows = list((await find_claims(self.engine, query, PageRequest(1))).items)
        if not rows:
            raise NotFound(f"{kind}/{claim_id} not found", system="api", code="not-found")
        await self._audit(principal, kind, rows, "read")
        return _render(kind, rows[0])

    async def search(
        self,
        kind: Kind,
        principal: Principal,
        page: PageRequest,
        *,
        patient: str | None = None,
        request: str | None = None,
    ) -> Page[Json]:
        """One page of the caller's claims or answers (``request``: the claim's id), newest
        first."""
        seen = compartment(principal, kind, search=True)
        query = ClaimFilter(
            practitioners=seen.practitioners,
            federations=seen.federations,
            patient=patient,
            message_id=request,
            answered=seen.answered,
            submitted=seen.submitted,
        )
        found = await find_claims(self.engine, query, page)
        await self._audit(principal, kind, list(found.items), "search")
        return mapped(found, [_render(kind, r) for r in found.items])

    async def _audit(
        self, principal: Principal, kind: Kind, rows: list[ClaimRow], operation: str
    ) -> None:
        records = [_read_audit(principal, kind, r, operation) for r in rows]
        if records:
            async with self.audit.appending(self.engine) as conn:
                await self.audit.record_many(conn, records)


def _read_audit(principal: Principal, kind: Kind, row: ClaimRow, operation: str) -> AuditRecord:
    return AuditRecord(
        id=str(uuid.uuid4()),
        recorded=datetime.now(UTC),
        action="claim-read",
        outcome="success",
        patient_ssin=row.patient_ssin,
        actor_nihii=principal.practitioner_nihii,
        actor_quality=principal.quality,
        client_id=principal.client_id,
        detail={"resource": f"{kind}/{row.message_id}", "operation": operation},
    )
