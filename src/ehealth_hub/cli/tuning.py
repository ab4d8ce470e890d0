"""Garbage-collector settings of the hub's processes, chosen once by their entry points.

Library code never touches the collector (a process-wide setting); the commands that own their
process call one of these before they start working.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

SERVER_YOUNG_GENERATION: Final = 5_000
"""Allocations between two collections of the youngest generation (CPython's default: 700)."""

BATCH_THRESHOLDS: Final = (100_000, 50, 100)
"""(young, middle, old) thresholds of a one-shot batch (``ehealth-hub translate``)."""


def for_server() -> None:
    """Garbage collection for a long-running process (``serve``, ``worker``), called once its
    long-lived objects (the container, the loaded modules) are built.

    Why: a read allocates thousands of short-lived dicts (FHIR JSON), and with CPython's
    defaults the full collections walked every long-lived object (the container, the loaded
    modules): a p99 of 107 ms against 17 ms without collections (benchmarks/api.py, 1 client).
    Freezing moves what start-up built out of the collector's reach (it lives as long as the
    process). The young threshold trades pause length for frequency: at 50,000 a young
    collection paused the event loop 30-77 ms; at 5,000 the longest pause is ~7 ms and there
    are a tenth as many as at 700. Reference counting still frees acyclic garbage at once.
    Not for tests or short commands: frozen objects are never collected.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(SERVER_YOUNG_GENERATION, middle, old)


@contextmanager
def for_batch() -> Iterator[None]:
    """Garbage collection while a one-shot batch builds large trees (``ehealth-hub translate``;
    ``benchmarks/translate.py`` measures with it); the previous thresholds come back after.

    Why: translating a KMEHR export keeps every parsed element and every FHIR dict alive until
    the Bundle is written, so CPython's young collections (every 700 allocations) and the full
    collections they trigger walk an ever-growing heap and find almost nothing to free. With
    these thresholds the TTC-1000 translation takes 1.1 s of CPU instead of 1.8 s (-38%,
    best of 3, same process); pauses do not matter to a batch. Nothing is frozen, and the
    thresholds are restored on the way out (a test running the command in its own process keeps
    its own settings).
    """
    before = gc.get_threshold()
    gc.set_threshold(*BATCH_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
