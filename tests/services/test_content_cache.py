"""The content cache of $summary reads: a transaction a care provider read is served again from
memory only to that provider, only while the source lists the same version, and never past its
life or its memory bound."""

from __future__ import annotations

import dataclasses

from ehealth_hub.core.ports import Actor, TransactionRef
from ehealth_hub.fixtures import sandbox
from ehealth_hub.services.content_cache import ContentCache
from ehealth_hub.services.records import RecordsService
from tests.fakes.gate import SandboxFactsGate
from tests.fakes.records import NOW, MemoryRecordSource, sandbox_source

SARAH = sandbox.practitioner("sarah")
JAN = sandbox.practitioner("jan")
AN = sandbox.patient("an")


def _actor(who: sandbox.Practitioner) -> Actor:
    return Actor(who.nihii, who.quality)


def _service(source: MemoryRecordSource, cache: ContentCache | None = None) -> RecordsService:
    cache = cache or ContentCache(ttl_seconds=900, max_bytes=1 << 20)
    return RecordsService(SandboxFactsGate(), [source], contents=cache)


async def _read(service: RecordsService, who: sandbox.Practitioner = SARAH) -> None:
    await service.summary(AN.ssin, _actor(who), client_id="consult-app")


async def test_serves_a_version_read_before_without_reading_the_source_again() -> None:
    source = sandbox_source("vitalink", version="2026-11-20T10:00:00+01:00")
    service = _service(source)
    await _read(service)
    await _read(service)
    assert source.calls == 2  # the listing is asked every time
    assert source.reads == 3  # the three transactions, once


async def test_reads_again_when_the_source_lists_a_new_version() -> None:
    source = sandbox_source("vitalink", version="1")
    service = _service(source)
    await _read(service)
    for ssin, listed in source.messages.items():
        source.messages[ssin] = [(dataclasses.replace(r, version="2"), d) for r, d in listed]
    await _read(service)
    assert source.reads == 6


async def test_never_serves_one_care_provider_what_another_read() -> None:
    source = sandbox_source("vitalink", version="1")
    service = _service(source)
    await _read(service, SARAH)
    await _read(service, JAN)
    assert source.reads == 6


async def test_never_caches_a_listing_without_a_version() -> None:
    source = sandbox_source("vitalink")
    service = _service(source)
    await _read(service)
    await _read(service)
    assert source.reads == 6


async def test_reads_every_time_when_the_cache_is_off() -> None:
    source = sandbox_source("vitalink", version="1")
    service = _service(source, ContentCache(ttl_seconds=0, max_bytes=1 << 20))
    await _read(service)
    await _read(service)
    assert source.reads == 6


def _ref(n: int) -> TransactionRef:
    return TransactionRef("rsw", f"t{n}", "sumehr", NOW, version="1")


def test_an_entry_expires_after_its_life() -> None:
    now = [0.0]
    cache = ContentCache(ttl_seconds=10, max_bytes=100, clock=lambda: now[0])
    key = cache.key(_actor(SARAH), AN.ssin, _ref(1))
    assert key is not None
    cache.put(key, b"kmehr")
    now[0] = 9.9
    assert cache.get(key) == b"kmehr"
    now[0] = 10.0
    assert cache.get(key) is None
    assert cache.size == 0


def test_memory_stays_within_its_bound_evicting_the_least_recently_used() -> None:
    cache = ContentCache(ttl_seconds=60, max_bytes=10)
    keys = [cache.key(_actor(SARAH), AN.ssin, _ref(n)) for n in range(3)]
    assert None not in keys
    first, second, third = (k for k in keys if k is not None)
    cache.put(first, b"aaaa")
    cache.put(second, b"bbbb")
    assert cache.get(first) == b"aaaa"  # now the most recent
    cache.put(third, b"cccc")
    assert cache.size <= 10
    assert cache.get(second) is None
    assert cache.get(first) == b"aaaa"
    cache.put(first, b"x" * 11)  # alone over the bound: not kept, the old entry stays
    assert cache.get(first) == b"aaaa"
