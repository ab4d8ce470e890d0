"""The processes of ``benchmarks/api.py``: the simulators' process and, with ``--hub-workers``,
the hub served by ``ehealth-hub serve --workers N`` as in production; loopback sockets; CPU time
of a process tree (Linux ``/proc``)."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from ehealth_hub.settings import load_settings

SOAP_ENDPOINTS = ("consent", "therlink", "addressbook", "ehbox_publication", "ehbox_consultation")


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


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its living descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            kids = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
        todo.extend(int(k) for k in kids)
    return total


def serve_simulators(pki_dir: Path, sock: socket.socket) -> None:
    """The simulators' process: every simulator on ``sock``."""
    import uvicorn

    from ehealth_hub.fixtures.pki import SandboxPki
    from ehealth_hub.fixtures.simulate import build_simulators

    simulators = build_simulators(
        SandboxPki.load_or_create(pki_dir), clock=lambda: datetime.now(UTC)
    )
    config = uvicorn.Config(simulators.app, log_level="error", lifespan="off", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


class RemoteSimulators:
    """The simulators in their own process, reached as the real systems are: the hub's
    endpoints point at the process's loopback port and its network client calls them."""

    def __init__(self, pki_dir: Path) -> None:
        self.pki_dir = pki_dir
        sock = loopback_listener()
        self.port = sock.getsockname()[1]
        self.process = multiprocessing.get_context("spawn").Process(
            target=serve_simulators, args=(pki_dir, sock), daemon=True
        )
        self.process.start()

    def url(self, sandbox_url: str) -> str:
        """``sandbox_url`` with the simulators' process as host (the paths are the same)."""
        return str(
            httpx.URL(sandbox_url).copy_with(scheme="http", host="127.0.0.1", port=self.port)
        )

    def settings(self) -> dict[str, Any]:
        """Settings overrides pointing every endpoint at the simulators' process."""
        defaults = load_settings()
        ends = defaults.endpoints
        gps = {
            k: {**gp.model_dump(), "base_url": self.url(gp.base_url), "token_url": self.url(t)}
            for k, gp in ends.gp_systems.items()
            if (t := gp.token_url)
        }
        return {
            "endpoints": {
                **{n: self.url(getattr(ends, n)) for n in SOAP_ENDPOINTS},
                "hubs": {k: self.url(v) for k, v in ends.hubs.items()},
                "gp_systems": gps,
            },
            "trust": {
                "pki_dir": str(self.pki_dir),
                "sts_url": self.url(defaults.trust.sts_url),
                "etkdepot_url": self.url(defaults.trust.etkdepot_url),
            },
        }

    def cpu(self) -> float:
        """The simulators' process CPU seconds so far."""
        assert self.process.pid is not None
        return tree_cpu(self.process.pid)

    async def ready(self) -> None:
        """Until the simulators' process answers."""
        await _until_up(f"http://127.0.0.1:{self.port}/")

    def stop(self) -> None:
        self.process.terminate()
        self.process.join()


class ServedHub:
    """``ehealth-hub serve --workers N`` on a loopback port, configured through the environment
    (one JSON value per settings section), as an operator would run it."""

    def __init__(self, workers: int, settings: dict[str, Any]) -> None:
        with loopback_listener() as probe:
            self.port = probe.getsockname()[1]
        env = {**os.environ, **{f"EHEALTH_HUB_{k.upper()}": _env(v) for k, v in settings.items()}}
        env["EHEALTH_HUB_API"] = json.dumps(
            {"port": self.port, "public_base_url": self.base_url, "workers": workers}
        )
        command = [sys.executable, "-m", "ehealth_hub", "serve"]
        self.process = subprocess.Popen(command, env=env, start_new_session=True)  # noqa: S603 - our own CLI

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu(self) -> float:
        """CPU seconds of the serving processes (the supervisor and its workers) so far."""
        return tree_cpu(self.process.pid)

    async def ready(self) -> None:
        await _until_up(f"{self.base_url}/health/live")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _env(value: Any) -> str:
    return json.dumps(value, default=str) if isinstance(value, dict) else str(value)


async def _until_up(url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(480):
            try:
                await client.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.25)
    raise RuntimeError(f"{url} did not come up")
