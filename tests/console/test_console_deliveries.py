"""The console's deliveries over HTTP (in-process): sign-in, search by patient, replay, bodies,
CSRF, roles, headers. The hub is the real sandbox app; only the ``lab`` destination is a fake."""

from __future__ import annotations

import httpx

from ehealth_hub.audit.search import AuditQuery, find
from ehealth_hub.bootstrap import Container
from ehealth_hub.core.identifiers import mask_ssin
from ehealth_hub.delivery import store
from ehealth_hub.delivery.outbox import Status
from ehealth_hub.delivery.worker import Worker
from tests.console._support import PATIENT, Lab, csrf_in, lab_delivery, sign_in

Hub = tuple[httpx.AsyncClient, Container]


async def _dead(container: Container, note: str = "1") -> str:
    """A lab delivery the worker tried once and gave up on (the lab system is down)."""
    item = await lab_delivery(container, note)
    assert container.delivery is not None
    await Worker(container.delivery).run_once()
    async with container.engine.connect() as conn:
        stored = await store.get(conn, item.id)
    assert stored is not None
    assert stored.status is Status.DEAD
    return item.id


async def _status(container: Container, item_id: str) -> Status:
    async with container.engine.connect() as conn:
        stored = await store.get(conn, item_id)
    assert stored is not None
    return stored.status


async def test_an_anonymous_visitor_is_sent_to_the_sign_in_page(hub: Hub) -> None:
    client, _ = hub
    answer = await client.get("/console/deliveries")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login"


async def test_a_wrong_password_is_refused(hub: Hub) -> None:
    client, _ = hub
    token = csrf_in((await client.get("/console/login")).text)
    answer = await client.post(
        "/console/login",
        data={"username": "operator", "password": "not-it", "csrf_token": token},
    )
    assert answer.status_code == 401
    assert (await client.get("/console/deliveries")).status_code == 303


async def test_an_operator_finds_a_dead_delivery_by_patient_replays_it_and_it_is_delivered(
    hub: Hub, lab: Lab
) -> None:
    client, container = hub
    item_id = await _dead(container)
    token = await sign_in(client, "operator")
    found = await client.post(
        "/console/deliveries",
        data={"csrf_token": token, "patient": PATIENT.ssin, "status": "dead"},
    )
    assert found.status_code == 200
    assert item_id[:12] in found.text
    assert mask_ssin(PATIENT.ssin) in found.text
    assert PATIENT.ssin not in found.text.replace(f'value="{PATIENT.ssin}"', "")
    dry = await client.post(
        "/console/deliveries/replay",
        data={"csrf_token": token, "patient": PATIENT.ssin, "mode": "dry-run"},
    )
    assert "1 failed or dead deliveries would be replayed" in dry.text
    assert await _status(container, item_id) is Status.DEAD
    lab.fixed = True
    replayed = await client.post(
        "/console/deliveries/replay", data={"csrf_token": token, "id": item_id, "mode": "replay"}
    )
    assert "1 deliveries queued again" in replayed.text
    assert container.delivery is not None
    await Worker(container.delivery).run_once()
    page = await client.get(f"/console/deliveries/{item_id}")
    assert 'id="delivery-status">completed<' in page.text
    assert "replayed" in page.text
    assert "by operator" in page.text
    assert len(lab.received) == 1


async def test_a_replay_is_tracked_as_its_own_audited_entry(hub: Hub) -> None:
    client, container = hub
    first, second = await _dead(container, "1"), await _dead(container, "2")
    token = await sign_in(client, "operator")
    await client.post(
        "/console/deliveries/replay",
        data={"csrf_token": token, "destination": "lab", "mode": "replay"},
    )
    async with container.engine.connect() as conn:
        [entry] = await find(conn, AuditQuery(action="console-replay"))
    details = entry.details()
    assert entry.client_id == "console:operator"
    assert set(details["deliveries"].split()) == {first, second}
    assert details["count"] == "2"
    assert details["filter"] == "destination=lab"
    replays = await client.get("/console/replays")
    assert details["replay"] in replays.text


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(hub: Hub) -> None:
    client, container = hub
    item_id = await _dead(container)
    await sign_in(client, "operator")
    refused = await client.post(
        "/console/deliveries/replay", data={"id": item_id, "mode": "replay"}
    )
    assert refused.status_code == 403
    assert "CSRF" in refused.text
    forged = await client.post(
        "/console/deliveries/replay", data={"id": item_id, "mode": "replay", "csrf_token": "x"}
    )
    assert forged.status_code == 403
    assert await _status(container, item_id) is Status.DEAD


async def test_an_operator_is_refused_the_auditor_pages_and_message_bodies(hub: Hub) -> None:
    client, container = hub
    item_id = await _dead(container)
    token = await sign_in(client, "operator")
    assert (await client.get("/console/audit")).status_code == 403
    bodies = await client.post(
        f"/console/deliveries/{item_id}/bodies",
        data={"csrf_token": token, "reason": "checking the lab result for a complaint"},
    )
    assert bodies.status_code == 403
    assert "glucose" not in bodies.text


async def test_an_auditor_reads_a_body_only_with_a_reason_and_the_reading_is_audited(
    hub: Hub,
) -> None:
    client, container = hub
    item_id = await _dead(container)
    token = await sign_in(client, "auditor")
    short = await client.post(
        f"/console/deliveries/{item_id}/bodies", data={"csrf_token": token, "reason": "why"}
    )
    assert short.status_code == 400
    assert "glucose" not in short.text
    shown = await client.post(
        f"/console/deliveries/{item_id}/bodies",
        data={"csrf_token": token, "reason": "data-protection request 2026-114"},
    )
    assert shown.status_code == 200
    assert "glucose 1" in shown.text
    async with container.engine.connect() as conn:
        [entry] = await find(conn, AuditQuery(action="console-body-view"))
    assert entry.details()["reason"] == "data-protection request 2026-114"
    assert entry.details()["delivery"] == item_id
    assert entry.patient_ssin == PATIENT.ssin
    refused = await client.post(
        "/console/deliveries/replay", data={"csrf_token": token, "id": item_id, "mode": "replay"}
    )
    assert refused.status_code == 403


async def test_an_export_is_masked_and_audited(hub: Hub) -> None:
    client, container = hub
    await _dead(container)
    token = await sign_in(client, "operator")
    answer = await client.post(
        "/console/deliveries/export", data={"csrf_token": token, "destination": "lab"}
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert mask_ssin(PATIENT.ssin) in answer.text
    assert PATIENT.ssin not in answer.text
    async with container.engine.connect() as conn:
        [entry] = await find(conn, AuditQuery(action="console-export"))
    assert entry.details()["count"] == "1"


async def test_pages_carry_a_strict_csp_and_the_session_cookie_is_locked_down(hub: Hub) -> None:
    client, _ = hub
    login = await client.get("/console/login")
    csp = login.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/console" in cookie
    script = await client.get("/console/static/htmx.min.js")
    assert script.status_code == 200
    assert script.text.startswith("/*! htmx 2.")


async def test_a_bad_ssin_in_the_search_names_the_field(hub: Hub) -> None:
    client, _ = hub
    token = await sign_in(client, "operator")
    answer = await client.post(
        "/console/deliveries", data={"csrf_token": token, "patient": "12345678901"}
    )
    assert answer.status_code == 422  # well-formed (11 ASCII digits), wrong check digits
    assert "SSIN" in answer.text
