"""Storage: the migrations run on SQLite and PostgreSQL and match the tables the code uses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, DateTime, Integer, String, insert, inspect, select
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table

from ehealth_hub.core.errors import StorageError
from ehealth_hub.delivery.outbox import utc
from ehealth_hub.store.db import create_engine, ping, upgrade
from ehealth_hub.store.tables import consents, hub_info, metadata


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


async def test_migration_0005_fills_the_consent_date_range_of_existing_consents(
    database_url: str,
) -> None:
    await upgrade(database_url, "0004")
    engine = create_engine(database_url)
    now = datetime.now(UTC)
    when = ("period_start", "period_end", "updated_at")
    before = sa_table(
        "consents",
        *(sa_column(c, String) for c in (*_CONSENT_0004, "resource")),
        sa_column("version", Integer),
        *(sa_column(c, DateTime(timezone=True)) for c in when),
    )
    rows = {"dated": {"dateTime": "2026-11-03"}, "undated": {}}
    async with engine.begin() as conn:
        for consent_id, extra in rows.items():
            values = dict.fromkeys(_CONSENT_0004, "x") | {"id": consent_id, "version": 1}
            values |= dict.fromkeys(when, now) | {"identifier": consent_id}
            await conn.execute(insert(before).values(**values, resource=json.dumps(extra)))
    await upgrade(database_url)
    query = select(consents.c.id, consents.c.date_start, consents.c.date_end)
    async with engine.connect() as conn:
        found = {r.id: (r.date_start, r.date_end) for r in await conn.execute(query)}
    await engine.dispose()
    start, end = found["dated"]
    assert utc(start) == datetime(2026, 11, 3, tzinfo=UTC)  # the whole day, UTC
    assert utc(end) == datetime(2026, 11, 4, tzinfo=UTC) - timedelta(microseconds=1)
    assert found["undated"] == (None, None)


_CONSENT_0004 = ("id", "patient_ssin", "actor_nihii", "status", "identifier")
"""The text columns of ``consents`` at revision 0004 (besides its resource)."""
