"""Nothing in a KMEHR message is lost silently: an item either maps with its value, or the part
that does not map is named in an OperationOutcome (warning) attached to the Bundle, and
``ehealth-hub translate --strict`` then fails."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ehealth_hub.cli import app
from ehealth_hub.fhir.builders import IdFactory
from ehealth_hub.fhir.bundle import validate_bundle
from ehealth_hub.mappings.kmehr_outcome import warnings_of
from ehealth_hub.mappings.kmehr_to_fhir import translate_kmehr
from tests.mappings._support import kmehr_doc, only

WEIGHT = """
<item><id S="ID-KMEHR" SV="1.0">1</id><cd S="CD-ITEM" SV="1.11">parameter</cd>
  <cd S="CD-PARAMETER" SV="1.0">weight</cd>
  <content><decimal>64</decimal><unit><cd S="CD-UNIT" SV="1.0">kg</cd></unit></content>
  <beginmoment><date>2026-05-02</date></beginmoment></item>
"""
UNMAPPED = """
<item><id S="ID-KMEHR" SV="1.0">1</id><cd S="CD-ITEM" SV="1.11">encountertype</cd>
  <content><date>2026-05-02</date></content></item>
"""


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")


def test_a_weight_parameter_becomes_a_loinc_observation_with_its_value_in_ucum(
    now: datetime, ids: IdFactory
) -> None:
    bundle = translate_kmehr(kmehr_doc(WEIGHT), now=now, new_id=ids)
    observation = only(bundle, "Observation")
    assert observation["valueQuantity"] == {
        "value": 64,
        "unit": "kg",
        "system": "http://unitsofmeasure.org",
        "code": "kg",
    }
    codings = observation["code"]["coding"]
    assert codings[0]["system"] == "http://loinc.org"
    assert codings[0]["code"] == "29463-7"
    assert codings[1]["code"] == "weight"
    assert warnings_of(bundle) == []
    validate_bundle(bundle)


def test_item_content_the_hub_cannot_map_is_named_in_an_operation_outcome(
    now: datetime, ids: IdFactory
) -> None:
    bundle = translate_kmehr(kmehr_doc(UNMAPPED), now=now, new_id=ids)
    (warning,) = warnings_of(bundle)
    assert "encountertype item: date is not mapped" in warning["details"]["text"]
    assert warning["expression"][0].startswith("/kmehrmessage/folder/transaction/item/content/date")
    assert bundle["entry"][-1]["resource"]["resourceType"] == "OperationOutcome"
    validate_bundle(bundle)


def _write(tmp_path: Path, items: str) -> Path:
    path = tmp_path / "in.kmehr"
    path.write_bytes(kmehr_doc(items))
    return path


def test_translate_strict_fails_when_a_translation_warns(tmp_path: Path) -> None:
    source = _write(tmp_path, UNMAPPED)
    lenient = CliRunner().invoke(app, ["translate", str(source), "-o", str(tmp_path / "a")])
    assert lenient.exit_code == 0, lenient.output
    assert "1 warning(s)" in lenient.output
    strict = CliRunner().invoke(
        app, ["translate", "--strict", str(source), "-o", str(tmp_path / "b")]
    )
    assert strict.exit_code == 1, strict.output
    assert "observation.content" in strict.output
    bundle = json.loads((tmp_path / "b" / "in.json").read_text(encoding="utf-8"))
    assert len(warnings_of(bundle)) == 1


def test_translate_strict_passes_a_fully_mapped_message(tmp_path: Path) -> None:
    source = _write(tmp_path, WEIGHT)
    result = CliRunner().invoke(app, ["translate", "--strict", str(source), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
