"""Consented ``Patient/$summary`` reads per second, latency percentiles and the hub's own overhead.

The sandbox hub (SQLite, real connectors: WS-Security signing, zeep, the consent gate with its
audit trail, the KMEHR -> FHIR mappings) reads An's records (RSW, Vitalink and her GP's system;
Abrumet and CoZo answer empty lists) from the in-process simulators without added latency, as the
consultation app acting for Dr Vermeulen, over HTTP (httpx ASGI transport, SMART token).

* floor (same run): the simulators' own time per read, measured by a timing middleware around the
  simulators' ASGI app and attributed to the read that caused it (a context variable follows each
  read into the hub's concurrent source calls); ``1 / floor`` is the most reads/s the simulators
  alone would allow on this process;
* sequential: 1 client, latency and overhead (= latency - simulators' time of that read);
* concurrent: 50 clients for ``EHEALTH_HUB_BENCH_SECONDS`` (default 20): reads/s, p50/p95/p99
  latency and overhead. Under load the overhead includes queueing behind other reads' work.

Targets (issue 9): >= 200 reads/s and p99 overhead <= 25 ms with 50 concurrent clients.
Run: ``python -m benchmarks.api`` (< 60 s after the first run, which derives the sandbox PKI into
``var/bench/pki``).
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from ehealth_hub.api import create_app
from ehealth_hub.auth.setup import token_endpoint
from ehealth_hub.bootstrap import Container
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import consultation_consent
from ehealth_hub.sandbox_app import SandboxApp
from ehealth_hub.settings import load_settings

CLIENTS = 50
SECONDS = float(os.environ.get("EHEALTH_HUB_BENCH_SECONDS", "20"))
PKI_DIR = Path(os.environ.get("EHEALTH_HUB_BENCH_PKI_DIR", "var/bench/pki")).resolve()
SEQUENTIAL = 50


@dataclass
class Read:
    """One read: its latency and the simulators' time spent for it."""

    latency: float = 0.0
    simulators: float = 0.0
    calls: int = 0


CURRENT: contextvars.ContextVar[Read | None] = contextvars.ContextVar("bench_read", default=None)


class SimulatorTimer:
    """ASGI middleware: adds each simulator request's duration to the read that caused it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            read = CURRENT.get()
            if read is not None:
                read.simulators += time.perf_counter() - started
                read.calls += 1


@dataclass
class Phase:
    """The reads of one phase."""

    reads: list[Read] = field(default_factory=list)
    failures: int = 0
    elapsed: float = 0.0

    def pct(self, values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def line(self, name: str) -> str:
        lat = [r.latency for r in self.reads]
        over = [r.latency - r.simulators for r in self.reads]
        rate = len(self.reads) / self.elapsed if self.elapsed else 0.0
        return (
            f"| {name} | {rate:,.1f} | {self.pct(lat, 0.5):.1f} | {self.pct(lat, 0.95):.1f} | "
            f"{self.pct(lat, 0.99):.1f} | {self.pct(over, 0.5):.1f} | {self.pct(over, 0.99):.1f} | "
            f"{statistics.mean(r.simulators for r in self.reads) * 1000:.1f} | {self.failures} |"
        )


async def one_read(app: SandboxApp, ssin: str, phase: Phase) -> None:
    read = Read()
    token = CURRENT.set(read)
    started = time.perf_counter()
    try:
        response = await app.summary(ssin)
    finally:
        CURRENT.reset(token)
    read.latency = time.perf_counter() - started
    if response.status_code == 200 and '"OperationOutcome"' not in response.text:
        phase.reads.append(read)
    else:
        phase.failures += 1


async def concurrent(app: SandboxApp, ssin: str, seconds: float) -> Phase:
    phase = Phase()
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            await one_read(app, ssin, phase)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    phase.elapsed = time.perf_counter() - started
    return phase


async def prepare(container: Container, http: httpx.AsyncClient) -> None:
    """Build the connectors, put the timer around the simulators, wait until ready."""
    assert container.connectors is not None
    await container.connectors.get()
    simulators = container.connectors.simulators
    simulators.app.add_middleware(SimulatorTimer)
    for _ in range(240):
        if (await http.get("/health/ready")).status_code == 200:
            return
        await asyncio.sleep(0.25)
    raise RuntimeError("the sandbox hub did not become ready")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            database_url=f"sqlite:///{tmp}/hub.db",
            data_dir=Path(tmp) / "var",
            trust={"pki_dir": PKI_DIR},
            log={"level": "error", "json_output": True},
        )
        hub = create_app(settings)
        async with hub.router.lifespan_context(hub):
            transport = httpx.ASGITransport(app=hub)
            limits = httpx.Limits(max_connections=None)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://hub", limits=limits
            ) as http:
                await prepare(hub.state.container, http)
                sarah, an = sandbox.practitioner("sarah"), sandbox.patient("an")
                app = SandboxApp(http, "consult-app", token_endpoint(settings), sarah.nihii)
                consent = consultation_consent(an, sarah, start=datetime.now(UTC), minutes=120)
                assert (await app.post("/fhir/Consent", consent)).status_code == 201
                warm = Phase()
                for _ in range(10):
                    await one_read(app, an.ssin, warm)
                sequential = Phase()
                started = time.perf_counter()
                for _ in range(SEQUENTIAL):
                    await one_read(app, an.ssin, sequential)
                sequential.elapsed = time.perf_counter() - started
                loaded = await concurrent(app, an.ssin, SECONDS)
    floor = statistics.mean(r.simulators for r in sequential.reads)
    calls = statistics.mean(r.calls for r in sequential.reads)
    print(
        f"simulator calls per read: {calls:.0f}; floor (simulators alone): {1 / floor:,.1f} reads/s"
    )
    print(
        "| phase | reads/s | p50 ms | p95 ms | p99 ms | overhead p50 ms | overhead p99 ms "
        "| simulators ms/read | failures |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(sequential.line("1 client"))
    print(loaded.line(f"{CLIENTS} clients"))
    rate = len(loaded.reads) / loaded.elapsed
    print(f"ratio to floor (reads/s vs simulators alone): {rate * floor:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
