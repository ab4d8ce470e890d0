"""KMEHR transactions already read, served again to the same care provider while the source
still lists them under the same version.

Why this is sound (``settings.records.content_cache_seconds`` says it to operators too): a
source's transaction id with its version (IntraHub ``recorddatetime``, a FHIR ``versionId``)
names fixed bytes, so a second GetTransaction could only return what is kept here. What a hit
does not skip: the consent gate (which decides and audits every read before anything is
listed), the listing of every source (so a withdrawn, re-versioned or no longer visible
transaction is never served: only what the source lists right now is looked up), and the
permit check. The key holds the care provider and the patient, so one provider's read never
serves another, and a source's audit trail shows each provider's first read of each version.
Entries expire after ``ttl_seconds``; memory is bounded by ``max_bytes`` (least recently used
first). A listing without a version is never cached.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ehealth_hub.core.ports import Actor, TransactionRef

Key = tuple[str, str, str, str, str]
"""(care provider NIHII, patient SSIN, source, transaction id, version)."""


@dataclass(slots=True)
class _Entry:
    content: bytes
    expires: float


class ContentCache:
    """Bounded, expiring memory of transaction contents (see the module docstring)."""

    def __init__(
        self,
        *,
        ttl_seconds: float,
        max_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl, self.max_bytes, self.clock = ttl_seconds, max_bytes, clock
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self.size = 0
        """Bytes held."""
        self.hits = 0
        self.misses = 0

    def key(self, actor: Actor, patient_ssin: str, ref: TransactionRef) -> Key | None:
        """The entry's key, or None when ``ref`` cannot be cached (no version; cache off)."""
        if ref.version is None or self.ttl <= 0:
            return None
        return (actor.nihii, patient_ssin, ref.source, ref.transaction_id, ref.version)

    def get(self, key: Key) -> bytes | None:
        """The content kept under ``key`` if it has not expired."""
        entry = self._entries.get(key)
        if entry is None or entry.expires <= self.clock():
            if entry is not None:
                self._drop(key)
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.content

    def put(self, key: Key, content: bytes) -> None:
        """Keep ``content`` (not when it alone exceeds the bound), evicting the oldest."""
        if len(content) > self.max_bytes:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = _Entry(content, self.clock() + self.ttl)
        self.size += len(content)
        while self.size > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: Key) -> None:
        self.size -= len(self._entries.pop(key).content)

    @property
    def count(self) -> int:
        """Entries held (no ``__len__``: an empty cache must not read as a missing one)."""
        return len(self._entries)
