"""The hash chain: a canonical form of each record and the link hash binding it to the previous.

Canonical form: JSON with keys sorted, no insignificant whitespace, UTF-8, no floats (RFC 8785
JCS restricted to strings, integers, booleans, null, arrays and objects with ASCII keys, for which
both agree). Each record stores ``hash = SHA-256(prev_hash || 0x0A || canonical)``, hex-encoded;
the first record links to :data:`GENESIS`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final

GENESIS: Final = "0" * 64
"""The ``prev_hash`` of the first record of a chain."""


def canonical(value: Any) -> str:
    """The canonical JSON text of ``value`` (refuses floats, which have no stable form here)."""
    _refuse_floats(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _refuse_floats(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("the audit canonical form has no floats; use strings or integers")
    if isinstance(value, dict):
        for item in value.values():
            _refuse_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_floats(item)


def link_hash(prev_hash: str, canonical_body: str) -> str:
    """The hash of a record whose canonical body is ``canonical_body``, chained to ``prev_hash``."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(canonical_body.encode("utf-8"))
    return digest.hexdigest()
