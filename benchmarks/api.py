"""Consented ``Patient/$summary`` reads per second, latency percentiles and the hub's own overhead.

The sandbox hub (SQLite, real connectors: WS-Security signing, the consent gate with its audit
trail, the KMEHR -> FHIR mappings, ``create_app(on_started=tuning.for_server)`` as ``ehealth-hub
serve`` runs it, on uvloop) reads An's records (RSW, Vitalink and her GP's system; Abrumet and CoZo
answer empty lists) as the consultation app acting for Dr Vermeulen, over HTTP (httpx ASGI
transport, SMART token). The simulators answer without added latency.

Where the simulators run (``--simulators``):

* ``process`` (default): their own process (uvicorn on a loopback port), reached as the real
  systems are: the hub's endpoints point at that port and its network client (httpx over
  aiohttp) calls them. A read's simulators' time is the union of the waits for its calls'
  answers (an httpx event hook); their CPU is the child's process CPU over the phase (asked at
  ``/_bench/cpu``) divided by the reads; the hub's CPU is this process's CPU (load generator
  included) divided by the reads. On a 2-core machine the two processes share both cores.
* ``in-process``: on the hub's event loop behind the sandbox's ASGI client; a timing middleware
  attributes each simulator request's time and thread CPU to the read that caused it.

Phases (same run): the **floor** is the simulators' own cost per read (``1 / floor`` = the most
reads/s the simulators alone allow); **1 client** (latency, overhead = latency - simulators'
time); **50 clients as fast as they can** (saturation: reads/s; latency there is queueing,
50 / reads/s); **50 clients at ``--rate`` reads/s offered** (default 200: each client starts a
read every 50 / rate s, or at once when its last one ran late): latency and overhead under the
target load, which is what a user of the hub sees.

Targets (issue 9): >= 200 reads/s and p99 overhead <= 25 ms with 50 concurrent clients.
Run: ``python -m benchmarks.api [--database postgresql://postgres@127.0.0.1:5432/NAME]
[--simulators in-process] [--rate 200]`` (~70 s after the first run, which derives the sandbox
PKI into ``var/bench/pki``; ``EHEALTH_HUB_BENCH_SECONDS`` per loaded phase, default 20). With a
PostgreSQL URL the database NAME must not exist: the benchmark creates and drops it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from benchmarks._api_processes import RemoteSimulators, ServedHub
from ehealth_hub.api import create_app
from ehealth_hub.auth.urls import token_endpoint_at
from ehealth_hub.cli import tuning
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consult_app import SandboxApp
from ehealth_hub.fixtures.consultation import consultation_consent
from ehealth_hub.settings import Settings, load_settings
from ehealth_hub.transport.network import network_client

CLIENTS = 50
SECONDS = float(os.environ.get("EHEALTH_HUB_BENCH_SECONDS", "20"))
PKI_DIR = Path(os.environ.get("EHEALTH_HUB_BENCH_PKI_DIR", "var/bench/pki")).resolve()
SEQUENTIAL = 50


@dataclass
class Read:
    """One read: its latency and the simulators' time spent for it."""

    latency: float = 0.0
    simulators: float = 0.0
    simulators_cpu: float = 0.0
    calls: int = 0


CURRENT: contextvars.ContextVar[Read | None] = contextvars.ContextVar("bench_read", default=None)


class SimulatorTimer:
    """ASGI middleware: adds each simulator request's duration to the read that caused it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            await self.app(scope, receive, send)
        finally:
            read = CURRENT.get()
            if read is not None:
                read.simulators += time.perf_counter() - started
                read.simulators_cpu += time.thread_time() - cpu
                read.calls += 1


@dataclass
class Phase:
    """The reads of one phase."""

    reads: list[Read] = field(default_factory=list)
    failures: int = 0
    elapsed: float = 0.0
    cpu: float = 0.0
    """Process CPU time (all threads) spent during the phase."""
    remote_cpu: float | None = None
    """The simulators' process CPU time during the phase, when they run in their own process."""

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
            f"{statistics.mean(r.simulators for r in self.reads) * 1000:.1f} | "
            f"{self.sim_cpu() * 1000:.1f} | {self.hub_cpu() * 1000:.1f} | {self.failures} |"
        )

    def sim_cpu(self) -> float:
        """The simulators' CPU time per read (in-process: attributed per request)."""
        if self.remote_cpu is not None:
            return self.remote_cpu / len(self.reads)
        return statistics.mean(r.simulators_cpu for r in self.reads)

    def hub_cpu(self) -> float:
        """The hub's own CPU time per read: process CPU minus the simulators' share."""
        if self.remote_cpu is not None:
            return self.cpu / len(self.reads)
        return self.cpu / len(self.reads) - self.sim_cpu()


