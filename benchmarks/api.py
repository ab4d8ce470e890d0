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

``--simulators process`` serves the simulators from a child process (uvicorn on a loopback port
chosen by the OS) instead of the hub's event loop: the hub's sandbox httpx client then speaks real
HTTP to them; a read's simulators' time is the wait for each answer's headers, and their CPU is
the child's process CPU over the phase (asked at ``/_bench/cpu``) divided by the reads.

The simulators run on the hub's own event loop and take CPU from it, so the CPU time is accounted
too: the middleware adds each simulator request's thread CPU time to its read, and the process CPU
time of each phase (all threads: the loop, aiosqlite's thread) minus the simulators' share is the
hub's own CPU per read, the figure that bounds the reads/s of one hub process per core.

Targets (issue 9): >= 200 reads/s and p99 overhead <= 25 ms with 50 concurrent clients.
Run: ``python -m benchmarks.api [--database postgresql://postgres@127.0.0.1:5432/NAME]`` (< 60 s
after the first run, which derives the sandbox PKI into ``var/bench/pki``). Default: a temporary
SQLite file. With a PostgreSQL URL the database NAME must not exist: the benchmark creates it and
drops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import multiprocessing
import os
import socket
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from ehealth_hub.api import create_app
from ehealth_hub.auth.setup import token_endpoint
from ehealth_hub.bootstrap import Container
from ehealth_hub.connectors.network import LIMITS, NetworkTransport
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consult_app import SandboxApp
from ehealth_hub.fixtures.consultation import consultation_consent
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
    simulators_cpu: float = 0.0
    calls: int = 0
    waits: list[tuple[float, float]] = field(default_factory=list)
    """Remote simulators: (sent, answered) of each call; concurrent calls overlap."""

    def waited(self) -> float:
        """How long at least one remote simulator call was pending (union of the waits)."""
        total, end = 0.0, float("-inf")
        for start, stop in sorted(self.waits):
            if stop > end:
                total += stop - max(start, end)
                end = stop
        return total


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

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    phase.elapsed = time.perf_counter() - started
    phase.cpu = time.process_time() - cpu
    return phase


class RemoteSimulators(httpx.AsyncBaseTransport):
    """Sends the sandbox client's requests to the simulators' process over loopback HTTP and
    adds the wait for each answer to the read that caused it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.inner = NetworkTransport(limits=LIMITS)  # the hub's network client, as in production

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        started = time.perf_counter()
        try:
            return await self.inner.handle_async_request(request)
        finally:
            read = CURRENT.get()
            if read is not None:
                read.waits.append((started, time.perf_counter()))
                read.simulators = read.waited()
                read.calls += 1

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def cpu(self) -> float:
        """The simulators' process CPU time so far."""
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"http://127.0.0.1:{self.port}/_bench/cpu")
            return float(answer.text)


