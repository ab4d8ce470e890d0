"""Conditional reads (RFC 9110 13.1, FHIR R4 http.html#cread), implemented once for every read.

A pure ASGI middleware: when a ``GET``/``HEAD`` on ``/fhir`` carries ``If-None-Match`` (or, without
it, ``If-Modified-Since``) and the route answers 200 with an ``ETag`` (``Last-Modified``) that the
condition says the client already holds, the answer becomes ``304 Not Modified`` without a body,
keeping ``ETag``, ``Last-Modified`` and the caching headers. Routes need not know: any read that
sets the headers of :func:`ehealth_hub.api.responses.version_headers` is conditional. The route
still runs (the read is authorised and audited like any other); only the body is saved.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Final

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_KEPT: Final = frozenset(
    {b"etag", b"last-modified", b"cache-control", b"content-location", b"expires", b"vary", b"date"}
)


def _opaque(tag: str) -> str:
    """The tag without its weakness mark and quotes: ``W/"3"``, ``"3"`` and ``3`` (as fhirpy's
    ``refresh()`` sends a bare versionId) all name version 3."""
    return tag.strip().removeprefix("W/").strip('"')


def unchanged(response: Headers, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """True when the client's copy is current (weak comparison of entity tags, RFC 9110 8.8.3.2;
    ``If-Modified-Since`` only counts without ``If-None-Match``, 13.1.3)."""
    if if_none_match is not None:
        etag = response.get("etag")
        tags = [_opaque(t) for t in if_none_match.split(",")]
        return etag is not None and ("*" in tags or _opaque(etag) in tags)
    modified = response.get("last-modified")
    if if_modified_since is None or modified is None:
        return False
    try:
        return parsedate_to_datetime(modified) <= parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):  # not an HTTP-date: the condition is ignored (13.1.3)
        return False


class ConditionalRead:
    """Answer 304 for a read the client already holds (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Headers(scope=scope) if scope["type"] == "http" else None
        if (
            request is None
            or scope["method"] not in ("GET", "HEAD")
            or not scope["path"].startswith("/fhir")
            or ("if-none-match" not in request and "if-modified-since" not in request)
        ):
            await self.app(scope, receive, send)
            return
        held = False

        async def send_or_304(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                answer = Headers(raw=message["headers"])
                inm, ims = request.get("if-none-match"), request.get("if-modified-since")
                if message["status"] == 200 and unchanged(answer, inm, ims):
                    held = True
                    kept = [(k, v) for k, v in message["headers"] if k.lower() in _KEPT]
                    message = {**message, "status": 304, "headers": kept}
            elif held:  # the body the client already has is not sent
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        await self.app(scope, receive, send_or_304)
