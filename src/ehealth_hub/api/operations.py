"""Operations that only take ``POST`` answer any other method ``405 Method Not Allowed``.

An operation path such as ``/fhir/Claim/$submit`` also has the shape of a read
(``/fhir/Claim/{id}``), so without this a ``GET`` on it would be routed to the read and refused as
a bad id (400), which tells the client the wrong thing: the resource exists, the method does not
(RFC 9110 15.5.6, with ``Allow``). Starlette answers 405 itself only when no route matches the
path for any method, which the read route defeats. Operations that also take ``GET`` (like
``Patient/$summary``) are left alone. The answer is an OperationOutcome like any other error
(:mod:`ehealth_hub.api.errors`), and needs no token: the method is wrong whoever asks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_OTHER_METHODS: Final = ["GET", "HEAD", "PUT", "PATCH", "DELETE"]


def _post_only_operations(app: FastAPI) -> list[str]:
    """The paths of ``$operation`` routes that take POST and no other method."""
    methods: dict[str, set[str]] = {}
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path
        if isinstance(route, APIRoute) and path and "/$" in path:
            methods.setdefault(path, set()).update(route.methods or ())
    return sorted(path for path, allowed in methods.items() if allowed == {"POST"})


def _refuse(path: str) -> Callable[[Request], Awaitable[Response]]:
    async def not_allowed(request: Request) -> Response:
        raise HTTPException(
            405,
            f"{request.method} is not allowed on {path}: the operation takes POST only",
            headers={"Allow": "POST"},
        )

    return not_allowed


def install_post_only_operations(app: FastAPI) -> None:
    """Route every other method of each POST-only operation to a 405, ahead of the reads whose
    ``{id}`` the operation's name would otherwise match. Call after every router is included."""
    for path in _post_only_operations(app):
        refusal = Route(path, _refuse(path), methods=_OTHER_METHODS, include_in_schema=False)
        app.router.routes.insert(0, refusal)
