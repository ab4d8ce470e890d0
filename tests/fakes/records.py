"""In-memory record sources (``RecordSourcePort``) serving the sandbox KMEHR samples."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from ehealth_hub.core.errors import HubError, NotFound
from ehealth_hub.core.permit import Permit, require
from ehealth_hub.core.ports import Actor, TransactionRef
from ehealth_hub.fixtures import kmehr_samples, sandbox

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


class MemoryRecordSource:
    """A record source holding KMEHR messages per patient; ``fail`` makes every call raise,
    ``delay`` makes listing slow, and ``meet`` makes listing wait until every party to that barrier
    is listing too (which only concurrent callers can bring about)."""

    def __init__(
        self,
        name: str,
        messages: dict[str, list[tuple[TransactionRef, bytes]]],
        *,
        fail: HubError | None = None,
        delay: float = 0.0,
        meet: asyncio.Barrier | None = None,
    ) -> None:
        self.name = name
        self.messages = messages
        self.fail = fail
        self.delay = delay
        self.meet = meet
        self.calls = 0
        self.reads = 0
        """GetTransaction-like reads served."""

    async def list_transactions(
        self, permit: Permit, actor: Actor, *, types: tuple[str, ...], since: date | None = None
    ) -> list[TransactionRef]:
        require(
            permit, action="read-dossier", patient_ssin=permit.patient_ssin, now=datetime.now(UTC)
        )
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.meet is not None:
            await self.meet.wait()
        if self.fail is not None:
            raise self.fail
        return [ref for ref, _ in self.messages.get(permit.patient_ssin, []) if ref.type in types]

    async def get_transaction(self, permit: Permit, actor: Actor, ref: TransactionRef) -> bytes:
        require(
            permit, action="read-dossier", patient_ssin=permit.patient_ssin, now=datetime.now(UTC)
        )
        for known, data in self.messages.get(permit.patient_ssin, []):
            if known.transaction_id == ref.transaction_id:
                self.reads += 1
                return data
        raise NotFound(f"no transaction {ref.transaction_id}", system=self.name)


def sandbox_source(
    name: str, *, version: str | None = None, **kwargs: object
) -> MemoryRecordSource:
    """A source holding, for each sandbox patient on it, a Sumehr (and a medication scheme and
    vaccinations on Vitalink), authored by the patient's GP; listed with ``version``."""
    messages: dict[str, list[tuple[TransactionRef, bytes]]] = {}
    for p in sandbox.PATIENTS:
        if name not in p.hubs:
            continue
        person = kmehr_samples.person_from_sandbox(p)
        author = kmehr_samples.party_from_sandbox(sandbox.practitioner(p.gp))
        docs = [("sumehr", kmehr_samples.sumehr(person, author, now=NOW))]
        if name == "vitalink":
            docs.append(
                ("medicationscheme", kmehr_samples.medication_scheme(person, author, now=NOW))
            )
            docs.append(("vaccination", kmehr_samples.vaccinations(person, author, now=NOW)))
        messages[p.ssin] = [
            (TransactionRef(name, f"{name}-{p.key}-{kind}", kind, NOW, version=version), data)
            for kind, data in docs
        ]
    return MemoryRecordSource(name, messages, **kwargs)  # type: ignore[arg-type]
