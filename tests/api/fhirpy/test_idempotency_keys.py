"""``Idempotency-Key`` on every POST under ``/fhir`` (draft-ietf-httpapi-idempotency-key-header),
against the sandbox hub on a loopback port: a FHIR client (fhirpy) that retries with the same key
gets the first answer back and the work done once; another body under the same key is 422; keys
are scoped per client. Raw HTTP (httpx) where the replay header must be seen."""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome

from ehealth_hub.api import create_app
from ehealth_hub.api import routes as api_routes
from ehealth_hub.api.idempotency import IdempotentRoute
from ehealth_hub.fhir.profiles import SSIN_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import (
    consultation_consent,
    consultation_note,
    teleconsultation_claim,
)
from ehealth_hub.settings import load_settings
from tests.journeys import conftest as journeys

hub = journeys.hub
fhir_for = journeys.fhir_for
Hub = journeys.Hub
FhirFactory = journeys.FhirFactory

SARAH = sandbox.practitioner("sarah")
AN = sandbox.patient("an")
Body = Callable[[str], dict[str, Any]]


def _consent(tag: str) -> dict[str, Any]:
    body = consultation_consent(AN, SARAH, start=datetime.now(UTC))
    body["identifier"] = [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{tag}"}]
    return body


def _note(tag: str) -> dict[str, Any]:
    return consultation_note(AN, SARAH, f"Follow-up {tag}.", now=datetime.now(UTC))


def _claim(tag: str) -> dict[str, Any]:
    return teleconsultation_claim(
        tag[:30], AN, SARAH, serviced=datetime.now(UTC).date().isoformat()
    )


def _eligibility(tag: str) -> dict[str, Any]:
    return {
        "resourceType": "CoverageEligibilityRequest",
        "id": tag,
        "status": "active",
        "purpose": ["validation"],
        "patient": {"identifier": {"system": SSIN_SYSTEM, "value": AN.ssin}},
        "servicedDate": datetime.now(UTC).date().isoformat(),
    }


POSTS: list[tuple[str, Body]] = [
    ("Consent", _consent),
    ("DocumentReference", _note),
    ("Claim/$submit", _claim),
    ("CoverageEligibilityRequest/$submit", _eligibility),
]
IDS = [path for path, _ in POSTS]


async def _app(fhir_for: FhirFactory, key: str) -> AsyncFHIRClient:
    """Sarah's app, with a consultation consent, sending ``Idempotency-Key: key``."""
    app = await fhir_for("consult-app", SARAH.nihii)
    await app.resource("Consent", **consultation_consent(AN, SARAH, start=datetime.now(UTC))).save()
    app.extra_headers = {**(app.extra_headers or {}), "Idempotency-Key": key}
    return app


async def _post(hub: Hub, path: str, body: dict[str, Any], key: str) -> Any:
    token = await hub.app("consult-app", SARAH.nihii).token()
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    return await hub.http.post(f"/fhir/{path}", json=body, headers=headers)


@pytest.mark.parametrize(("path", "body"), POSTS, ids=IDS)
async def test_the_same_key_and_body_replay_the_first_answer(
    fhir_for: FhirFactory, hub: Hub, path: str, body: Body
) -> None:
    key, tag = str(uuid.uuid4()), uuid.uuid4().hex[:12]
    app = await _app(fhir_for, key)
    data = body(tag)
    first = await app.execute(path, method="post", data=data)
    replayed = await _post(hub, path, data, key)
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == first, "the stored answer, not a second run"
    assert replayed.status_code in (200, 201, 202)


async def test_a_consent_posted_twice_with_one_key_is_recorded_once(
    fhir_for: FhirFactory,
) -> None:
    key = str(uuid.uuid4())
    app = await _app(fhir_for, key)
    body = consultation_consent(AN, SARAH, start=datetime.now(UTC))
    first = await app.execute("Consent", method="post", data=body)
    second = await app.execute("Consent", method="post", data=body)
    assert second["id"] == first["id"]
    bundle = await app.execute("Consent", method="get", params={"patient": AN.ssin})
    ids = {entry["resource"]["id"] for entry in bundle["entry"]}
    assert len(ids) == 2, "the app's consultation consent and this one, not a third"


@pytest.mark.parametrize(("path", "body"), POSTS, ids=IDS)
async def test_the_same_key_with_another_body_is_422_unprocessable(
    fhir_for: FhirFactory, path: str, body: Body
) -> None:
    app = await _app(fhir_for, str(uuid.uuid4()))
    await app.execute(path, method="post", data=body(uuid.uuid4().hex[:12]))
    with pytest.raises(OperationOutcome) as refused:
        await app.execute(path, method="post", data=body(uuid.uuid4().hex[:12]))
    issue = refused.value.resource["issue"][0]
    assert issue["details"]["text"] == "idempotency-key-reused"
    assert issue["expression"] == ["Idempotency-Key"]


async def test_the_reused_key_answer_is_422_per_the_draft(hub: Hub) -> None:
    key = str(uuid.uuid4())
    assert (await _post(hub, "Consent", _consent("one"), key)).status_code == 201
    reused = await _post(hub, "Consent", _consent("two"), key)
    assert reused.status_code == 422
    assert reused.headers["content-type"] == "application/fhir+json; charset=utf-8"


async def test_another_clients_same_key_never_replays_this_clients_answer(hub: Hub) -> None:
    key = str(uuid.uuid4())
    ours = await _post(hub, "Consent", _consent(key), key)
    token = await hub.app("gp-software").token()
    theirs = await hub.http.post(
        "/fhir/Consent",
        json=_consent(key),
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
    )
    assert ours.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.status_code == 403, "gp-software may not record consents: its own answer"


def test_every_post_under_fhir_honours_idempotency_key(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}", data_dir=tmp_path)
    paths = create_app(settings).openapi()["paths"]
    posts = {path for path, ops in paths.items() if "post" in ops and path.startswith("/fhir")}
    routers = [
        importlib.import_module(f"{api_routes.__name__}.{module.name}").router
        for module in pkgutil.iter_modules(api_routes.__path__)
    ]
    idempotent = {
        route.path
        for router in routers
        for route in router.routes
        if isinstance(route, IdempotentRoute) and "POST" in (route.methods or set())
    }
    assert len(posts) >= 5
    assert posts - idempotent == set()
