"""Delivery fixtures: a migrated database on both backends, a settable clock, a delivery engine."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.delivery.engine import DeliveryEngine
from ehealth_hub.delivery.metrics import DeliveryMetrics
from ehealth_hub.settings import DeliverySettings, RetryPolicySettings
from ehealth_hub.store.db import create_engine, upgrade
from tests.fakes.clock import ManualClock

Clock = ManualClock


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated database (SQLite and PostgreSQL) and its engine."""
    await upgrade(database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def pg_db(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated PostgreSQL database (for behaviour only PostgreSQL has, such as row locks)."""
    await upgrade(postgres_url)
    engine = create_engine(postgres_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


POLICY = RetryPolicySettings(
    base_delay_seconds=10,
    factor=2,
    max_delay_seconds=60,
    jitter=0.5,
    max_attempts=4,
    max_age_seconds=3600,
    breaker_failures=3,
    breaker_reset_seconds=30,
)


@pytest.fixture
def delivery(db: AsyncEngine, clock: Clock) -> DeliveryEngine:
    """An engine with a deterministic clock and random source (r = 0.5 every time)."""
    settings = DeliverySettings(default_policy=POLICY, lease_seconds=30, batch_size=10)
    return DeliveryEngine(
        settings, db, DeliveryMetrics(CollectorRegistry()), clock=clock, random_unit=lambda: 0.5
    )
