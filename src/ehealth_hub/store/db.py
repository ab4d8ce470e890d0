"""Engine factory and migrations for SQLite (default) and PostgreSQL.

SQLAlchemy 2.0 async (aiosqlite, asyncpg). The same Alembic migrations run on both backends;
``upgrade`` runs them in a worker thread because Alembic's command API is synchronous and its
``env.py`` drives the async engine with its own event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ehealth_hub.core.errors import StorageError
from ehealth_hub.settings import normalise_database_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout."""
    url = normalise_database_url(url)
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(url: str) -> Config:
    """The Alembic configuration for ``url`` (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalise_database_url(url).replace("%", "%%"))
    return config


async def upgrade(url: str, revision: str = "head") -> None:
    """Apply the migrations up to ``revision``; raises StorageError when the database refuses."""
    if normalise_database_url(url).startswith("sqlite"):
        _ensure_sqlite_dir(normalise_database_url(url))
    try:
        await asyncio.to_thread(command.upgrade, alembic_config(url), revision)
    except (SQLAlchemyError, OSError) as exc:
        raise StorageError(
            f"migration failed: {type(exc).__name__}", system="database", operation="upgrade"
        ) from exc


async def ping(engine: AsyncEngine) -> None:
    """One round trip to the database; raises StorageError when it does not answer."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        raise StorageError(
            f"database unreachable: {type(exc).__name__}", system="database", operation="ping"
        ) from exc


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside one transaction, committed on success, rolled back on error."""
    async with engine.begin() as conn:
        yield conn
