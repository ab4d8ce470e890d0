"""The console's consent, audit and downstream pages over HTTP, and the figures behind them."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import yaml
from sqlalchemy import delete

from ehealth_hub.audit.search import AuditQuery, find
from ehealth_hub.bootstrap import Container
from ehealth_hub.delivery.worker import Worker
from ehealth_hub.fixtures import sandbox
from ehealth_hub.store.tables import audit_events
from tests.console._support import lab_delivery, sign_in

Hub = tuple[httpx.AsyncClient, Container]
RULES = Path(__file__).resolve().parents[2] / "docs" / "alerts" / "ehealth-hub.rules.yml"


async def test_a_consent_explanation_shows_the_refusal_and_its_reasons(hub: Hub) -> None:
    client, container = hub
    token = await sign_in(client, "operator")
    sofie, sarah = sandbox.patient("sofie"), sandbox.practitioner("sarah")
    answer = await client.post(
        "/console/consent",
        data={
            "csrf_token": token,
            "patient": sofie.ssin,
            "practitioner": sarah.nihii,
            "quality": "doctor",
            "action": "read-dossier",
        },
    )
    assert answer.status_code == 200, answer.text
    assert 'id="decision">deny<' in answer.text
    reasons = re.search(r'<ul id="reasons">(.*?)</ul>', answer.text, re.S)
    assert reasons
    assert "<li>" in reasons.group(1)
    assert sofie.ssin not in answer.text.replace(f'value="{sofie.ssin}"', "")
    async with container.engine.connect() as conn:
        explained = await find(conn, AuditQuery(client_id="console:operator"))
    assert {"explain", "consent-read"} <= {e.action for e in explained}


async def test_audit_verify_in_the_console_reports_a_deleted_record_and_sets_the_gauge(
    hub: Hub,
) -> None:
    client, container = hub
    token = await sign_in(client, "auditor")
    await lab_delivery(container)
    await client.post("/console/audit", data={"csrf_token": token, "action": "audit-read"})
    intact = await client.post("/console/audit/verify", data={"csrf_token": token})
    assert intact.status_code == 200
    assert "<strong>intact</strong>" in intact.text
    assert "ehealth_hub_audit_verify_ok 1.0" in (await client.get("/metrics")).text
    async with container.engine.begin() as conn:
        await conn.execute(delete(audit_events).where(audit_events.c.seq == 1))
    tampered = await client.post("/console/audit/verify", data={"csrf_token": token})
    assert "<strong>TAMPERED</strong>" in tampered.text
    assert "deleted" in tampered.text or "edited" in tampered.text
    assert "ehealth_hub_audit_verify_ok 0.0" in (await client.get("/metrics")).text


async def test_an_auditor_searches_the_trail_and_sees_console_actions(hub: Hub) -> None:
    client, _ = hub
    token = await sign_in(client, "auditor")
    await client.post("/console/audit/verify", data={"csrf_token": token})
    found = await client.post("/console/audit", data={"csrf_token": token, "client": "console:"})
    assert found.status_code == 200
    assert "console-audit-verify" in found.text


async def test_downstreams_show_each_system_and_destination_and_feed_prometheus(
    hub: Hub,
) -> None:
    client, container = hub
    await sign_in(client, "operator")
    await lab_delivery(container)
    assert container.delivery is not None
    assert container.operations is not None
    history = container.operations.history
    assert history is not None
    await history.sample()
    await Worker(container.delivery).run_once()  # the lab is down: one failed attempt, dead
    await history.sample()
    page = await client.get("/console/downstreams")
    assert page.status_code == 200
    assert "downstream.ehbox" in page.text
    assert "database" in page.text
    row = re.search(r'<th scope="row">lab</th>(.*?)</tr>', page.text, re.S)
    assert row, page.text
    assert "100 %" in row.group(1)  # every attempt of the last hour failed
    assert "dead 1" in row.group(1)
    metrics = (await client.get("/metrics")).text
    assert 'ehealth_hub_downstream_up{downstream="database"} 1.0' in metrics


def test_the_shipped_alert_rules_watch_metrics_the_hub_exports() -> None:
    rules = yaml.safe_load(RULES.read_text())
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"]}
    assert {"DeliveryQueueTooOld", "DeliveryDeadLetters", "DeliveryCircuitOpen"} <= set(alerts)
    assert {"AuditVerifyFailing", "AuditVerifyNotRun", "DownstreamDown"} <= set(alerts)
    exported = {
        "ehealth_hub_delivery_oldest_age_seconds",
        "ehealth_hub_delivery_queue_depth",
        "ehealth_hub_delivery_circuit_open",
        "ehealth_hub_audit_verify_ok",
        "ehealth_hub_audit_verify_timestamp_seconds",
        "ehealth_hub_downstream_up",
        "ehealth_hub_downstream_failing_since_seconds",
    }
    for name, rule in alerts.items():
        used = set(re.findall(r"ehealth_hub_[a-z_]+", rule["expr"]))
        assert used, name
        assert used <= exported, (name, used - exported)
        assert rule["annotations"]["summary"]
