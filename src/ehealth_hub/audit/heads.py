"""Signed chain heads, kept outside the database so that cutting off the newest records shows.

Every ``audit.checkpoint_interval_seconds`` the hub reads the committed head of the hash chain
(sequence number and hash) and the chain's identity, signs
``canonical({"seq", "hash", "signed_at", "database_id", "keyed_from"})`` with its Ed25519 key
(RFC 8032) and appends it as one JSON line to ``<data_dir>/audit/heads.jsonl``. ``audit verify``
checks every signed head against the database: a head whose row is gone means the tail was
truncated; a row with another hash means the chain was rewritten; a head of another database
(or of another ``keyed_from``) is foreign; and records older than the checkpoint interval plus
``audit.unsigned_grace_seconds`` that no head covers mean the heads were emptied or rolled back.
Heads written before the keyed chain (no ``database_id``) still verify, for the records before it.
The same key, through HKDF, gives the MAC key of the chain (:func:`.chain.mac_key`). In the
sandbox the key is generated in ``<data_dir>/audit`` on first use; elsewhere ``audit.key_file``
must name it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import structlog
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit.chain import canonical, mac_key
from ehealth_hub.audit.log import AuditLog, ChainHead, ChainIdentity
from ehealth_hub.core.errors import ConfigurationError, HubError, SignatureError
from ehealth_hub.core.files import create_once
from ehealth_hub.settings import Settings
from ehealth_hub.store.errors import storage_errors

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SignedHead:
    """One checkpoint of the chain head, signed by the hub."""

    seq: int
    hash: str
    signed_at: str
    key_id: str
    signature: str
    database_id: str = ""
    """The database the head belongs to; empty in heads signed before the keyed chain."""
    keyed_from: int = 0
    """The database's first keyed record when signed (0 in heads before the keyed chain)."""

    def payload(self) -> bytes:
        """The bytes the signature covers (a head before the keyed chain: its three fields)."""
        fields: dict[str, object] = {
            "seq": self.seq,
            "hash": self.hash,
            "signed_at": self.signed_at,
        }
        if self.database_id:
            fields |= {"database_id": self.database_id, "keyed_from": self.keyed_from}
        return canonical(fields).encode()


class HeadSigner:
    """Signs chain heads with the hub's key and keeps them in an append-only file."""

    def __init__(self, key: Ed25519PrivateKey, heads_file: Path) -> None:
        self._key = key
        self._public = key.public_key()
        raw = self._public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]
        self.heads_file = heads_file
        private = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        self.mac_key = mac_key(private)
        """The chain's MAC key (HKDF of this signing key): give it to the hub's AuditLog."""

    @classmethod
    def from_settings(cls, settings: Settings) -> HeadSigner:
        """The signer for ``settings``; generates the sandbox key on first use."""
        folder = settings.data_dir / "audit"
        key_file = settings.audit.key_file
        if key_file is None:
            if not settings.is_sandbox:
                raise ConfigurationError(
                    "audit.key_file is required outside the sandbox", system="settings"
                )
            key_file = folder / "hub-audit-key.pem"
            if not key_file.exists():
                _generate(key_file)
        return cls(_load(key_file), folder / "heads.jsonl")

    def sign(self, head: ChainHead, identity: ChainIdentity, now: datetime) -> SignedHead:
        """A signed checkpoint of ``head`` of the chain ``identity`` names, at ``now``."""
        unsigned = SignedHead(
            head.seq,
            head.hash,
            now.isoformat(),
            self.key_id,
            "",
            identity.database_id,
            identity.keyed_from,
        )
        signature = base64.b64encode(self._key.sign(unsigned.payload())).decode()
        return replace(unsigned, signature=signature)

    def append(self, signed: SignedHead) -> None:
        """Append ``signed`` to the heads file (flushed and fsync'ed before returning)."""
        self.heads_file.parent.mkdir(parents=True, exist_ok=True)
        with self.heads_file.open("a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(signed), sort_keys=True) + "\n")
            out.flush()
            os.fsync(out.fileno())

    def read(self) -> list[SignedHead]:
        """Every signed head in the file, each signature checked (SignatureError otherwise)."""
        if not self.heads_file.exists():
            return []
        heads = []
        for number, line in enumerate(self.heads_file.read_text("utf-8").splitlines(), 1):
            if line.strip():
                heads.append(self._checked(line, number))
        return heads

    def _checked(self, line: str, number: int) -> SignedHead:
        try:
            head = SignedHead(**json.loads(line))
            self._public.verify(base64.b64decode(head.signature), head.payload())
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise SignatureError(
                f"signed head on line {number} of {self.heads_file.name} does not verify",
                system="audit",
                operation="heads",
            ) from exc
        return head

    async def checkpoint(self, engine: AsyncEngine, now: datetime) -> SignedHead | None:
        """Sign and append the committed head, unless it has not moved since the last one."""
        with storage_errors("audit.checkpoint"):
            async with engine.connect() as conn:
                head = await AuditLog().head(conn)
                identity = await AuditLog().identity(conn)
        last = await asyncio.to_thread(self.read)
        if head.seq == 0 or (last and (last[-1].seq, last[-1].hash) == (head.seq, head.hash)):
            return None
        signed = self.sign(head, identity, now)
        await asyncio.to_thread(self.append, signed)
        return signed


async def run_checkpoints(
    signer: HeadSigner, engine: AsyncEngine, interval: float, stop: asyncio.Event | None = None
) -> None:
    """Checkpoint every ``interval`` seconds until ``stop`` is set or the task is cancelled, and
    once more then (a clean shutdown leaves no unsigned tail); failures are logged and retried.
    ``stop`` lets the checkpoint under way finish: one cancelled midway can leave its SQLite
    connection and lock to the garbage collector, and the last checkpoint would wait on it."""
    stop = stop if stop is not None else asyncio.Event()
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            await _checkpoint_logged(signer, engine)
    except asyncio.CancelledError:
        await _checkpoint_logged(signer, engine)
        raise


async def _checkpoint_logged(signer: HeadSigner, engine: AsyncEngine) -> None:
    try:
        await signer.checkpoint(engine, datetime.now(UTC))
    except (HubError, OSError) as exc:
        log.warning("audit_checkpoint_failed", error=type(exc).__name__, detail=str(exc))


def _generate(path: Path) -> None:
    """A new key at ``path``, unless another process got there first (then theirs stands)."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    create_once(path, pem)


def _load(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"cannot read the audit signing key {path.name}: {type(exc).__name__}",
            system="settings",
            operation="audit.key_file",
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(
            "the audit signing key must be an Ed25519 private key (PEM, PKCS#8)",
            system="settings",
            operation="audit.key_file",
        )
    return key
