"""Golden files of our own making: a sandbox Sumehr and a consultation note, in and out.

Regenerate after an intended mapping change with ``python -m tests.mappings.test_golden`` and
review the diff of tests/mappings/golden/.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from ehealth_hub.fhir.builders import uuid5_ids
from ehealth_hub.fixtures import kmehr_samples as ks
from ehealth_hub.fixtures import sandbox
from ehealth_hub.mappings.kmehr_to_fhir import translate_kmehr
from ehealth_hub.mappings.note_to_kmehr import note_to_kmehr

GOLDEN = Path(__file__).parent / "golden"
NOW = datetime(2026, 11, 20, 9, 45, tzinfo=UTC)


def _sumehr_input() -> bytes:
    patient = ks.person_from_sandbox(sandbox.patient("an"))
    author = ks.party_from_sandbox(sandbox.practitioner("jan"))
    return ks.sumehr(patient, author, now=NOW)


def _sumehr_output(kmehr: bytes) -> str:
    bundle = translate_kmehr(kmehr, now=NOW, new_id=uuid5_ids("golden"))
    return json.dumps(bundle, ensure_ascii=False, indent=1) + "\n"


def _note_output(note: bytes) -> bytes:
    return note_to_kmehr(json.loads(note), now=NOW, new_id=uuid5_ids("golden"))


def test_sandbox_sumehr_generator_matches_its_golden_input() -> None:
    assert _sumehr_input() == (GOLDEN / "sumehr_an.kmehr").read_bytes()


def test_sumehr_maps_to_its_golden_bundle() -> None:
    kmehr = (GOLDEN / "sumehr_an.kmehr").read_bytes()
    assert _sumehr_output(kmehr) == (GOLDEN / "sumehr_an.json").read_text(encoding="utf-8")


def test_consultation_note_maps_to_its_golden_kmehr() -> None:
    note = (GOLDEN / "note_an.json").read_bytes()
    assert _note_output(note) == (GOLDEN / "note_an.xml").read_bytes()


if __name__ == "__main__":
    (GOLDEN / "sumehr_an.kmehr").write_bytes(_sumehr_input())
    (GOLDEN / "sumehr_an.json").write_text(_sumehr_output(_sumehr_input()), encoding="utf-8")
    (GOLDEN / "note_an.xml").write_bytes(_note_output((GOLDEN / "note_an.json").read_bytes()))
