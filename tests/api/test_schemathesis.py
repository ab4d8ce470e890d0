"""Property-based tests of the whole API from its OpenAPI document (schemathesis).

Stateless: every operation of ``/openapi.json`` is called with positive and negative inputs
schemathesis generates from the document (its sandbox examples mixed in), with the token of a
sandbox client that the document's own scopes say may call it; every answer must pass
schemathesis' checks: no 5xx, a documented status, a documented content type, a body that
validates against the documented schema (every error an OperationOutcome, the token endpoint's
RFC 6749 errors), the documented headers. A 403 for a missing scope means the document named
the wrong scope.

Stateful: schemathesis' state machine follows the document's links (Consent create -> read /
revoke / delete, note and claim 202 -> Task read) with the same checks. Each scenario starts
with the document's own sandbox examples of a consent and a note, so that the links have
something to follow: the run must have followed each of their links to a 2xx answer.

The app is the sandbox hub (SQLite, in-process simulators), served by its own event loop in a
thread (the app's lifespan and every request run on that one loop; hypothesis drives it
synchronously). Bounded by example counts: the file runs in well under two minutes.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast
from urllib.parse import urlencode

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.stateful import Bundle, MultipleResults, initialize, multiple
from schemathesis.checks import not_a_server_error
from schemathesis.generation.case import Case as GenericCase
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ehealth_hub.api import create_app
from ehealth_hub.auth.scopes import satisfied
from ehealth_hub.auth.urls import token_endpoint
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.auth_clients import SANDBOX_CLIENTS
from ehealth_hub.fixtures.consult_app import SandboxApp
from ehealth_hub.settings import load_settings

HUB_URL = "http://127.0.0.1:8000"
"""Where the in-process clients reach the hub: the address `serve` binds by default."""

T = TypeVar("T")
Case = GenericCase[Any]
DOCUMENT = create_app(load_settings()).openapi()
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = sorted(
    (method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
RUNS = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
    for method, path in OPERATIONS
    for mode in (POSITIVE, NEGATIVE)
    # negative data needs something to break: a parameter or a body
    if mode is POSITIVE
    or {"parameters", "requestBody"} & set(DOCUMENT["paths"][path][method.lower()])
]


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


@dataclass
class Hub:
    """The running sandbox hub and a bearer token per sandbox client."""

    runner: LoopThread
    client: httpx.AsyncClient
    bearers: dict[str, str] = field(default_factory=dict)

    def bearer_for(self, method: str, path: str) -> str:
        """The token of the first client (consult-app first) the document says may call it."""
        needed = [
            scope
            for requirement in DOCUMENT["paths"][path][method.lower()].get("security", [])
            for scope in requirement.get("smart-backend-services", [])
        ]
        for registered in SANDBOX_CLIENTS:
            if not needed or any(satisfied(frozenset(registered.scopes), s) for s in needed):
                return self.bearers[registered.client_id]
        raise AssertionError(f"no sandbox client may call {method} {path}: {needed}")

    def send(self, case: Case) -> httpx.Response:
        return self.runner.run(self.client.request(**_request(case, self)))


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, pki_dir: Path) -> Iterator[Hub]:
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
    running = Hub(runner, client)
    sarah = sandbox.practitioner("sarah").nihii
    for registered in SANDBOX_CLIENTS:
        acting = sarah if registered.may_act_for_practitioners else None
        app_client = SandboxApp(client, registered.client_id, token_endpoint(hub_settings), acting)
        running.bearers[registered.client_id] = f"Bearer {runner.run(app_client.token())}"
    try:
        yield running
    finally:
        runner.run(client.aclose())
        runner.run(lifespan.__aexit__(None, None, None))
        runner.close()


def _request(case: Case, hub: Hub) -> dict[str, Any]:
    kwargs = case.as_transport_kwargs(base_url=HUB_URL)
    headers = {k: str(v) for k, v in (kwargs.get("headers") or {}).items()}
    headers["Authorization"] = hub.bearer_for(case.operation.method, case.operation.path)
    request: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": headers,
        "params": kwargs.get("params") or {},
    }
    if "json" in kwargs:
        request["content"] = json.dumps(kwargs["json"]).encode()  # big ints: no orjson
        headers.setdefault("Content-Type", "application/fhir+json")  # else 415 before the route
    elif isinstance(kwargs.get("data"), dict):
        request["content"] = urlencode({k: str(v) for k, v in kwargs["data"].items()}).encode()
    elif kwargs.get("data") is not None:
        request["content"] = kwargs["data"]
    return request


def _checked(case: Case, response: httpx.Response) -> None:
    """schemathesis' checks, and no 403 for a scope the document says the token has."""
    case.validate_response(response, checks=CHECKS)
    assert not (response.status_code == 403 and "needs the scope" in response.text), (
        case.operation.label,
        response.text[:300],
    )


