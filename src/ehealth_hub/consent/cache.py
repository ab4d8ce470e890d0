"""The decision cache: positive decisions reused for a bounded time, dropped on any revocation.

A cached permit is reused until the earliest of: ``consent.cache_staleness_seconds`` after it was
taken, and the decision's own ``valid_until`` (the end of the consultation consent or link it rests
on). A consent change made through the hub drops every entry of that patient at once. Denials and
break-the-glass decisions are never cached: the sources are asked again each time.

The cache itself is process-local. On PostgreSQL, :mod:`ehealth_hub.consent.notify` carries every
revocation to every process (NOTIFY on commit, keyed by :func:`patient_tag`) and suspends the
cache (:meth:`DecisionCache.suspend`) while its listener is disconnected, so a missed notification
can never extend a revoked permit. On SQLite (one process by design) the in-process invalidation
is all there is.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Final

from ehealth_hub.consent.model import AccessRequest, Decision

CacheKey = tuple[str, str, str, str, str, tuple[str, ...], str, str]

MAX_ENTRIES: Final = 50_000


def patient_tag(patient_ssin: str) -> str:
    """A pseudonym of the patient for revocation notifications (never the SSIN in clear)."""
    return hashlib.sha256(b"ehealth-hub-consent:" + patient_ssin.encode()).hexdigest()[:32]


def cache_key(request: AccessRequest) -> CacheKey:
    """Everything a decision depends on, apart from the facts."""
    return (
        request.patient_ssin,
        request.actor.nihii,
        request.actor.quality,
        request.action,
        request.purpose,
        request.data_classes,
        request.recipient_nihii or "",
        request.recipient_cbe or "",
    )


class DecisionCache:
    """A bounded, least-recently-used map from request to permit, with per-patient invalidation."""

    def __init__(self, staleness: timedelta, max_entries: int = MAX_ENTRIES) -> None:
        self._staleness = staleness
        self._max = max_entries
        self._entries: OrderedDict[CacheKey, tuple[datetime, Decision]] = OrderedDict()
        self._generations: dict[str, int] = {}
        self._patients: dict[str, str] = {}
        """patient_tag -> SSIN of the patients decided on, to map notifications to entries."""
        self._epoch = 0
        self.serving = True
        """False while revocations from other processes might be missed: every lookup misses."""

    def get(self, request: AccessRequest, now: datetime) -> Decision | None:
        """The cached permit for ``request``, if one is still fresh at ``now``."""
        if not self.serving:
            return None
        key = cache_key(request)
        entry = self._entries.get(key)
        if entry is None:
            return None
        expiry, decision = entry
        if now >= expiry:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return decision

    def generation(self, patient_ssin: str) -> int:
        """A counter that moves on whenever the patient's entries are invalidated (taken before
        gathering facts); also records the patient's tag so a notification can find them."""
        tag = patient_tag(patient_ssin)
        if tag not in self._patients:
            if len(self._patients) >= 2 * self._max:
                del self._patients[next(iter(self._patients))]
            self._patients[tag] = patient_ssin
        return self._epoch + self._generations.get(patient_ssin, 0)

    def put(
        self, request: AccessRequest, decision: Decision, now: datetime, generation: int
    ) -> None:
        """Remember a permit (never a denial, never break-the-glass), unless a revocation came
        in while its facts were being gathered (``generation`` moved on)."""
        if not decision.permitted or decision.break_the_glass or self._staleness <= timedelta(0):
            return
        if not self.serving:
            return
        if generation != self.generation(request.patient_ssin):
            return
        expiry = now + self._staleness
        if decision.rests_until is not None:
            expiry = min(expiry, decision.rests_until)
        if expiry <= now:
            return
        self._entries[cache_key(request)] = (expiry, decision)
        self._entries.move_to_end(cache_key(request))
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def invalidate_patient(self, patient_ssin: str) -> int:
        """Drop every entry of ``patient_ssin``; returns how many were dropped."""
        self._generations[patient_ssin] = self._generations.get(patient_ssin, 0) + 1
        stale = [key for key in self._entries if key[0] == patient_ssin]
        for key in stale:
            del self._entries[key]
        return len(stale)

    def invalidate_tag(self, tag: str) -> int:
        """Drop every entry of the patient whose :func:`patient_tag` is ``tag``."""
        patient_ssin = self._patients.get(tag)
        return 0 if patient_ssin is None else self.invalidate_patient(patient_ssin)

    def suspend(self) -> None:
        """Stop serving (and forget everything): revocations may be missed from now on."""
        self.serving = False
        self._forget_all()

    def resume(self) -> None:
        """Serve again, from an empty cache: nothing cached before the gap is trusted."""
        self._forget_all()
        self.serving = True

    def _forget_all(self) -> None:
        self._epoch += 1  # decisions gathered before now are not cached by a later put
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
