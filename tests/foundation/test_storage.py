"""Storage: the migrations run on SQLite and PostgreSQL and match the tables the code uses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, insert, inspect, select

from ehealth_hub.core.errors import StorageError
from ehealth_hub.store.db import create_engine, ping, upgrade
from ehealth_hub.store.tables import hub_info, metadata


async def test_migrations_create_every_table(database_url: str) -> None:
    await upgrade(database_url)
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    assert set(metadata.tables) <= names


async def test_migrations_match_the_table_definitions(database_url: str) -> None:
    await upgrade(database_url)
    engine = create_engine(database_url)

    def diff(conn: Connection) -> list[object]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
    await engine.dispose()
    assert differences == []


async def test_upgrade_twice_is_harmless_and_keeps_data(database_url: str) -> None:
    await upgrade(database_url)
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            insert(hub_info).values(key="k", value="v", updated_at=datetime.now(UTC))
        )
    await upgrade(database_url)
    async with engine.connect() as conn:
        assert (await conn.execute(select(hub_info.c.value))).scalar_one() == "v"
    await engine.dispose()


async def test_ping_reports_an_unreachable_database_as_storage_error() -> None:
    engine = create_engine("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(StorageError, match="unreachable"):
        await ping(engine)
    await engine.dispose()
