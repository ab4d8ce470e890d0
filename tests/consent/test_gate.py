"""The gate: permits, denials, revocation, fail-closed faults, break-the-glass, audit."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ehealth_hub.consent.gate import ConsentGate
from ehealth_hub.consent.model import AccessRequest, ConsultationConsent
from ehealth_hub.consent.store import ConsentStore
from ehealth_hub.core.errors import (
    ConsentDenied,
    DownstreamProtocolError,
    DownstreamUnavailable,
    HubError,
    SignatureError,
    StorageError,
)
from ehealth_hub.core.permit import Permit, require
from ehealth_hub.core.ports import Actor
from ehealth_hub.fixtures.sandbox import patient, practitioner
from ehealth_hub.settings import ConsentSettings
from ehealth_hub.store.tables import audit_events
from tests.consent._support import consent_resource
from tests.consent.conftest import World, gate_for

SARAH = practitioner("sarah")
AHMED = practitioner("ahmed")
AN = patient("an")


def read(who: str = "sarah", whom: str = "an", **kwargs: object) -> AccessRequest:
    p = practitioner(who)
    return AccessRequest(
        patient(whom).ssin,
        Actor(p.nihii, p.quality),
        "read-dossier",
        client_id="consult-app",
        **kwargs,  # type: ignore[arg-type]
    )


async def record_consent(world: World, whom: str = "an", who: str = "sarah") -> str:
    resource = consent_resource(
        patient(whom).ssin, practitioner(who).nihii, start=world.clock.now - timedelta(minutes=5)
    )
    async with world.engine.begin() as conn:
        stored = await world.store.create(conn, resource, world.clock.now)
    return stored.consent.consent_id


async def audit_rows(world: World) -> list[dict[str, object]]:
    async with world.engine.connect() as conn:
        rows = (await conn.execute(select(audit_events).order_by(audit_events.c.seq))).all()
    return [dict(row._mapping) for row in rows]


async def test_permits_a_read_when_every_source_agrees_and_audits_it(world: World) -> None:
    await record_consent(world)
    permit = await world.gate.authorize(read())
    assert isinstance(permit, Permit)
    require(permit, action="read-dossier", patient_ssin=AN.ssin, now=world.clock.now)
    rows = await audit_rows(world)
    assert [(r["outcome"], r["decision_id"]) for r in rows] == [("permit", permit.decision_id)]
    assert rows[0]["client_id"] == "consult-app"


async def test_denies_read_without_consultation_consent_and_names_the_source(world: World) -> None:
    with pytest.raises(ConsentDenied) as denied:
        await world.gate.authorize(read())
    assert any(r.startswith("consultation-consent:") for r in denied.value.reasons)
    assert [r["outcome"] for r in await audit_rows(world)] == ["deny"]


async def test_denies_read_by_an_excluded_provider(world: World) -> None:
    await record_consent(world, "marc")
    with pytest.raises(ConsentDenied) as denied:
        await world.gate.authorize(read(whom="marc"))
    assert any(r.startswith("exclusion:") for r in denied.value.reasons)


async def test_denies_read_without_national_consent(world: World) -> None:
    await record_consent(world, "sofie")
    with pytest.raises(ConsentDenied) as denied:
        await world.gate.authorize(read(whom="sofie"))
    assert any(r.startswith("national-consent:") for r in denied.value.reasons)


async def test_revocation_through_the_hub_takes_effect_on_the_very_next_request(
    world: World,
) -> None:
    consent_id = await record_consent(world)
    await world.gate.authorize(read())
    calls = world.links.calls
    await world.gate.authorize(read())
    assert world.links.calls == calls, "the second decision should come from the cache"
    async with world.engine.begin() as conn:
        await world.store.set_status(conn, consent_id, "inactive", world.clock.now)
    world.gate.revoked(AN.ssin)
    with pytest.raises(ConsentDenied):
        await world.gate.authorize(read())


async def test_cached_permit_is_not_reused_past_the_staleness_bound(world: World) -> None:
    await record_consent(world)
    await world.gate.authorize(read())
    world.consent.consents.pop(AN.ssin)  # revoked at eHealth, not through the hub
    world.clock.now += timedelta(seconds=world.gate.cache._staleness.total_seconds() + 1)
    with pytest.raises(ConsentDenied):
        await world.gate.authorize(read())


FAULTS: list[HubError] = [
    DownstreamUnavailable("timeout", system="consent"),
    DownstreamProtocolError("SOAP fault", system="consent"),
    SignatureError("unsigned answer", system="consent"),
]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: type(f).__name__)
@pytest.mark.parametrize("source", ["consent", "links", "exclusions"])
async def test_each_downstream_fault_leads_to_a_denial(
    world: World, source: str, fault: HubError
) -> None:
    await record_consent(world)
    getattr(world, source).fail_with = fault
    with pytest.raises(ConsentDenied) as denied:
        await world.gate.authorize(read())
    assert any("source unavailable" in r for r in denied.value.reasons)
    body = json.loads(str((await audit_rows(world))[0]["body"]))
    assert body["index"]["outcome"] == "deny"


@pytest.mark.parametrize(
    ("source", "named"),
    [("consent", "national-consent"), ("links", "therapeutic-link"), ("exclusions", "exclusion")],
)
async def test_a_source_that_does_not_answer_in_time_leads_to_a_denial(
    world: World, source: str, named: str
) -> None:
    await record_consent(world)
    getattr(world, source).delay = 3600.0  # never answers; the gate's timeout cuts it off
    gate = gate_for(world, source_timeout_seconds=0.05)
    with pytest.raises(ConsentDenied) as denied:
        await gate.authorize(read())
    assert any(named in r and "no answer within 0.05 s" in r for r in denied.value.reasons)


async def test_break_the_glass_permits_without_link_and_is_audited_and_flagged(
    world: World,
) -> None:
    request = read("ahmed", "nadia", purpose="emergency", justification="unconscious at the ER")
    with pytest.raises(ConsentDenied):
        await world.gate.authorize(read("ahmed", "nadia"))
    world.links.fail_with = DownstreamUnavailable("down", system="therlink")
    permit = await world.gate.authorize(request)
    assert permit.break_the_glass
    assert permit.valid_until - world.clock.now <= timedelta(minutes=15)
    event = json.loads(str((await audit_rows(world))[-1]["body"]))["event"]
    assert event["meta"]["security"][0]["code"] == "BTG"
    details = {d["type"]: d["valueString"] for d in event["entity"][-1]["detail"]}
    assert details["review"] == "required"
    assert details["justification"] == "unconscious at the ER"
    assert "therapeutic-link" in details["unavailable"]


async def test_break_the_glass_is_refused_to_a_psychologist_and_without_justification(
    world: World,
) -> None:
    with pytest.raises(ConsentDenied, match="deny"):
        await world.gate.authorize(
            read("koen", "nadia", purpose="emergency", justification="x" * 30)
        )
    with pytest.raises(ConsentDenied):
        await world.gate.authorize(read("ahmed", "nadia", purpose="emergency", justification="hm"))


async def test_break_the_glass_is_never_served_from_the_cache(world: World) -> None:
    request = read("ahmed", "nadia", purpose="emergency", justification="unconscious at the ER")
    await world.gate.authorize(request)
    calls = world.consent.calls
    await world.gate.authorize(request)
    assert world.consent.calls == calls + 1


async def test_permit_audit_rolls_back_with_the_business_transaction(world: World) -> None:
    await record_consent(world)

    class Boom(Exception):
        pass

    async def read_then_fail() -> None:
        async with world.engine.begin() as conn:
            await world.gate.authorize(read(), conn)
            raise Boom

    with pytest.raises(Boom):
        await read_then_fail()
    assert await audit_rows(world) == []


async def test_explain_gives_the_decision_with_reasons_without_a_permit(world: World) -> None:
    decision_id, decision = await world.gate.explain(read(whom="nadia"))
    assert decision.effect == "deny"
    assert "no-active-link" in decision.codes
    assert (await audit_rows(world))[0]["action"] == "explain"
    assert decision_id


class BrokenStore(ConsentStore):
    """The hub's own consent store failing (database down)."""

    async def consultation_consents(
        self, conn: AsyncConnection, patient_ssin: str, actor_nihii: str
    ) -> tuple[ConsultationConsent, ...]:
        raise StorageError("database unreachable", system="database")


async def test_a_failing_consent_store_leads_to_a_denial(world: World) -> None:
    gate = ConsentGate(
        consent=world.consent,
        links=world.links,
        exclusions=world.exclusions,
        engine=world.engine,
        config=ConsentSettings(),
        store=BrokenStore(),
        clock=world.clock,
    )
    with pytest.raises(ConsentDenied) as denied:
        await gate.authorize(read())
    assert any(
        r.startswith("consultation-consent: source unavailable") for r in denied.value.reasons
    )