@pytest.mark.parametrize(("method", "path", "mode"), RUNS)
def test_every_answer_conforms_to_the_document(
    hub: Hub, method: str, path: str, mode: schemathesis.GenerationMode
) -> None:
    operation = SCHEMA[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def check(case: Case) -> None:
        _checked(case, hub.send(case))

    check()


_Machine = SCHEMA.as_state_machine()
_SEEDS = ("/fhir/Consent", "/fhir/DocumentReference")
# schemathesis types its Bundle objects as dicts
_FIRST_BUNDLE = cast("Bundle[StepOutput]", next(iter(_Machine.bundles.values())))


def _documented_example(path: str) -> Case:
    """The first request example the document gives for ``POST path`` (sandbox data)."""
    media = DOCUMENT["paths"][path]["post"]["requestBody"]["content"]["application/fhir+json"]
    example = next(iter(media["examples"].values()))["value"]
    return SCHEMA[path]["POST"].Case(body=example, media_type="application/fhir+json")


class _Workflow(_Machine):  # type: ignore[misc, valid-type]  # a class built at run time
    """The document's state machine, calling the in-process hub and counting followed links.

    Each scenario starts with the document's own examples of the operations that create
    something (a consent, a note): generated FHIR bodies are almost never valid, so without
    them the links would rarely have anything to follow."""

    hub: ClassVar[Hub]
    followed: ClassVar[list[tuple[str, int]]] = []

    @initialize(target=_FIRST_BUNDLE)  # the machine routes results by status, not by target
    def create_from_the_examples(self) -> MultipleResults[StepOutput]:
        outputs = []
        for path in _SEEDS:
            case = _documented_example(path)
            self.recorder.record_case(case=case)  # links name their source case by its id
            outputs.append(self.step(StepInput.initial(case)))
        return multiple(*outputs)

    def step(self, input: StepInput) -> StepOutput:
        output: StepOutput = super().step(input)
        if input.transition is not None and input.is_applied and not input.transition.is_inferred:
            type(self).followed.append((input.transition.id, output.response.status_code))
        return output

    def call(self, case: Case, **kwargs: Any) -> schemathesis.Response:
        return schemathesis.Response.from_httpx(self.hub.send(case), verify=False)

    def validate_response(
        self, response: schemathesis.Response, case: Case, *args: Any, **kwargs: Any
    ) -> None:
        case.validate_response(response, checks=CHECKS)


def test_the_stateful_phase_follows_the_links_and_every_answer_conforms(hub: Hub) -> None:
    _Workflow.hub = hub
    _Workflow.followed = []
    _Workflow.run(
        settings=hypothesis.settings(
            max_examples=30,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[hypothesis.Phase.generate],
        )
    )
    reached = {
        link.split("] ")[1].split(" ->")[0] for link, status in _Workflow.followed if status < 300
    }
    assert {"Read", "Revoke", "Delete", "ReadTask"} <= reached, sorted(set(_Workflow.followed))
