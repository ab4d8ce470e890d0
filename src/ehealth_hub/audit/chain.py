"""The hash chain: a canonical form of each record and the link hash binding it to the previous.

Canonical form: JSON with keys sorted, no insignificant whitespace, UTF-8, no floats (RFC 8785
JCS restricted to strings, integers, booleans, null, arrays and objects with ASCII keys, for which
both agree). Each record stores ``hash = SHA-256(prev_hash || 0x0A || canonical)``, hex-encoded;
the first record links to :data:`GENESIS`.

The hash chain alone is unkeyed: whoever can write the database can append or rewrite records
with correct hashes. Each record therefore also stores
``mac = HMAC-SHA256(K, "ehealth-hub-audit-v1" 0x0A database_id 0x0A seq 0x0A hash)`` (RFC 2104),
hex-encoded. ``hash`` covers the record and, through ``prev_hash``, everything before it, so one
MAC authenticates the record, its place and its history; ``database_id`` binds it to one database.
``K`` never enters the database: it is derived from the hub's audit signing key (Ed25519, the key
that signs the chain heads, :mod:`.heads`) with HKDF-SHA256 (RFC 5869, info :data:`MAC_INFO`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

GENESIS: Final = "0" * 64
"""The ``prev_hash`` of the first record of a chain."""
MAC_INFO: Final = b"ehealth-hub audit chain HMAC-SHA256 v1"
"""The HKDF ``info`` deriving the chain's MAC key from the audit signing key."""


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


def mac_key(signing_key_bytes: bytes) -> bytes:
    """The 32-byte MAC key derived from the raw audit signing key (HKDF-SHA256, no salt)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=MAC_INFO).derive(
        signing_key_bytes
    )


def record_mac(key: bytes, database_id: str, seq: int, digest: str) -> str:
    """The MAC of the record ``seq`` with link hash ``digest`` in database ``database_id``."""
    message = f"ehealth-hub-audit-v1\n{database_id}\n{seq}\n{digest}".encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def mac_matches(key: bytes, database_id: str, seq: int, digest: str, mac: str | None) -> bool:
    """True when ``mac`` is the record's MAC (compared in constant time)."""
    return mac is not None and hmac.compare_digest(record_mac(key, database_id, seq, digest), mac)
