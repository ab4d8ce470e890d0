"""Every scope a sandbox client holds opens an endpoint that exists, and every endpoint's scope is
held by some sandbox client (issue 20: two clients held scopes for endpoints that did not exist).

The routes are walked on the app itself (each route's ``require_scope`` dependency says what it
needs), not listed by hand, so a route added without a client able to call it, or a scope granted
for nothing, fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from ehealth_hub.api import create_app
from ehealth_hub.auth.scopes import KNOWN_SCOPES, Scope
from ehealth_hub.fixtures.auth_clients import SANDBOX_CLIENTS
from ehealth_hub.settings import load_settings


def _required(dependant: Dependant) -> Iterator[tuple[str, ...]]:
    for sub in dependant.dependencies:
        scopes = getattr(sub.call, "scopes", None)
        if scopes is not None:
            yield tuple(scopes)
        yield from _required(sub)


def _endpoints(tmp_path: Path) -> dict[str, tuple[str, ...]]:
    """``"METHOD path"`` -> the scopes of which it needs one (routes needing a scope only)."""
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}", data_dir=tmp_path / "var"
    )
    app = create_app(settings)
    found: dict[str, tuple[str, ...]] = {}
    for context in iter_route_contexts(app.routes):  # FastAPI includes routers lazily
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        for required in _required(route.dependant):
            for method in sorted(route.methods or ()):
                found[f"{method} {context.path}"] = required
    return found


def _satisfies(granted: str, required: str) -> bool:
    return Scope.parse(granted).satisfies(Scope.parse(required))


def test_every_sandbox_scope_opens_an_endpoint(tmp_path: Path) -> None:
    endpoints = _endpoints(tmp_path)
    unused = {
        (client.client_id, granted)
        for client in SANDBOX_CLIENTS
        for granted in client.scopes
        if not any(_satisfies(granted, r) for needs in endpoints.values() for r in needs)
    }
    assert unused == set()


def test_every_endpoint_scope_is_held_by_a_sandbox_client(tmp_path: Path) -> None:
    endpoints = _endpoints(tmp_path)
    held = {granted for client in SANDBOX_CLIENTS for granted in client.scopes}
    unreachable = {
        endpoint
        for endpoint, needs in endpoints.items()
        if not any(_satisfies(g, r) for g in held for r in needs)
    }
    assert unreachable == set()


def test_the_walk_sees_the_reads_of_issue_20(tmp_path: Path) -> None:
    """The walk is not vacuous: it finds the endpoints the two clients' scopes were granted for."""
    endpoints = _endpoints(tmp_path)
    assert "system/Claim.r" in endpoints["GET /fhir/Claim/{claim_id}"]
    assert "system/DocumentReference.r" in endpoints["GET /fhir/DocumentReference/{note_id}"]
    assert endpoints["GET /fhir/Binary/{binary_id}"] == ("user/Binary.r",)
    assert all(s in KNOWN_SCOPES for c in SANDBOX_CLIENTS for s in c.scopes)


UNUSED_PERMISSIONS: set[tuple[str, str, str]] = {
    # Consent reads by id answer to the search scope (``.s``) today, so ``r`` opens nothing of
    # its own; the AuditEvent trail is searched, never read by id. Listed so that any other
    # permission granted for nothing fails, and so that this list shrinks when they are fixed.
    ("consult-app", "user/Consent.cruds", "r"),
    ("auditor", "system/Consent.rs", "r"),
    ("auditor", "system/AuditEvent.rs", "r"),
}


def test_every_permission_of_every_sandbox_scope_opens_an_endpoint(tmp_path: Path) -> None:
    """Finer than a scope: each letter of ``cruds`` a client is granted is what some endpoint
    asks for (``system/Claim.rs``: a read AND a search)."""
    needed = {r for needs in _endpoints(tmp_path).values() for r in needs}
    unused = {
        (client.client_id, granted, letter)
        for client in SANDBOX_CLIENTS
        for granted in client.scopes
        for letter in Scope.parse(granted).permissions
        if not any(_satisfies(granted, r) and letter in Scope.parse(r).permissions for r in needed)
    }
    assert unused == UNUSED_PERMISSIONS
