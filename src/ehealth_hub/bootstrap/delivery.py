"""Composition of the delivery layer (called by ``bootstrap.build_container`` only)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.delivery.engine import DeliveryEngine
from ehealth_hub.delivery.metrics import DeliveryMetrics
from ehealth_hub.delivery.webhook import WebhookDestination, WebhookSession
from ehealth_hub.settings import Settings


def build_delivery(
    settings: Settings, engine: AsyncEngine, registry: CollectorRegistry
) -> tuple[DeliveryEngine, WebhookSession | None]:
    """The engine with the configured webhook destinations (and their session, to close)."""
    delivery = DeliveryEngine(settings.delivery, engine, DeliveryMetrics(registry))
    session = None
    if settings.delivery.webhooks:
        session = WebhookSession(settings.delivery.concurrency)
        for name, url in settings.delivery.webhooks.items():
            delivery.register(name, WebhookDestination(name, url, session))
    return delivery, session


def runs_in_process_worker(settings: Settings) -> bool:
    """True when the API process should also deliver (default: SQLite databases only)."""
    chosen = settings.delivery.in_process_worker
    return chosen if chosen is not None else settings.database_url.startswith("sqlite")
