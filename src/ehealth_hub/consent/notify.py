"""Revocations carried to every API process: PostgreSQL LISTEN/NOTIFY on ``ehealth_hub_consent``.

PostgreSQL 16 docs, "NOTIFY": a notification issued inside a transaction is delivered to the
listeners only when that transaction commits (and never if it rolls back), so
:func:`notify_revocation` runs in the revocation's own transaction. The payload is the patient's
:func:`~ehealth_hub.consent.cache.patient_tag` (a hash, never the SSIN in clear); each process maps
it back to its cached decisions.

:class:`RevocationListener` holds one asyncpg connection (``LISTEN``), checks it every
``check_interval`` seconds, and reconnects with exponential backoff when it drops. While it is not
listening, the decision cache is suspended (every lookup misses: fail closed), and it restarts
empty, so a notification missed during the gap cannot extend a revoked permit.

SQLite: the hub runs as one process by design; :func:`notify_revocation` does nothing there and no
listener is started (the in-process invalidation in the API suffices).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Final

import asyncpg
import structlog
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from ehealth_hub.consent.cache import DecisionCache, patient_tag
from ehealth_hub.settings import normalise_database_url

log = structlog.get_logger(__name__)

CHANNEL: Final = "ehealth_hub_consent"
APPLICATION_NAME: Final = "ehealth-hub-consent-listener"
LISTENER_ERRORS: Final = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
"""What a lost or refused listening connection raises (asyncpg, socket, timeout)."""


async def notify_revocation(conn: AsyncConnection, patient_ssin: str) -> None:
    """Tell every process, when ``conn``'s transaction commits, that the patient's consents
    changed (PostgreSQL only)."""
    if conn.dialect.name != "postgresql":
        return
    await conn.execute(
        text("SELECT pg_notify(:channel, :tag)"),
        {"channel": CHANNEL, "tag": patient_tag(patient_ssin)},
    )


def asyncpg_dsn(database_url: str) -> str | None:
    """The plain ``postgresql://`` DSN asyncpg takes, or None for a SQLite URL."""
    url = make_url(normalise_database_url(database_url))
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class RevocationListener:
    """LISTENs for revocations and drops the matching cached decisions of this process."""

    def __init__(
        self,
        dsn: str,
        cache: DecisionCache,
        *,
        check_interval: float = 5.0,
        min_backoff: float = 0.2,
        max_backoff: float = 10.0,
    ) -> None:
        self._dsn = dsn
        self._cache = cache
        self._check_interval = check_interval
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        """Set while LISTEN is in force (the cache serves only then)."""
        self.connections = 0
        """How many times LISTEN was established (1 + reconnections)."""
        cache.suspend()

    def start(self) -> None:
        """Start listening in the background (reconnecting until :meth:`stop`)."""
        self._task = asyncio.create_task(self._run(), name="consent-revocations")

    async def stop(self) -> None:
        """Stop listening; the cache stays suspended."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):  # the cancellation we asked for
                await self._task
            self._task = None

    async def _run(self) -> None:
        backoff = self._min_backoff
        while True:
            try:
                await self._listen_once()
                backoff = self._min_backoff
            except LISTENER_ERRORS as exc:
                log.warning("consent_listener_down", error=type(exc).__name__, retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)

    async def _listen_once(self) -> None:
        conn = await asyncpg.connect(
            self._dsn, timeout=5, server_settings={"application_name": APPLICATION_NAME}
        )
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            await conn.add_listener(CHANNEL, self._on_notification)
            self._cache.resume()
            self.connections += 1
            self.listening.set()
            log.info("consent_listener_up", channel=CHANNEL)
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):  # quiet: time to check the connection
                    await asyncio.wait_for(lost.wait(), self._check_interval)
                if not lost.is_set():
                    await conn.fetchval("SELECT 1", timeout=self._check_interval)
            raise ConnectionResetError("the listening connection was closed")
        finally:
            self.listening.clear()
            self._cache.suspend()
            conn.terminate()

    def _on_notification(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        dropped = self._cache.invalidate_tag(payload)
        log.info("consent_cache_invalidated", source="notification", dropped=dropped)
