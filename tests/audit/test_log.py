"""Audit records: valid FHIR AuditEvents, a consistent chain under concurrent writers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit.chain import canonical
from ehealth_hub.audit.events import AuditRecord, to_fhir
from ehealth_hub.audit.log import AuditLog
from ehealth_hub.audit.search import AuditFilter, fhir_page
from ehealth_hub.audit.verify import verify
from ehealth_hub.core.search import PageRequest


def record(n: int, **kwargs: object) -> AuditRecord:
    values: dict[str, object] = {
        "id": f"evt-{n}",
        "recorded": datetime(2026, 11, 24, 10, 0, n % 60, tzinfo=UTC),
        "action": "decision",
        "outcome": "permit",
        "patient_ssin": "85031212362",
        "actor_nihii": "11530231003",
        "client_id": "consult-app",
    }
    values.update(kwargs)
    return AuditRecord(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "rec",
    [
        record(1),
        record(
            2,
            outcome="deny",
            reasons=("exclusion: excluded",),
            purpose="emergency",
            break_the_glass=True,
            detail={"justification": "ER"},
        ),
        record(3, action="audit-read", outcome="success", actor_nihii=None),
    ],
)
def test_every_record_renders_as_a_valid_fhir_audit_event(rec: AuditRecord) -> None:
    event = AuditEvent.model_validate(to_fhir(rec))
    assert event.recorded is not None


def test_break_the_glass_records_carry_the_btg_label() -> None:
    event = to_fhir(record(1, break_the_glass=True, purpose="emergency"))
    assert event["meta"]["security"][0]["code"] == "BTG"
    assert event["purposeOfEvent"][0]["coding"][0]["code"] == "ETREAT"


def test_canonical_form_is_key_order_independent_and_refuses_floats() -> None:
    assert canonical({"b": 1, "a": [True, None]}) == canonical({"a": [True, None], "b": 1})
    with pytest.raises(TypeError):
        canonical({"a": 1.5})


async def test_concurrent_writers_keep_one_unbroken_chain(engine: AsyncEngine) -> None:
    async def write(n: int) -> None:
        async with engine.begin() as conn:
            await AuditLog().record(conn, record(n))

    await asyncio.gather(*(write(n) for n in range(20)))
    report = await verify(engine, [])
    assert report.ok, report.problems
    assert report.records == 20


async def test_search_returns_the_patients_events_newest_first(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for n in range(3):
            await AuditLog().record(conn, record(n))
        await AuditLog().record(conn, record(9, patient_ssin="90070104521"))
    async with engine.connect() as conn:
        page = await fhir_page(conn, AuditFilter(patients=["85031212362"]), PageRequest(10))
    assert [e["id"] for e in page.items] == ["evt-2", "evt-1", "evt-0"]
    assert page.total == 3
