"""The clock tests move by hand (one class; each suite picks its start)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


@dataclass
class ManualClock:
    """Answers ``now`` until a test moves it with :meth:`advance`."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 24, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta | float) -> None:
        """Move forward by ``delta`` (a timedelta, or seconds)."""
        self.now += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
