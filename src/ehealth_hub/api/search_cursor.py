"""The opaque ``_cursor`` of search paging links: a keyset position, not an offset.

A cursor is base64url JSON naming the sort key and tie-break of the row a page starts after (or,
``backward``, ends before) and a digest of the search it belongs to: given with other parameters,
another sort or other includes, it is refused 400 (rule ``search.cursor``) rather than answering
a page of a different search. It carries no secret and grants nothing: the search's own filters
and the caller's compartment apply to every page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from ehealth_hub.api.search_values import refuse
from ehealth_hub.core.search import KeyValue, Position


def query_digest(resource: str, pairs: Sequence[tuple[str, str]]) -> str:
    """A short digest of a search (its resource type and its parameters, in order)."""
    canonical = orjson.dumps([resource, sorted(pairs)])
    return hashlib.sha256(canonical).hexdigest()[:16]


def encode_cursor(at: Position, digest: str, *, backward: bool) -> str:
    """The cursor of ``at`` for the search ``digest``."""
    body = {"k": _tagged(at.key), "t": _tagged(at.tiebreak), "b": backward, "q": digest}
    return base64.urlsafe_b64encode(orjson.dumps(body)).decode().rstrip("=")


def decode_cursor(cursor: str, digest: str) -> tuple[Position, bool]:
    """The position and direction of ``cursor``; 400 when it is not one of this search's."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = orjson.loads(raw)
        position = Position(_untagged(body["k"]), _untagged(body["t"]))
        backward, bound_to = body["b"], body["q"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        refuse("_cursor", "_cursor is not a cursor this server made", "search.cursor")
    if bound_to != digest or not isinstance(backward, bool):
        refuse("_cursor", "_cursor belongs to another search (parameters changed)", "search.cursor")
    return position, backward


def _tagged(value: KeyValue) -> list[Any]:
    if isinstance(value, datetime):
        return ["d", value.isoformat()]
    return ["i" if isinstance(value, int) else "s", value]


def _untagged(tagged: Any) -> KeyValue:
    tag, value = tagged
    if tag == "d" and isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("a cursor's instants carry their offset")
        return parsed
    if tag == "i" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tag == "s" and isinstance(value, str):
        return value
    raise ValueError(f"not a cursor value: {tagged!r}")
