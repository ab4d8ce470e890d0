"""Fixtures of the mapping tests: a fixed clock, deterministic ids, the KMEHR 1.38 schema."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from ehealth_hub.fhir.builders import IdFactory, uuid5_ids

XSD = Path("kmehr-corpus/kmehr-emf/model/ehealth-kmehr/XSD/kmehr_elements-1_38.xsd")
GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def now() -> datetime:
    """The fixed instant every mapping test runs at."""
    return datetime(2026, 11, 20, 9, 45, tzinfo=UTC)


@pytest.fixture
def ids() -> IdFactory:
    """Deterministic ids (uuid5 over the seed)."""
    return uuid5_ids("tests")


@pytest.fixture(scope="session")
def corpus(shared_dir: Path) -> Path:
    """The KMEHR corpus folder (skips when absent)."""
    path = shared_dir / "kmehr-corpus"
    if not path.is_dir():
        pytest.skip("kmehr-corpus not present")
    return path


@pytest.fixture(scope="session")
def kmehr_schema(shared_dir: Path) -> etree.XMLSchema:
    """The KMEHR 1.38 XSD, loaded in place from the corpus (trusted, local files only)."""
    path = shared_dir / XSD
    if not path.is_file():
        pytest.skip("KMEHR 1.38 XSD not present")
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(path), parser))
