"""``/openapi.json`` states what the server does: FHIR bodies, OperationOutcome errors, the OAuth2
client-credentials flow with each route's scopes, public routes public, links between operations,
and request examples from the sandbox that the hub accepts as they stand.

schemathesis (test_schemathesis.py) checks the answers against the document; these tests check
the document against the routes and the sandbox directly.
"""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema_rs
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from ehealth_hub.api import create_app
from ehealth_hub.api.auth import PUBLIC_PATHS, ScopeRequirement
from ehealth_hub.auth.scopes import KNOWN_SCOPES
from ehealth_hub.fixtures import sandbox
from ehealth_hub.settings import load_settings
from tests.api.conftest import TokenFactory

DOCUMENT: dict[str, Any] = create_app(load_settings()).openapi()
OPERATIONS = [
    (method, path, operation)
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
]
FHIR_JSON = "application/fhir+json"


def _valid(value: Any, schema: dict[str, Any]) -> list[str]:
    """The errors of ``value`` against ``schema`` (its references resolved in the document)."""
    validator = jsonschema_rs.Draft202012Validator({**schema, "components": DOCUMENT["components"]})
    return [error.message for error in validator.iter_errors(value)]


def _route_scopes() -> dict[tuple[str, str], set[str]]:
    """(method, path) -> the scopes its require_scope dependency accepts, read from the app."""
    app = create_app(load_settings())
    found: dict[tuple[str, str], set[str]] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            needs = {
                scope
                for dependency in route.dependant.dependencies
                if isinstance(dependency.call, ScopeRequirement)
                for scope in dependency.call.scopes
            }
            for method in route.methods or ():
                found[(method.lower(), route.path_format)] = needs
    return found


def test_public_routes_need_no_token_and_every_other_states_its_scopes() -> None:
    scopes = _route_scopes()
    assert DOCUMENT["paths"]["/health/live"]["get"]["security"] == []
    for method, path, operation in OPERATIONS:
        if path in PUBLIC_PATHS:
            assert operation["security"] == [], (method, path)
            continue
        stated = {s for r in operation["security"] for need in r.values() for s in need}
        assert stated == scopes[(method, path)], (method, path)
        assert stated, (method, path)


def test_the_security_scheme_is_the_hubs_token_endpoint() -> None:
    schemes = DOCUMENT["components"]["securitySchemes"]
    flow = schemes["smart-backend-services"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/auth/token"
    assert set(KNOWN_SCOPES) <= set(flow["scopes"])
    assert "private_key_jwt" in schemes["smart-backend-services"]["description"]
    assert schemes["access-token"]["scheme"] == "bearer"


def test_every_fhir_error_is_an_operation_outcome_and_fastapis_422_is_gone() -> None:
    assert "HTTPValidationError" not in str(DOCUMENT)
    for method, path, operation in OPERATIONS:
        for status, answer in operation["responses"].items():
            if int(status) < 400 or not path.startswith("/fhir"):
                continue
            schema = answer["content"][FHIR_JSON]["schema"]
            assert schema == {"$ref": "#/components/schemas/OperationOutcome"}, (path, status)
            assert not _valid(answer["content"][FHIR_JSON]["example"], schema)
            if status == "503":
                assert answer["headers"]["Retry-After"]["required"], (method, path)
            if status == "401":
                assert answer["headers"]["WWW-Authenticate"]["required"], (method, path)


def test_bodies_are_fhir_json_with_resource_schemas() -> None:
    create = DOCUMENT["paths"]["/fhir/Consent"]["post"]
    answer = create["responses"]["201"]
    assert answer["content"][FHIR_JSON]["schema"] == {"$ref": "#/components/schemas/Consent"}
    assert set(answer["headers"]) == {"ETag", "Location", "Last-Modified"}
    consent = DOCUMENT["components"]["schemas"]["Consent"]
    assert consent["properties"]["resourceType"]["const"] == "Consent"
    assert {"resourceType", "status", "scope", "category", "id"} <= set(consent["required"])
    searches = [
        op for m, p, op in OPERATIONS if m == "get" and p in ("/fhir/Consent", "/fhir/Task")
    ]
    for search in searches:
        schema = search["responses"]["200"]["content"][FHIR_JSON]["schema"]
        assert schema == {"$ref": "#/components/schemas/Bundle"}


@pytest.mark.parametrize(
    ("method", "path"),
    [(m, p) for m, p, op in OPERATIONS if "requestBody" in op and p.startswith("/fhir")],
)
def test_every_request_example_fits_its_schema(method: str, path: str) -> None:
    media = DOCUMENT["paths"][path][method]["requestBody"]["content"][FHIR_JSON]
    for name, example in media.get("examples", {}).items():
        assert not _valid(example["value"], media["schema"]), (path, name)


def test_links_lead_from_what_was_created_to_reading_it() -> None:
    def links(path: str, method: str, status: str) -> dict[str, Any]:
        found: dict[str, Any] = DOCUMENT["paths"][path][method]["responses"][status]["links"]
        return found

    ids = {op["operationId"]: (m, p) for m, p, op in OPERATIONS}
    consent = links("/fhir/Consent", "post", "201")
    assert {ids[link["operationId"]] for link in consent.values()} == {
        (m, "/fhir/Consent/{consent_id}") for m in ("get", "put", "delete")
    }
    for path in ("/fhir/DocumentReference", "/fhir/Claim/$submit"):
        (task,) = links(path, "post", "202").values()
        assert ids[task["operationId"]] == ("get", "/fhir/Task/{task_id}")
        assert task["parameters"] == {"task_id": "$response.body#/id"}


async def test_the_consent_example_is_accepted_as_documented(
    app: FastAPI, client: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    operation = app.openapi()["paths"]["/fhir/Consent"]["post"]
    example = operation["requestBody"]["content"][FHIR_JSON]["examples"]["sandbox"]["value"]
    nihii = sandbox.practitioner("sarah").nihii
    token = await token_for("consult-app", "user/Consent.cruds", practitioner=nihii)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": FHIR_JSON}
    response = await client.post("/fhir/Consent", json=example, headers=headers)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    assert not _valid(
        response.json(), operation["responses"]["201"]["content"][FHIR_JSON]["schema"]
    )