def loopback_listener() -> socket.socket:
    """A listening socket on a free loopback port, made with protocol IPPROTO_TCP explicitly.

    Why: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose ``proto`` is IPPROTO_TCP,
    and ``socket.create_server`` leaves it 0; the connections accepted from such a socket wait
    for the peer's delayed ACK on every response (44 ms per request here instead of 0.5 ms).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock


def serve_simulators(pki_dir: Path, sock: socket.socket) -> None:
    """The child process: every simulator, plus ``GET /_bench/cpu``, on ``sock``."""
    import uvicorn
    from starlette.responses import PlainTextResponse

    from ehealth_hub.fixtures.pki import SandboxPki
    from ehealth_hub.fixtures.simulate import build_simulators

    simulators = build_simulators(
        SandboxPki.load_or_create(pki_dir), clock=lambda: datetime.now(UTC)
    )

    async def cpu(_request: object) -> PlainTextResponse:
        return PlainTextResponse(repr(time.process_time()))

    simulators.app.add_route("/_bench/cpu", cpu)
    config = uvicorn.Config(simulators.app, log_level="error", lifespan="off", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


async def prepare(
    container: Container, http: httpx.AsyncClient, remote: RemoteSimulators | None
) -> None:
    """Build the connectors, time the simulators (in-process or remote), wait until ready."""
    assert container.connectors is not None
    await container.connectors.get()
    if remote is None:
        container.connectors.simulators.app.add_middleware(SimulatorTimer)
    else:
        assert container.connectors.http is not None
        assert container.connectors.http.sandbox is not None
        # the benchmark re-points the sandbox client; httpx has no public setter for it
        container.connectors.http.sandbox._transport = remote
    for _ in range(240):
        if (await http.get("/health/ready")).status_code == 200:
            return
        await asyncio.sleep(0.25)
    raise RuntimeError("the sandbox hub did not become ready")


async def run(
    database_url: str, data_dir: Path, remote: RemoteSimulators | None
) -> tuple[Phase, Phase]:
    """The warm-up, sequential and concurrent phases against a fresh hub on ``database_url``."""
    settings = load_settings(
        database_url=database_url,
        data_dir=data_dir,
        trust={"pki_dir": PKI_DIR},
        log={"level": "error", "json_output": True},
    )
    hub = create_app(settings, server=True)  # as `ehealth-hub serve` runs it
    async with hub.router.lifespan_context(hub):
        transport = httpx.ASGITransport(app=hub)
        limits = httpx.Limits(max_connections=None)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://hub", limits=limits
        ) as http:
            await prepare(hub.state.container, http, remote)
            sarah, an = sandbox.practitioner("sarah"), sandbox.patient("an")
            app = SandboxApp(http, "consult-app", token_endpoint(settings), sarah.nihii)
            consent = consultation_consent(an, sarah, start=datetime.now(UTC), minutes=120)
            assert (await app.post("/fhir/Consent", consent)).status_code == 201
            warm = Phase()
            for _ in range(10):
                await one_read(app, an.ssin, warm)
            sequential = Phase()
            sim_cpu = await remote.cpu() if remote else 0.0
            started, cpu = time.perf_counter(), time.process_time()
            for _ in range(SEQUENTIAL):
                await one_read(app, an.ssin, sequential)
            sequential.elapsed = time.perf_counter() - started
            sequential.cpu = time.process_time() - cpu
            if remote is not None:
                sequential.remote_cpu = await remote.cpu() - sim_cpu
                sim_cpu = await remote.cpu()
            loaded = await concurrent(app, an.ssin, SECONDS)
            if remote is not None:
                loaded.remote_cpu = await remote.cpu() - sim_cpu
    return sequential, loaded


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


def report(sequential: Phase, loaded: Phase, backend: str) -> None:
    # in-process, the simulators' calls run one after the other on the loop: their summed time
    # bounds reads/s; in their own process they serve concurrently, bounded by their CPU
    remote = sequential.remote_cpu is not None
    floor = (
        sequential.sim_cpu() if remote else statistics.mean(r.simulators for r in sequential.reads)
    )
    calls = statistics.mean(r.calls for r in sequential.reads)
    print(
        f"{backend}: simulator calls per read: {calls:.0f}; floor (simulators alone): "
        f"{1 / floor:,.1f} reads/s; hub CPU per read (1 client): "
        f"{sequential.hub_cpu() * 1000:.1f} ms -> at most {1 / sequential.hub_cpu():,.0f} "
        "reads/s per core without the simulators"
    )
    print(
        "| phase | reads/s | p50 ms | p95 ms | p99 ms | overhead p50 ms | overhead p99 ms "
        "| simulators ms/read | simulators CPU ms/read | hub CPU ms/read | failures |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(sequential.line("1 client"))
    print(loaded.line(f"{CLIENTS} clients"))
    rate = len(loaded.reads) / loaded.elapsed
    print(f"ratio to floor (reads/s vs simulators alone): {rate * floor:.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database", help="postgresql://.../NAME (created and dropped)")
    parser.add_argument("--simulators", choices=("in-process", "process"), default="in-process")
    args = parser.parse_args()
    child, remote = None, None
    if args.simulators == "process":
        sock = loopback_listener()
        child = multiprocessing.get_context("spawn").Process(
            target=serve_simulators, args=(PKI_DIR, sock), daemon=True
        )
        child.start()
        remote = RemoteSimulators(sock.getsockname()[1])
        await wait_for(remote)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{tmp}/hub.db"
        postgres = url.startswith("postgresql")
        if postgres:
            await postgres_database(url, create=True)
        try:
            sequential, loaded = await run(url, Path(tmp) / "var", remote)
        finally:
            if postgres:
                await postgres_database(url, create=False)
            if child is not None:
                child.terminate()
                child.join()
    where = "simulators in their own process" if remote else "simulators in-process"
    report(sequential, loaded, f"{'PostgreSQL' if postgres else 'SQLite'}, {where}")


async def wait_for(remote: RemoteSimulators) -> None:
    """Until the simulators' process answers."""
    for _ in range(240):
        try:
            await remote.cpu()
            return
        except httpx.TransportError:
            await asyncio.sleep(0.25)
    raise RuntimeError("the simulators' process did not start")


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
