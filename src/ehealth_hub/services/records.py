"""``Patient/$summary``: the patient's records from every source, as one FHIR document Bundle.

Flow (ports and adapters): the consent gate (action ``read-dossier``) issues a Permit or raises
ConsentDenied -> every configured record source (the regional hubs through IntraHub v3, the GP
system) is asked concurrently for the Sumehr, medication scheme and vaccination transactions ->
each KMEHR message is translated by :func:`ehealth_hub.mappings.kmehr_to_fhir.translate_kmehr`
-> :func:`ehealth_hub.services.summary.assemble` builds the document: each fact once, with a
Provenance naming every source that reported it -> the access matrix (when wired:
:mod:`ehealth_hub.services.access_matrix`) leaves out the sections the provider's type may not see.
A source that fails (HubError, timeout) or a message that cannot be mapped never fails the read:
the others still answer and the Bundle's OperationOutcome says what is missing.

Translations are memoised by the SHA-256 of the KMEHR bytes (the mapping is pure and its ids
derive from the content, so a cached result is exactly what a new translation would give), or,
for a transaction the content cache keeps, by its content key (no rehash on every read).
A message of ``thread_threshold_bytes`` or more (default 256 KiB) is translated in a worker thread:
translating one costs ~0.1 ms per KB of CPU, so a 1 MB Sumehr held the event loop for ~130 ms
(every other request waited); in a thread the loop stalls at most ~30 ms at a cost of ~50% more
CPU for that message (GIL hand-offs). Smaller messages stay on the loop, where the hop costs more
than it saves (``benchmarks/api.py`` note in docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Final

import structlog

from ehealth_hub.consent.model import AccessRequest, Purpose
from ehealth_hub.core.errors import HostileXmlError, HubError, InvalidInput
from ehealth_hub.core.identifiers import mask_ssins_in_text
from ehealth_hub.core.permit import Permit, require
from ehealth_hub.core.ports import Actor, RecordSourcePort, TransactionRef
from ehealth_hub.fhir.builders import Json, uuid5_ids
from ehealth_hub.fhir.profiles import SSIN_SYSTEM
from ehealth_hub.mappings.kmehr_to_fhir import translate_kmehr
from ehealth_hub.services.access_matrix import AccessMatrix
from ehealth_hub.services.content_cache import ContentCache
from ehealth_hub.services.gate import PermitGate
from ehealth_hub.services.summary import SourceResult, assemble

log = structlog.get_logger(__name__)

DATA_CLASSES: Final = {
    "sumehr": "summary",
    "medicationscheme": "medication",
    "vaccination": "vaccination",
}
"""KMEHR transaction type -> the data class the consent gate reasons about."""
HUB_AUTHOR: Final = {"display": "ehealth-hub (assembled from the sources named in Provenance)"}


class RecordsService:
    """Reads a patient's records from the configured sources once the gate has said yes."""

    def __init__(
        self,
        gate: PermitGate,
        sources: Sequence[RecordSourcePort],
        *,
        displays: Mapping[str, str] | None = None,
        timeout_seconds: float = 10.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        cache_size: int = 512,
        thread_threshold_bytes: int = 256 * 1024,
        contents: ContentCache | None = None,
        matrix: AccessMatrix | None = None,
    ) -> None:
        self.gate = gate
        self.sources = tuple(sources)
        self.displays = dict(displays or {})
        self.timeout = timeout_seconds
        self.clock = clock
        self._cache: OrderedDict[str, Json] = OrderedDict()
        self._cache_size = cache_size
        self._thread_threshold = thread_threshold_bytes
        self.contents = (
            contents if contents is not None else ContentCache(ttl_seconds=0, max_bytes=0)
        )
        """Transactions already read (off unless given: ``settings.records``)."""
        self.matrix = matrix
        """Sections by provider type (None: every section the gate's permit allows)."""

    async def summary(
        self,
        patient_ssin: str,
        actor: Actor,
        *,
        client_id: str,
        purpose: Purpose = "treatment",
        justification: str | None = None,
    ) -> Json:
        """The document Bundle; ConsentDenied when the gate refuses."""
        request = AccessRequest(
            patient_ssin,
            actor,
            "read-dossier",
            purpose=purpose,
            justification=justification,
            client_id=client_id,
        )
        permit = await self.gate.permit(request)
        types = _allowed_types(permit)
        results = await asyncio.gather(*(self._read(s, permit, actor, types) for s in self.sources))
        now = self.clock()
        bundle = assemble(
            patient_ssin,
            results,
            decision_id=permit.decision_id,
            author=HUB_AUTHOR,
            now=now,
            new_id=uuid5_ids(f"summary:{permit.decision_id}:{uuid.uuid4()}"),
        )
        if self.matrix is not None:
            bundle = self.matrix.restrict(bundle, actor.quality, now.date())
        log.info(
            "summary_read",
            sources=len(results),
            failed=[r.source for r in results if r.failed],
            entries=len(bundle["entry"]),
        )
        return bundle

    async def _read(
        self, source: RecordSourcePort, permit: Permit, actor: Actor, types: tuple[str, ...]
    ) -> SourceResult:
        display = self.displays.get(source.name, source.name)
        try:
            async with asyncio.timeout(self.timeout):
                refs = await source.list_transactions(permit, actor, types=types)
                answers = await asyncio.gather(
                    *(self._content(source, permit, actor, r) for r in refs),
                    return_exceptions=True,
                )
        except HubError as exc:
            return _failed(
                source.name, display, f"not available ({type(exc).__name__}: {exc.detail})"
            )
        except TimeoutError:
            return _failed(source.name, display, f"no answer within {self.timeout:g} s")
        keys = [self._memo_key(actor, permit.patient_ssin, r) for r in refs]
        answered = list(zip(refs, answers, keys, strict=True))
        return await self._translate(source.name, display, permit.patient_ssin, answered)

    async def _content(
        self, source: RecordSourcePort, permit: Permit, actor: Actor, ref: TransactionRef
    ) -> bytes:
        """The transaction's KMEHR: from the content cache when this provider read this
        version before (the permit is checked either way), else from the source."""
        key = self.contents.key(actor, permit.patient_ssin, ref)
        if key is not None:
            require(
                permit, action="read-dossier", patient_ssin=permit.patient_ssin, now=self.clock()
            )
            kept = self.contents.get(key)
            if kept is not None:
                return kept
        content = await source.get_transaction(permit, actor, ref)
        if key is not None:
            self.contents.put(key, content)
        return content

    async def _translate(
        self,
        name: str,
        display: str,
        ssin: str,
        answered: Sequence[tuple[TransactionRef, bytes | BaseException, str | None]],
    ) -> SourceResult:
        bundles: list[Json] = []
        read: list[str] = []
        problems: list[str] = []
        for ref, answer, memo_key in answered:
            if isinstance(answer, HubError):
                problems.append(f"{ref.type} {ref.transaction_id} not read ({answer.detail})")
                continue
            if isinstance(answer, BaseException):
                raise answer
            try:
                bundle = await self._translated(answer, memo_key)
            except InvalidInput as exc:
                problems.append(f"{ref.type} {ref.transaction_id} not mapped ({exc.rule})")
                continue
            except HostileXmlError as exc:
                problems.append(f"{ref.type} {ref.transaction_id} refused ({exc.detail})")
                continue
            if not _about(bundle, ssin):
                problems.append(f"{ref.type} {ref.transaction_id} is about another patient")
                continue
            bundles.append(bundle)
            read.append(ref.transaction_id)
        problems = [mask_ssins_in_text(p) for p in problems]
        return SourceResult(name, display, tuple(bundles), tuple(read), tuple(problems))

    def _memo_key(self, actor: Actor, ssin: str, ref: TransactionRef) -> str | None:
        """The translation of a transaction the content cache keeps is keyed like its content
        (provider, patient, source, id, version: no rehash of the bytes on every read); other
        translations by the SHA-256 of the bytes."""
        key = self.contents.key(actor, ssin, ref)
        return None if key is None else "\x00".join(key)

    async def _translated(self, kmehr: bytes, memo_key: str | None = None) -> Json:
        key = memo_key or hashlib.sha256(kmehr).hexdigest()
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        if len(kmehr) >= self._thread_threshold:
            bundle = await asyncio.to_thread(translate_kmehr, kmehr, now=self.clock())
        else:
            bundle = translate_kmehr(kmehr, now=self.clock())
        self._cache[key] = bundle
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return bundle


def _failed(name: str, display: str, problem: str) -> SourceResult:
    log.warning("record_source_failed", source=name, problem=mask_ssins_in_text(problem))
    return SourceResult(name, display, problems=(mask_ssins_in_text(problem),), failed=True)


def _allowed_types(permit: Permit) -> tuple[str, ...]:
    if not permit.data_classes:
        return tuple(DATA_CLASSES)
    return tuple(t for t, c in DATA_CLASSES.items() if c in permit.data_classes)


def _about(bundle: Json, ssin: str) -> bool:
    """True when every Patient of ``bundle`` carries ``ssin`` (never show another's records)."""
    for entry in bundle.get("entry", []):
        res = entry["resource"]
        if res["resourceType"] == "Patient":
            ids = {
                i.get("value") for i in res.get("identifier", []) if i.get("system") == SSIN_SYSTEM
            }
            if ids and ssin not in ids:
                return False
    return True