async def one_read(app: SandboxApp, ssin: str, phase: Phase) -> None:
    read = Read()
    token = CURRENT.set(read)
    started = time.perf_counter()
    try:
        response = await app.summary(ssin)
    finally:
        CURRENT.reset(token)
    read.latency = time.perf_counter() - started
    if read.calls == 0:  # simulators elsewhere: the hub says how long it waited for them
        read.simulators = downstream_seconds(response.headers.get("server-timing", ""))
    if response.status_code == 200 and '"OperationOutcome"' not in response.text:
        phase.reads.append(read)
    else:
        phase.failures += 1


def downstream_seconds(header: str) -> float:
    """The ``downstream`` duration of a ``Server-Timing`` header, in seconds."""
    for metric in header.split(","):
        name, _, params = metric.strip().partition(";")
        if name == "downstream":
            return float(params.split("dur=", 1)[1].split(";")[0]) / 1000
    return 0.0


async def paced(app: SandboxApp, ssin: str, seconds: float, rate: float) -> Phase:
    """``CLIENTS`` clients sharing an offered load of ``rate`` reads/s: each starts a read every
    ``CLIENTS / rate`` s (staggered, a random start), or at once when its previous read ran late."""
    phase = Phase()
    period = CLIENTS / rate
    deadline = time.perf_counter() + seconds

    async def client(offset: float) -> None:
        due = time.perf_counter() + offset
        while due < deadline:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            await one_read(app, ssin, phase)
            due += period

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client(random.uniform(0, period)) for _ in range(CLIENTS)))
    phase.elapsed = time.perf_counter() - started
    phase.cpu = time.process_time() - cpu
    return phase


async def concurrent(app: SandboxApp, ssin: str, seconds: float) -> Phase:
    phase = Phase()
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            await one_read(app, ssin, phase)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    phase.elapsed = time.perf_counter() - started
    phase.cpu = time.process_time() - cpu
    return phase


@dataclass
class Bench:
    """Where the hub and the simulators run, and how to read their CPU time."""

    remote: RemoteSimulators | None
    served: ServedHub | None

    def hub_cpu(self) -> float:
        """The hub's CPU seconds so far: the serving processes, or this process (in-process)."""
        return self.served.cpu() if self.served else time.process_time()

    def sim_cpu(self) -> float | None:
        return self.remote.cpu() if self.remote else None


async def measured(bench: Bench, phase: Callable[[], Awaitable[Phase]]) -> Phase:
    """Run ``phase`` and charge it the hub's and the simulators' CPU time it took."""
    hub, sims = bench.hub_cpu(), bench.sim_cpu()
    result = await phase()
    result.cpu = bench.hub_cpu() - hub
    after = bench.sim_cpu()
    if sims is not None and after is not None:
        result.remote_cpu = after - sims
    return result


async def sequential(app: SandboxApp, ssin: str) -> Phase:
    phase = Phase()
    started = time.perf_counter()
    for _ in range(SEQUENTIAL):
        await one_read(app, ssin, phase)
    phase.elapsed = time.perf_counter() - started
    return phase


async def phases(
    bench: Bench, http: httpx.AsyncClient, settings: Settings, rate: float
) -> list[Phase]:
    """Consent, warm-up, then the measured phases (see the module docstring)."""
    for _ in range(240):
        if (await http.get("/health/ready")).status_code == 200:
            break
        await asyncio.sleep(0.25)
    sarah, an = sandbox.practitioner("sarah"), sandbox.patient("an")
    app = SandboxApp(
        http, "consult-app", token_endpoint_at(settings, str(http.base_url)), sarah.nihii
    )
    consent = consultation_consent(an, sarah, start=datetime.now(UTC), minutes=120)
    assert (await app.post("/fhir/Consent", consent)).status_code == 201
    for _ in range(10):
        await one_read(app, an.ssin, Phase())
    return [
        await measured(bench, lambda: sequential(app, an.ssin)),
        await measured(bench, lambda: concurrent(app, an.ssin, SECONDS)),
        await measured(bench, lambda: paced(app, an.ssin, SECONDS, rate)),
    ]


