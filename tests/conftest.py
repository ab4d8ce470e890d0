"""Shared test fixtures: the network guard, databases on both backends, the app, the corpora.

* Network guard: tests may connect to loopback only (simulators run in-process or on 127.0.0.1);
  any other address fails the test at once.
* ``database_url``: a fresh, empty database per test, on SQLite and, when a PostgreSQL server is
  reachable (``EHEALTH_HUB_TEST_POSTGRES_URL``, default the local trust-auth server), on PostgreSQL:
  a throw-away database created for the test and dropped after it.
* ``shared_dir``: ``<repo>/../shared`` (the third-party corpora), or a skip when it is absent.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared").resolve()
POSTGRES_URL = os.environ.get(
    "EHEALTH_HUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("EHEALTH_HUB_REQUIRE_POSTGRES") == "1"

# --------------------------------------------------------------------------- network guard

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "testserver", "test", "hub"}


def _is_local(host: Any) -> bool:
    if host is None or host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _guard(address: Any) -> None:
    if isinstance(address, tuple) and not _is_local(address[0]):
        raise ConnectionRefusedError(f"tests may not reach the network: {address[0]}")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _guard(address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _guard(address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if isinstance(host, bytes):
        host = host.decode()
    if not _is_local(host):
        raise socket.gaierror(f"tests may not resolve non-local names: {host}")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def _no_network() -> Iterator[None]:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _real_getaddrinfo


# --------------------------------------------------------------------------- corpora


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The third-party corpora beside the repository; skip when they are absent."""
    if not SHARED.is_dir():
        pytest.skip(f"third-party corpora not present at {SHARED}")
    return SHARED


# --------------------------------------------------------------------------- databases


async def _postgres_available() -> bool:
    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A throw-away PostgreSQL database, dropped after the test."""
    if not await _postgres_available():
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL required (EHEALTH_HUB_REQUIRE_POSTGRES=1) at {POSTGRES_URL}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL}")
    name = f"ehub_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file for the test."""
    return f"sqlite:///{tmp_path / 'hub.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on each backend (the test runs once per backend)."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture(scope="session")
def sandbox_pki(request: pytest.FixtureRequest) -> Any:
    """The sandbox PKI (trust layer), derived once into pytest's cache dir and reused afterwards
    (deterministic from the seed, so concurrent sessions write identical files)."""
    from ehealth_hub.fixtures.pki import SandboxPki

    return SandboxPki.load_or_create(request.config.cache.mkdir("sandbox-pki"))
