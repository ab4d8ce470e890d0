"""FHIR builders: deterministic ids identical to uuid5."""

from __future__ import annotations

import uuid

import pytest

from ehealth_hub.fhir.builders import HUB_NAMESPACE, uuid5_ids


@pytest.mark.parametrize("seed", ["patient", "tx0/item12", "é/ü", ""])
def test_id_factory_gives_exactly_uuid5(seed: str) -> None:
    base = uuid.uuid5(HUB_NAMESPACE, "ns")
    assert uuid5_ids("ns")(seed) == str(uuid.uuid5(base, seed))


def test_id_factories_of_different_namespaces_differ() -> None:
    assert uuid5_ids("a")("patient") != uuid5_ids("b")("patient")
