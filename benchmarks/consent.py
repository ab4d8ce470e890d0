"""Consent gate decisions per second: cached, uncached, and the pure policy as the floor.

* floor: :func:`ehealth_hub.consent.policy.decide` alone on facts already in memory (what any
  decision costs at least);
* cached: ``ConsentGate.decide`` answered from the decision cache (the common case within a
  consultation);
* uncached: ``ConsentGate.decide`` with the cache disabled, gathering the four facts concurrently
  from in-memory Consent/Therapeutic Link/exclusion services and the SQLite consent store.

Target (issue 6): a cached decision under 0.2 ms. Runs in a few seconds:
``python -m benchmarks.consent``. The audit write that ``authorize`` adds is a database
transaction and is measured separately (``audit write``).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.consent._support import consent_resource
from tests.fakes.consent import sandbox_services

from ehealth_hub.audit.events import AuditRecord
from ehealth_hub.audit.log import AuditLog
from ehealth_hub.consent.gate import ConsentGate
from ehealth_hub.consent.model import AccessRequest
from ehealth_hub.consent.policy import decide
from ehealth_hub.consent.store import ConsentStore
from ehealth_hub.core.ports import Actor
from ehealth_hub.fixtures.sandbox import patient, practitioner
from ehealth_hub.settings import ConsentSettings
from ehealth_hub.store.db import create_engine, upgrade

ROUNDS = 5


async def per_call(action: Callable[[], Awaitable[object]], calls: int) -> float:
    """Best mean seconds per call over ROUNDS rounds of ``calls`` calls."""
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(calls):
            await action()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def gate_for(engine: object, staleness: int) -> ConsentGate:
    consent, links, exclusions = sandbox_services()
    return ConsentGate(
        consent=consent,
        links=links,
        exclusions=exclusions,
        engine=engine,  # type: ignore[arg-type]
        config=ConsentSettings(cache_staleness_seconds=staleness),
    )


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        await upgrade(url)
        engine = create_engine(url)
        sarah, an = practitioner("sarah"), patient("an")
        now = datetime.now(UTC)
        resource = consent_resource(an.ssin, sarah.nihii, start=now - timedelta(minutes=1))
        async with engine.begin() as conn:
            await ConsentStore().create(conn, resource, now)
        request = AccessRequest(an.ssin, Actor(sarah.nihii, sarah.quality), "read-dossier")
        cached, uncached = gate_for(engine, 300), gate_for(engine, 0)
        facts = await uncached.gather(request)
        config = ConsentSettings()

        async def floor() -> object:
            return decide(request, facts, config, datetime.now(UTC))

        async def audit_write() -> object:
            record = AuditRecord(
                id=str(time.perf_counter_ns()),
                recorded=datetime.now(UTC),
                action="decision",
                outcome="permit",
                patient_ssin=an.ssin,
            )
            async with engine.begin() as conn:
                return await AuditLog().record(conn, record)

        assert (await cached.decide(request)).permitted
        results = {
            "floor (policy only)": await per_call(floor, 5000),
            "cached decision": await per_call(lambda: cached.decide(request), 5000),
            "uncached decision": await per_call(lambda: uncached.decide(request), 300),
            "audit write (1 tx)": await per_call(audit_write, 200),
        }
        await engine.dispose()
    base = results["floor (policy only)"]
    print(f"{'measure':<22} {'ms/decision':>12} {'per second':>12} {'x floor':>9}")
    for name, seconds in results.items():
        print(f"{name:<22} {seconds * 1e3:>12.4f} {1 / seconds:>12,.0f} {seconds / base:>9.1f}")
    verdict = "meets" if results["cached decision"] < 0.0002 else "MISSES"
    print(f"cached decision {verdict} the 0.2 ms target")


if __name__ == "__main__":
    asyncio.run(main())
