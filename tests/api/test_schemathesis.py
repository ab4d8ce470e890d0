"""Property-based tests of the whole API from its OpenAPI document (schemathesis).

Every operation of ``/openapi.json`` is called with inputs schemathesis generates from it, with the
consultation app's token: the hub never answers 5xx, and every error of a FHIR route is an
OperationOutcome (the token endpoint answers RFC 6749 errors instead). The app is the sandbox hub
(SQLite, in-process simulators), served by its own event loop in a thread (the app's lifespan and
every request run on that one loop; hypothesis drives it synchronously).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
import pytest
import schemathesis
from fhir.resources.R4B.operationoutcome import OperationOutcome
from hypothesis import HealthCheck, given, settings

from ehealth_hub.api import create_app
from ehealth_hub.auth.urls import token_endpoint
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consult_app import SandboxApp
from ehealth_hub.settings import load_settings

HUB_URL = "http://127.0.0.1:8000"
"""Where the in-process clients reach the hub: the address `serve` binds by default."""

T = TypeVar("T")
SCHEMA = schemathesis.openapi.from_dict(create_app(load_settings()).openapi())
OPERATIONS = sorted((op.ok().method.upper(), op.ok().path) for op in SCHEMA.get_all_operations())


class LoopThread:
    """An event loop in a thread; ``run`` executes a coroutine on it and waits for the result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


@pytest.fixture(scope="module")
def hub(
    tmp_path_factory: pytest.TempPathFactory, pki_dir: Path
) -> Iterator[tuple[LoopThread, httpx.AsyncClient, str]]:
    folder: Path = tmp_path_factory.mktemp("schemathesis")
    hub_settings = load_settings(
        database_url=f"sqlite:///{folder / 'hub.db'}",
        data_dir=folder / "var",
        trust={"pki_dir": pki_dir},
        log={"level": "error", "json_output": True},
    )
    app = create_app(hub_settings)
    runner = LoopThread()
    lifespan = app.router.lifespan_context(app)
    runner.run(lifespan.__aenter__())
    runner.run(app.state.container.connectors.get())  # sandbox PKI and simulators
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=HUB_URL)
    consult = SandboxApp(
        client, "consult-app", token_endpoint(hub_settings), sandbox.practitioner("sarah").nihii
    )
    try:
        yield runner, client, f"Bearer {runner.run(consult.token())}"
    finally:
        runner.run(client.aclose())
        runner.run(lifespan.__aexit__(None, None, None))
        runner.close()


def _request(case: schemathesis.Case, bearer: str) -> dict[str, Any]:
    kwargs = case.as_transport_kwargs(base_url=HUB_URL)
    headers = {k: str(v) for k, v in (kwargs.get("headers") or {}).items()}
    headers["Authorization"] = bearer
    request: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": headers,
        "params": kwargs.get("params") or {},
    }
    if "json" in kwargs:
        request["content"] = json.dumps(kwargs["json"]).encode()  # big ints: no orjson
    elif isinstance(kwargs.get("data"), dict):
        request["content"] = urlencode({k: str(v) for k, v in kwargs["data"].items()}).encode()
    elif kwargs.get("data") is not None:
        request["content"] = kwargs["data"]
    return request


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_5xx_and_every_fhir_error_is_an_operation_outcome(
    hub: tuple[LoopThread, httpx.AsyncClient, str], method: str, path: str
) -> None:
    runner, client, bearer = hub
    operation = SCHEMA[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def check(case: schemathesis.Case) -> None:
        response = runner.run(client.request(**_request(case, bearer)))
        assert response.status_code < 500, (method, case.formatted_path, response.text[:300])
        if response.status_code >= 400 and path.startswith("/fhir"):
            OperationOutcome.model_validate(response.json())
        if response.status_code >= 400 and path == "/auth/token":
            assert "error" in response.json()

    check()