async def run(settings: Settings, bench: Bench, rate: float) -> list[Phase]:
    """The phases against a fresh hub: served by ``ehealth-hub serve``, or in this process."""
    if bench.served is not None:
        await bench.served.ready()
        async with network_client(timeout=60) as http:
            http.base_url = httpx.URL(bench.served.base_url)
            return await phases(bench, http, settings, rate)
    hub = create_app(settings, on_started=tuning.for_server)  # as `ehealth-hub serve` runs it
    async with hub.router.lifespan_context(hub):
        container = hub.state.container
        assert container.connectors is not None
        await container.connectors.get()
        if bench.remote is None:
            container.connectors.simulators.app.add_middleware(SimulatorTimer)
        transport = httpx.ASGITransport(app=hub)
        limits = httpx.Limits(max_connections=None)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://hub", limits=limits
        ) as http:
            return await phases(bench, http, settings, rate)


async def postgres_database(url: str, *, create: bool) -> None:
    """Create (or drop) the throw-away database named in ``url`` through the server's ``postgres``
    database; refuses to reuse one that exists."""
    base, name = url.rsplit("/", 1)
    admin = await asyncpg.connect(f"{base}/postgres".replace("+asyncpg", ""))
    try:
        if create:
            await admin.execute(f'CREATE DATABASE "{name}"')
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def report(first: Phase, loaded: Phase, steady: Phase, backend: str, rate: float) -> None:
    # in-process, the simulators' calls run one after the other on the loop: their summed time
    # bounds reads/s; in their own process they serve concurrently, bounded by their CPU
    remote = first.remote_cpu is not None
    floor = first.sim_cpu() if remote else statistics.mean(r.simulators for r in first.reads)
    print(
        f"{backend}: floor (simulators alone): "
        f"{1 / floor:,.1f} reads/s; hub CPU per read (1 client): "
        f"{first.hub_cpu() * 1000:.1f} ms -> at most {1 / first.hub_cpu():,.0f} "
        "reads/s per core without the simulators"
    )
    print(
        "| phase | reads/s | p50 ms | p95 ms | p99 ms | overhead p50 ms | overhead p99 ms "
        "| simulators ms/read | simulators CPU ms/read | hub CPU ms/read | failures |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(first.line("1 client"))
    print(loaded.line(f"{CLIENTS} clients, as fast as they can"))
    print(steady.line(f"{CLIENTS} clients, {rate:g} reads/s offered"))
    achieved = len(loaded.reads) / loaded.elapsed
    print(f"ratio to floor (saturated reads/s vs simulators alone): {achieved * floor:.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database", help="postgresql://.../NAME (created and dropped)")
    parser.add_argument("--simulators", choices=("in-process", "process"), default="process")
    parser.add_argument(
        "--hub-workers",
        type=int,
        default=0,
        help="0: the hub in this process; N: serve --workers N",
    )
    parser.add_argument("--rate", type=float, default=200.0, help="offered reads/s (paced phase)")
    args = parser.parse_args()
    remote = RemoteSimulators(PKI_DIR) if args.simulators == "process" else None
    served = None
    try:
        if remote is not None:
            await remote.ready()
        with tempfile.TemporaryDirectory() as tmp:
            url = args.database or f"sqlite:///{tmp}/hub.db"
            postgres = url.startswith("postgresql")
            if postgres:
                await postgres_database(url, create=True)
            overrides: dict[str, Any] = {
                "database_url": url,
                "data_dir": Path(tmp) / "var",
                "log": {"level": "error", "json_output": True},
                **(remote.settings() if remote else {"trust": {"pki_dir": PKI_DIR}}),
            }
            if args.hub_workers:
                served = ServedHub(args.hub_workers, overrides)
                overrides["api"] = {"public_base_url": served.base_url}
            try:
                results = await run(load_settings(**overrides), Bench(remote, served), args.rate)
            finally:
                if served is not None:
                    served.stop()
                if postgres:
                    await postgres_database(url, create=False)
    finally:
        if remote is not None:
            remote.stop()
    where = "simulators in their own process" if remote else "simulators in-process"
    hub = f"hub: serve --workers {args.hub_workers}" if served else "hub in the benchmark's process"
    report(*results, f"{'PostgreSQL' if postgres else 'SQLite'}, {where}, {hub}", args.rate)


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
