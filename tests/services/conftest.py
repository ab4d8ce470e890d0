"""Service tests: logging bound to this test's output streams (structlog is process-global)."""

from __future__ import annotations

import pytest

from ehealth_hub.logs import configure_logging


@pytest.fixture(autouse=True)
def _logging() -> None:
    configure_logging("warning", json_output=True)
